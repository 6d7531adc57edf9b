#!/bin/bash
echo "plain pass"
