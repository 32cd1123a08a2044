#!/bin/sh
# deps.sh — install the Debian 12 packages mailtun needs to build, test and run its lab.
# Idempotent: asks apt only for what is missing. `--missing` lists the missing ones and exits 1
# if there are any (the Makefile uses it to decide whether `make check` must call `make deps`).
set -eu

# build: compiler side and libraries (see README, "Dependencies", for why each one is here)
BUILD="build-essential pkg-config ppp-dev libnl-3-dev libnl-route-3-dev libssl-dev libpcap-dev
       libevent-dev libinih-dev libcmocka-dev clang libclang-rt-14-dev"
# tests: real peers and tools
TEST="postfix swaks openssl iproute2 kmod tcpdump python3 sasl2-bin libsasl2-modules"
# lab: a kernel with PPP, and the provider's real PPTP server
LAB="user-mode-linux ppp pptpd pptp-linux busybox-static"

missing=""
for p in $BUILD $TEST $LAB; do
    dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done

if [ "${1:-}" = "--missing" ]; then
    [ -z "$missing" ] && exit 0
    echo "missing:$missing"; exit 1
fi
[ -z "$missing" ] && { echo "deps: all packages present"; exit 0; }

if [ "$(id -u)" != 0 ]; then
    echo "deps: need root to install:$missing" >&2; exit 1
fi
echo "deps: installing:$missing"
export DEBIAN_FRONTEND=noninteractive
# Postfix must not start a system-wide instance or ask questions: tests run their own instances.
echo "postfix postfix/main_mailer_type select No configuration" | debconf-set-selections
apt-get update -qq
# shellcheck disable=SC2086
apt-get install -y -qq --no-install-recommends $missing
