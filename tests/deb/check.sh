#!/bin/bash
# check.sh — `make deb-check`: what an admin does with mailtun's packages, in a fresh Debian 12 root.
#
#   tests/deb/check.sh [DEB_DIR]      DEB_DIR (default build-deb/) holds what `make deb` built
#
# Steps, each checked, each failure one line "FAIL: <step>: <what>" (exit 1):
#   1 package     the .debs' fields: the exact pppd the plugin was built for, conffiles
#   2 install     apt install ./mailtun_*.deb ./mailtun-provider_*.deb into a fresh minbase root
#                 (tests/fresh/root.sh): files, the mailtun user, owners and modes, units
#                 enabled, the hook where pppd runs it, logrotate's syntax
#   3 configure   the units' ExecCondition skips the unedited sample and passes once the admin
#                 edited it; `mailtunctl check` on the shipped sample finds the plugin, pppd,
#                 user and spool, and fails only on what a chroot cannot have
#   4 upgrade     to the same package repacked as a newer version whose conffiles changed:
#                 the admin's edit survives (new file as .dpkg-dist), the untouched conffile
#                 is updated, queued mail stays
#   5 remove      programs, plugin and units go; configuration, spool, user stay
#   6 purge       the package's configuration, spool, own TLS key and logs go; the admin's own file in
#                 /etc/mailtun and the mailtun user stay (debian/mailtun.README.Debian)
# Exit 0 pass, 1 fail, 77 skip (not root, or no mmdebstrap: says which).
# Its negative control: tests/deb/negative.sh (packages with one fault each must fail here).
set -u
src=$(cd "$(dirname "$0")/../.." && pwd)
out=${1:-build-deb}
case $out in /*) ;; *) out=$src/$out;; esac
step=setup
fail() { echo "FAIL: $step: $*"; exit 1; }
ok() { echo "ok:   $step: $*"; }
skip() { echo "deb-check: skip: $*"; exit 77; }

[ "$(id -u)" = 0 ] || skip "needs root (chroot and mounts for the fresh root)"
command -v mmdebstrap >/dev/null || skip "needs mmdebstrap for the fresh root (tests/deps.sh, group packaging)"
# shellcheck source=../fresh/root.sh
. "$src/tests/fresh/root.sh"

ver=$(dpkg-parsechangelog -l "$src/debian/changelog" -S Version) || fail "cannot read debian/changelog"
arch=$(dpkg --print-architecture)
deb=$out/mailtun_${ver}_$arch.deb
pdeb=$out/mailtun-provider_${ver}_all.deb
[ -f "$deb" ] && [ -f "$pdeb" ] || fail "no $deb or $pdeb: run make deb first"

# --- 1 the packages' own fields ----------------------------------------------------------------
step=package
plugin=$(dpkg-deb -c "$deb" | sed -n 's|.* \./usr/lib/pppd/\([0-9.]*\)/mailtun\.so$|\1|p')
[ -n "$plugin" ] || fail "no usr/lib/pppd/<version>/mailtun.so in $deb"
next=$(echo "$plugin" | awk -F. -v OFS=. '{ $NF = $NF + 1; print }')
depends=$(dpkg-deb -f "$deb" Depends)
case ", $depends," in *", ppp (>= $plugin), ppp (<< $next),"*) ;;
    *) fail "Depends lacks 'ppp (>= $plugin), ppp (<< $next)' for the plugin in /usr/lib/pppd/$plugin: $depends";; esac
ok "plugin for pppd $plugin, Depends: ppp (>= $plugin), ppp (<< $next)"
conffiles=$(dpkg-deb --ctrl-tarfile "$deb" | tar -xOf - ./conffiles)
for f in /etc/mailtun/mailtun.conf /etc/mailtun/pppd-options /etc/logrotate.d/mailtun; do
    grep -qx "$f" <<<"$conffiles" || fail "$f is not a conffile of mailtun"
done
dpkg-deb --ctrl-tarfile "$pdeb" | tar -xOf - ./conffiles | grep -qx /etc/ppp/ip-pre-up.d/pptpd-replace-session ||
    fail "the session-replacement hook is not a conffile of mailtun-provider"
ok "conffiles: mailtun.conf, pppd-options, logrotate; the provider's hook"

# --- 2 install into a fresh root -----------------------------------------------------------------
step=install
root=$(mktemp -u -d /var/tmp/mailtun-deb-check.XXXXXX)
fresh_root_cleanup_on_exit "$root"
fresh_root_create "$root" || fail "cannot build the fresh root (tests/fresh/root.sh)"
mkdir -p "$root/tmp/debs"
cp "$deb" "$pdeb" "$root/tmp/debs/"
in_root() { fresh_root_run "$root" "$@"; }
apt_in_root() { in_root env DEBIAN_FRONTEND=noninteractive apt-get -q -y "$@"; }
log=$out/deb-check.log
: >"$log"
apt_in_root update >>"$log" 2>&1 || fail "apt-get update in the fresh root (log: $log)"
apt_in_root install "/tmp/debs/$(basename "$deb")" "/tmp/debs/$(basename "$pdeb")" >"$out/install.log" 2>&1 ||
    { tail -n 20 "$out/install.log"; fail "apt install ./mailtun_*.deb ./mailtun-provider_*.deb (log: $out/install.log)"; }
ok "apt install of both packages into a fresh minbase root"
grep -q "mailtund and mailrelayd are enabled but wait for their configuration" "$out/install.log" ||
    fail "postinst did not tell the admin that the units wait for the configuration"
ok "postinst says the units wait for the configuration"

# mode and owner as the root's own passwd names them ("mode user:group")
mode_of() { in_root stat -c '%a %U:%G' "$1" 2>/dev/null; }
# mode owner group path: what the package promises (debian/mailtun.README.Debian)
while read -r mode owner path; do
    [ -e "$root$path" ] || fail "missing: $path"
    got=$(mode_of "$path")
    [ "$got" = "$mode $owner" ] || fail "$path is $got, want $mode $owner"
done <<EOF
755 root:root /usr/sbin/mailtund
755 root:root /usr/sbin/mailrelayd
755 root:root /usr/sbin/mailtunctl
644 root:root /usr/lib/pppd/$plugin/mailtun.so
640 root:root /etc/mailtun/mailtun.conf
640 root:root /etc/mailtun/pppd-options
644 root:root /etc/logrotate.d/mailtun
644 root:root /lib/systemd/system/mailtund.service
644 root:root /lib/systemd/system/mailrelayd.service
750 mailtun:mailtun /var/spool/mailtun
755 root:root /etc/ppp/ip-pre-up.d/pptpd-replace-session
644 root:root /usr/share/doc/mailtun-provider/examples/pptpd-options
EOF
for m in mailtun.conf.5 mailtund.8 mailrelayd.8 mailtunctl.8; do
    [ -f "$root/usr/share/man/man${m##*.}/$m.gz" ] || fail "man page $m missing"
done
ok "programs, plugin, config, units, man pages, spool and hook with their owners and modes"
in_root /bin/sh -c 'command -v ip && command -v ping && command -v logger' >/dev/null ||
    fail "the provider hook's tools (ip, ping, logger) are not all there: mailtun-provider's Depends fall short"
[ -f "$root/usr/share/doc/mailtun-provider/examples/l2tp-ipsec/swanctl.conf" ] ||
    fail "the L2TP/IPsec example (swanctl.conf) is not among mailtun-provider's examples"
ok "the hook's tools (ip, ping, logger) came with mailtun-provider; its examples include L2TP/IPsec"
pw=$(in_root getent passwd mailtun) || fail "no mailtun user"
IFS=: read -r _ _ uid _ _ home shell <<<"$pw"
[ "$uid" -lt 1000 ] && [ "$home" = /var/spool/mailtun ] && [ "$shell" = /usr/sbin/nologin ] ||
    fail "mailtun user is not a system user with home /var/spool/mailtun and no login: $pw"
in_root getent group mailtun >/dev/null || fail "no mailtun group"
ok "system user $pw"
for u in mailtund mailrelayd; do
    [ -L "$root/etc/systemd/system/multi-user.target.wants/$u.service" ] || fail "$u.service is not enabled"
    grep -q "^ExecStart=/usr/sbin/$u -c /etc/mailtun/mailtun.conf$" "$root/lib/systemd/system/$u.service" ||
        fail "$u.service does not start /usr/sbin/$u with /etc/mailtun/mailtun.conf"
done
ok "mailtund.service and mailrelayd.service enabled, starting /usr/sbin/ programs"
apt_in_root install --no-install-recommends logrotate >>"$log" 2>&1 || fail "apt install logrotate (log: $log)"
in_root logrotate --debug /etc/logrotate.d/mailtun >>"$log" 2>&1 || fail "logrotate rejects /etc/logrotate.d/mailtun (log: $log)"
ok "logrotate accepts /etc/logrotate.d/mailtun"

# --- 3 configure -----------------------------------------------------------------------------------
step=configure
# What systemd runs before starting a unit; exit 1..254 means "skipped".
condition() {
    # shellcheck disable=SC2016
    in_root /bin/bash -c 'c=$(sed -n "s/^ExecCondition=//p" /lib/systemd/system/$1.service); [ -n "$c" ] || exit 99; eval "$c"' - "$1"
}
for u in mailtund mailrelayd; do
    msg=$(condition $u 2>&1); rc=$?
    [ "$rc" = 99 ] && fail "$u.service has no ExecCondition"
    [ "$rc" -ge 1 ] && [ "$rc" -le 254 ] || fail "$u.service would start with the unedited sample (ExecCondition exit $rc)"
    grep -q "unedited sample" <<<"$msg" || fail "$u.service's ExecCondition does not say why it skips: $msg"
done
ok "both units skip the unedited sample, saying: $msg"
check=$(in_root mailtunctl check 2>&1); rc=$?
echo "$check" | sed 's/^/    /'
[ "$rc" = 1 ] || fail "mailtunctl check on the sample exited $rc, want 1 (the chroot has no PPP kernel)"
for want in "configuration \[tunnel\] loads" "pppd is installed" "pppd $plugin" \
            "plugin /usr/lib/pppd/$plugin/mailtun.so found" "configuration \[relay\] \[inside\] \[outbound\] loads" \
            "relay user exists" "spool directory owned and private"; do
    grep -q "^ok  *$want\$" <<<"$check" || fail "mailtunctl check lacks 'ok $want'"
done
# What only a real gateway has: its DSL route, a PPP kernel, the admin's secret.
unexpected=$(grep '^FAIL' <<<"$check" | grep -v -e '^FAIL  route to the PPTP server' -e '^FAIL  kernel module ' \
             -e '^FAIL  /dev/ppp' -e '^FAIL  /etc/ppp/chap-secrets')
[ -z "$unexpected" ] || fail "mailtunctl check fails on what the package should provide: $unexpected"
ok "mailtunctl check: plugin, pppd, user, spool found; fails only on route, kernel, /dev/ppp, chap-secrets"
# The admin's edit: the values, and the marker line goes.
in_root sed -i -e '/^# MAILTUN-UNCONFIGURED/d' -e 's/^fixed_address = .*/fixed_address = 192.0.2.11/' \
    /etc/mailtun/mailtun.conf || fail "cannot edit the config"
