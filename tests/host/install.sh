#!/bin/bash
# install.sh — `make install` into a DESTDIR lays out everything where a Debian admin
# expects it, units point at the installed binaries, an existing config is kept, and
# `make uninstall` leaves configuration and spool alone.
set -u
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
D=$(mktemp -d /tmp/mailtun-install.XXXXXX)
trap 'rm -rf "$D"' EXIT
fail() { echo "FAIL: $*"; exit 1; }
cd "$ROOT" || exit 1
B=${B:-build}
case $B in build-san*) echo "skip: install test runs on the normal build"; exit 77;; esac
make --no-print-directory install DESTDIR="$D" PREFIX=/usr >"$D.log" 2>&1 || { cat "$D.log"; rm -f "$D.log"; fail "make install"; }
rm -f "$D.log"
ver=$(sed -n 's/^#define VERSION[[:space:]]*"\(.*\)"/\1/p' /usr/include/pppd/patchlevel.h)
for f in usr/sbin/mailtund usr/sbin/mailrelayd usr/sbin/mailtunctl "usr/lib/pppd/$ver/mailtun.so" \
         etc/mailtun/mailtun.conf etc/mailtun/pppd-options lib/systemd/system/mailtund.service \
         lib/systemd/system/mailrelayd.service usr/share/man/man5/mailtun.conf.5 \
         usr/share/man/man8/mailtund.8 usr/share/man/man8/mailrelayd.8 usr/share/man/man8/mailtunctl.8 \
         etc/logrotate.d/mailtun var/spool/mailtun; do
    [ -e "$D/$f" ] || fail "missing after install: /$f"
done
[ -x "$D/usr/sbin/mailtund" ] || fail "mailtund not executable"
[ "$(stat -c %a "$D/etc/mailtun/mailtun.conf")" = 640 ] || fail "config not 0640"
grep -q "ExecStart=/usr/sbin/mailtund -c /etc/mailtun/mailtun.conf" "$D/lib/systemd/system/mailtund.service" || fail "unit does not point at /usr/sbin"
grep -q "@SBINDIR@" "$D"/lib/systemd/system/*.service && fail "unsubstituted @SBINDIR@ in a unit"
echo "ok: installed layout complete"
echo "# changed by the admin" >>"$D/etc/mailtun/mailtun.conf"
make --no-print-directory install DESTDIR="$D" PREFIX=/usr 2>&1 | grep -q "keeping existing" || fail "install did not say it keeps the config"
grep -q "changed by the admin" "$D/etc/mailtun/mailtun.conf" || fail "install overwrote the admin's config"
echo "ok: second install keeps the admin's config"
touch "$D/var/spool/mailtun/queued-message"
make --no-print-directory uninstall DESTDIR="$D" PREFIX=/usr >/dev/null 2>&1 || fail "make uninstall"
[ -e "$D/usr/sbin/mailtund" ] && fail "uninstall left mailtund"
[ -e "$D/usr/lib/pppd/$ver/mailtun.so" ] && fail "uninstall left the plugin"
[ -e "$D/etc/mailtun/mailtun.conf" ] || fail "uninstall removed the config"
[ -e "$D/var/spool/mailtun/queued-message" ] || fail "uninstall touched the spool"
echo "ok: uninstall removed programs, plugin, units and man pages; kept config and spool"
make --no-print-directory install-provider DESTDIR="$D" PREFIX=/usr >/dev/null 2>&1 || fail "make install-provider"
[ -x "$D/etc/ppp/ip-pre-up.d/pptpd-replace-session" ] || fail "install-provider: no executable hook in /etc/ppp/ip-pre-up.d"
for f in pptpd.conf pptpd-options chap-secrets postfix/transport README.md; do
    [ -f "$D/usr/share/doc/mailtun/provider/$f" ] || fail "install-provider: example $f missing"
done
echo "ok: install-provider put the hook where pppd runs it and the provider's files as examples"
