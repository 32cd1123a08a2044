#!/bin/bash
# deb_builddeps.sh — debian/control's Build-Depends and tests/deps.sh name the same packages.
#
# tests/deps.sh is the project's one dependency list: its "build" group minus build-essential
# (which dpkg-buildpackage assumes) must be exactly the Build-Depends, and debhelper-compat
# must come from its "packaging" group's debhelper. A package added to one list and not the
# other fails here, naming it and the file it is missing from.
set -u
. "$(dirname "$0")/lib/common.sh"
control=$ROOT/debian/control
[ -f "$control" ] || fail "no $control"

# Build-Depends of the source stanza, one package name a line (versions and arch lists cut).
# shellcheck disable=SC2016
bdeps=$(awk '
    /^$/ { exit }
    /^Build-Depends:/ { on = 1; sub(/^Build-Depends:/, ""); print; next }
    on && /^[ \t]/ { print; next }
    on { on = 0 }' "$control" | tr ',' '\n' | sed 's/[[(<].*//; s/#.*//; s/[[:space:]]//g' | grep -v '^$' | sort -u)
[ -n "$bdeps" ] || fail "no Build-Depends in $control"
deps=$(sh "$ROOT/tests/deps.sh" --group build) || fail "tests/deps.sh --group build failed"
want=$(grep -vx build-essential <<<"$deps" | sort -u)
have=$(grep -vx debhelper-compat <<<"$bdeps")

missing=$(comm -23 <(echo "$want") <(echo "$have"))
extra=$(comm -13 <(echo "$want") <(echo "$have"))
[ -z "$missing" ] || fail "in tests/deps.sh (group build) but not in debian/control Build-Depends: $(echo $missing)"
[ -z "$extra" ] || fail "in debian/control Build-Depends but not in tests/deps.sh (group build): $(echo $extra)"
grep -qx debhelper-compat <<<"$bdeps" || fail "debian/control Build-Depends lacks debhelper-compat (= 13)"
sh "$ROOT/tests/deps.sh" --group packaging | grep -qx debhelper ||
    fail "debian/control needs debhelper-compat, but tests/deps.sh (group packaging) does not install debhelper"
ok "Build-Depends = tests/deps.sh build group ($(echo "$have" | wc -l) packages) + debhelper-compat"