echo "# edited by the admin (deb-check)" >>"$root/etc/mailtun/mailtun.conf"
for u in mailtund mailrelayd; do
    condition $u >/dev/null 2>&1 || fail "$u.service still skips after the admin removed the marker line"
    out_n=$(in_root $u -n -c /etc/mailtun/mailtun.conf 2>&1) || fail "$u -n (the unit's ExecStartPre) rejects the edited config: $out_n"
done
ok "after the admin's edit both units would start, and their ExecStartPre config check passes"

# --- 4 upgrade to a newer package whose conffiles changed ---------------------------------------
step=upgrade
new_ver=$ver+debcheck1
pkgdir=$(mktemp -d /var/tmp/mailtun-deb-new.XXXXXX)
dpkg-deb -R "$deb" "$pkgdir/p" || fail "dpkg-deb -R $deb"
sed -i "s/^Version: .*/Version: $new_ver/" "$pkgdir/p/DEBIAN/control"
echo "# a line the next release added (deb-check)" >>"$pkgdir/p/etc/mailtun/mailtun.conf"
echo "# a line the next release added (deb-check)" >>"$pkgdir/p/etc/mailtun/pppd-options"
(cd "$pkgdir/p" && find . -type f ! -path './DEBIAN/*' -printf '%P\0' | sort -z | xargs -0 md5sum >DEBIAN/md5sums)
new_deb=$root/tmp/debs/mailtun_${new_ver}_$arch.deb
dpkg-deb --root-owner-group -b "$pkgdir/p" "$new_deb" >>"$log" 2>&1 || fail "dpkg-deb -b of the newer package"
rm -rf "$pkgdir"
mkdir -p "$root/var/spool/mailtun/incoming"
echo "a queued mail" >"$root/var/spool/mailtun/incoming/deb-check-mail"
apt_in_root -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold \
    install "/tmp/debs/$(basename "$new_deb")" >>"$log" 2>&1 || fail "apt install of $new_ver (log: $log)"
