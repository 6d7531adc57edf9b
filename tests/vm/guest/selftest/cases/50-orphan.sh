#!/bin/bash
# Leaves a process holding stdout/stderr: the runner must not wait for it.
sleep 1000 &
echo "left sleep $! behind"
