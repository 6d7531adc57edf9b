#!/bin/bash
# A fake kernel warning: dmesg-clean must catch it.
echo "WARNING: harness selftest fake warning" > /dev/kmsg
