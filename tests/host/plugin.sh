#!/bin/bash
# plugin.sh — mailtun.so loaded into a stub pppd against a scripted mailtund (no PPP kernel
# needed): the IPC sequence, the grep-able log lines, and a clean end when mailtund vanishes.
# The plugin with a real pppd and kernel PPTP socket runs in the lab scenarios.
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
B=${B:-build}
case $B in build-san*) echo "skip: the plugin is not built with sanitizers (it lives in pppd)"; exit 77;; esac
exec bash "$ROOT/pppd-plugin/test/run.sh" "$B"