[ "$(in_root dpkg-query -W -f='${Version}' mailtun)" = "$new_ver" ] || fail "mailtun is not at $new_ver after the upgrade"
grep -q "edited by the admin" "$root/etc/mailtun/mailtun.conf" || fail "the upgrade overwrote the admin's mailtun.conf"
grep -q "next release added" "$root/etc/mailtun/mailtun.conf" && fail "the admin's mailtun.conf got the package's change silently"
grep -q "next release added" "$root/etc/mailtun/mailtun.conf.dpkg-dist" 2>/dev/null ||
    fail "the new mailtun.conf is not kept as mailtun.conf.dpkg-dist for the admin to compare"
grep -q "next release added" "$root/etc/mailtun/pppd-options" || fail "the unedited pppd-options was not updated"
[ "$(mode_of /etc/mailtun/mailtun.conf)" = "640 root:root" ] || fail "mailtun.conf mode changed"
[ "$(mode_of /var/spool/mailtun)" = "750 mailtun:mailtun" ] || fail "spool owner or mode changed"
[ -f "$root/var/spool/mailtun/incoming/deb-check-mail" ] || fail "queued mail lost in the upgrade"
ok "$ver -> $new_ver: admin's mailtun.conf kept (new one as .dpkg-dist), pppd-options updated, spool kept"

