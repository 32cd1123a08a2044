#!/bin/bash
# negative.sh — the negative control of tests/deb/check.sh: broken packages must fail it.
#
#   tests/deb/negative.sh [DEB_DIR]     DEB_DIR (default build-deb/) holds what `make deb` built
#
# Each case repacks the built mailtun .deb with one fault (dpkg-deb -R, edit, dpkg-deb -b) into
# a scratch directory and runs check.sh on it; check.sh must fail, naming the fault:
#   depends     the plugin's exact pppd dependency dropped      -> FAIL: package: Depends lacks
#   spool       postinst no longer gives the spool to mailtun   -> FAIL: install: /var/spool/mailtun is
#   purge       postrm purge keeps the spool                     -> FAIL: purge: /var/spool/mailtun is still there
# Ends with "N caught, N missed"; exit 1 on any miss. CASES="spool purge" runs only those.
# Needs what check.sh needs (root, mmdebstrap); each case is a fresh-root run (~2 min).
set -u
src=$(cd "$(dirname "$0")/../.." && pwd)
out=${1:-build-deb}
case $out in /*) ;; *) out=$src/$out;; esac
ver=$(dpkg-parsechangelog -l "$src/debian/changelog" -S Version)
arch=$(dpkg --print-architecture)
deb=$out/mailtun_${ver}_$arch.deb
[ -f "$deb" ] || { echo "negative: no $deb: run make deb first"; exit 1; }
caught=0 missed=0

# broken NAME EXPECT SED-SCRIPT FILE — repack with FILE (in the package tree) edited by SED-SCRIPT
broken() {
    local name=$1 expect=$2 script=$3 file=$4 dir log
    dir=$(mktemp -d /var/tmp/mailtun-deb-negative.XXXXXX)
    dpkg-deb -R "$deb" "$dir/p"
    sed -i "$script" "$dir/p/$file"
    if cmp -s <(dpkg-deb --ctrl-tarfile "$deb" | tar -xOf - "./${file#DEBIAN/}" 2>/dev/null) "$dir/p/$file"; then
        echo "ERROR $name: the edit changed nothing in $file"; missed=$((missed + 1)); rm -rf "$dir"; return
    fi
    mkdir "$dir/out"
    dpkg-deb --root-owner-group -b "$dir/p" "$dir/out/$(basename "$deb")" >/dev/null
    cp "$out"/mailtun-provider_"${ver}"_all.deb "$dir/out/"
    log=$dir/check.log
    if bash "$src/tests/deb/check.sh" "$dir/out" >"$log" 2>&1; then
        echo "MISSED $name: check.sh passed a package with this fault"; missed=$((missed + 1))
    elif grep -q "^FAIL: $expect" "$log"; then
        echo "caught $name: $(grep '^FAIL' "$log")"; caught=$((caught + 1))
    else
        echo "MISSED $name: check.sh failed, but not with 'FAIL: $expect': $(tail -n 1 "$log")"; missed=$((missed + 1))
    fi
    rm -rf "$dir"
}

# CASES="spool purge" runs only those
want() { [ -z "${CASES:-}" ] || [[ " $CASES " == *" $1 "* ]]; }
want depends && broken depends "package: Depends lacks" 's/ppp (<< [^)]*), //' DEBIAN/control
want spool && broken spool "install: /var/spool/mailtun is" 's/chown mailtun:mailtun .*/:/; s/chmod 0750 .*/:/' DEBIAN/postinst
want purge && broken purge "purge: /var/spool/mailtun is still there" 's|rm -rf /var/spool/mailtun |rm -rf |' DEBIAN/postrm
echo "$caught caught, $missed missed"
[ "$missed" = 0 ]
