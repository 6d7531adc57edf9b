#!/bin/bash
# svs-timeout: 3
echo "sleeping past my timeout"
sleep 100