# --- 5 remove -------------------------------------------------------------------------------------
step=remove
apt_in_root remove mailtun mailtun-provider >>"$log" 2>&1 || fail "apt remove (log: $log)"
for f in /usr/sbin/mailtund /usr/sbin/mailrelayd /usr/sbin/mailtunctl "/usr/lib/pppd/$plugin/mailtun.so" \
         /lib/systemd/system/mailtund.service /lib/systemd/system/mailrelayd.service \
         /usr/share/doc/mailtun-provider/examples/pptpd.conf; do
    [ -e "$root$f" ] && fail "$f is still there after remove"
done
for f in /etc/mailtun/mailtun.conf /etc/mailtun/pppd-options /var/spool/mailtun/incoming/deb-check-mail \
         /etc/ppp/ip-pre-up.d/pptpd-replace-session; do
    [ -e "$root$f" ] || fail "$f is gone after remove (only purge may take it)"
done
grep -q "edited by the admin" "$root/etc/mailtun/mailtun.conf" || fail "remove changed the admin's config"
in_root getent passwd mailtun >/dev/null || fail "remove deleted the mailtun user"
[ "$(in_root dpkg-query -W -f='${db:Status-Abbrev}' mailtun)" = "rc " ] || fail "mailtun is not in state rc (removed, config kept)"
ok "programs, plugin, units, examples gone; config, hook, spool with its mail, user kept"

# --- 6 purge --------------------------------------------------------------------------------------
step=purge
echo "user password" >"$root/etc/mailtun/smarthost-secret"        # the admin's own file
: >"$root/var/log/mailtun-pppd.log"; : >"$root/var/log/mailtun-pppd.log.1.gz"
mkdir -p "$root/var/lib/mailtun/tls"; : >"$root/var/lib/mailtun/tls/key.pem"   # mailrelayd's own key
in_root dpkg --purge mailtun mailtun-provider >>"$log" 2>&1 || fail "dpkg --purge (log: $log)"
for f in /etc/mailtun/mailtun.conf /etc/mailtun/mailtun.conf.dpkg-dist /etc/mailtun/pppd-options \
         /etc/logrotate.d/mailtun /var/spool/mailtun /var/lib/mailtun /var/log/mailtun-pppd.log /var/log/mailtun-pppd.log.1.gz \
         /etc/ppp/ip-pre-up.d/pptpd-replace-session \
         /etc/systemd/system/multi-user.target.wants/mailtund.service \
         /etc/systemd/system/multi-user.target.wants/mailrelayd.service; do
    [ -e "$root$f" ] || [ -L "$root$f" ] && fail "$f is still there after purge"
done
[ -f "$root/etc/mailtun/smarthost-secret" ] || fail "purge deleted a file the admin put into /etc/mailtun"
in_root getent passwd mailtun >/dev/null || fail "purge deleted the mailtun user (README.Debian says it stays)"
in_root dpkg-query -W -f='${db:Status-Abbrev}' mailtun 2>/dev/null | grep -q '^ii' && fail "mailtun still installed"
ok "config, .dpkg-dist, logrotate, spool, own TLS key, pppd logs, hook, unit links gone; admin's own file and the user kept"
echo "deb-check: PASS ($ver, $new_ver; logs in $out)"
