#!/bin/sh
# deps.sh — install the Debian 12 packages mailtun needs to build, test and run its lab.
#
#   tests/deps.sh                 install what is missing (idempotent; one line if nothing is)
#   tests/deps.sh --missing       print the missing ones and exit 1 if there are any
#                                 (the Makefile asks this before every goal that builds)
#   tests/deps.sh --group NAME    print one group (build|fuzz|test|lab|packaging), one a line
#   tests/deps.sh --list          print every group's packages, one a line
#
# Every package here has its reason in README's "Dependencies and why"
# (tests/host/deps_listed.sh fails when the two lists differ).
set -eu

# build: compiler side and libraries (see README, "Dependencies", for why each one is here).
# debian/control's Build-Depends are this list without build-essential (tests/host/deb_builddeps.sh).
BUILD="build-essential pkg-config ppp-dev libnl-3-dev libnl-route-3-dev libssl-dev libpcap-dev
       libevent-dev libinih-dev libcmocka-dev"
# fuzzing and sanitizer runtimes
FUZZ="clang libclang-rt-14-dev"
# tests: real peers and tools
TEST="postfix swaks libnet-ssleay-perl openssl iproute2 kmod tcpdump python3 sasl2-bin libsasl2-modules"
# lab: a kernel with PPP, the provider's real PPTP server, a carrier NAT (iptables), IKE (strongSwan)
LAB="user-mode-linux ppp pptpd pptp-linux xl2tpd busybox-static iptables e2fsprogs
     strongswan-charon strongswan-swanctl libstrongswan-standard-plugins libstrongswan-extra-plugins
     strongswan-pki"
# packages: make deb (dpkg-buildpackage, debhelper), lintian, and make deb-check's fresh root
PACKAGING="debhelper dpkg-dev fakeroot lintian mmdebstrap"

# --group NAME prints one group's packages, one a line (for checks that compare lists).
if [ "${1:-}" = "--group" ]; then
    case ${2:-} in
    build) list=$BUILD;; fuzz) list=$FUZZ;; test) list=$TEST;; lab) list=$LAB;; packaging) list=$PACKAGING;;
    *) echo "deps.sh: unknown group '${2:-}' (build, fuzz, test, lab, packaging)" >&2; exit 2;;
    esac
    for p in $list; do echo "$p"; done
    exit 0
fi
if [ "${1:-}" = "--list" ]; then
    for p in $BUILD $FUZZ $TEST $LAB $PACKAGING; do echo "$p"; done
    exit 0
fi

missing=""
for p in $BUILD $FUZZ $TEST $LAB $PACKAGING; do
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
apt-get -o DPkg::Lock::Timeout=600 install -y -qq --no-install-recommends $missing
