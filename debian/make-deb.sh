#!/bin/bash
# make-deb.sh — `make deb`: build mailtun's Debian packages with dpkg-buildpackage, then lintian.
#
#   debian/make-deb.sh [OUT]      OUT defaults to build-deb/ in the tree
#
# The build runs in a copy of the tree under OUT/src/ (the tree's files as git lists them,
# tracked and new, without ignored build output), so dpkg-buildpackage's files land in OUT/src/
# and are moved to OUT/: neither the checkout nor its parent directory gets anything.
# OUT/ ends with mailtun_<ver>_<arch>.deb, mailtun-provider_<ver>_all.deb, the .changes and
# .buildinfo, and lintian.txt. Exit status: 0 only if the build passed and lintian reported
# no error and no warning. LINTIAN=0 skips lintian (make deb-check runs it itself).
set -euo pipefail
src=$(cd "$(dirname "$0")/.." && pwd)
out=${1:-build-deb}
case $out in /*) ;; *) out=$src/$out;; esac
die() { echo "make deb: $*" >&2; exit 1; }

for tool in dpkg-buildpackage dpkg-parsechangelog dh; do
    command -v "$tool" >/dev/null || die "$tool is missing: run 'make deps' (tests/deps.sh, group packaging)"
done
ver=$(dpkg-parsechangelog -l "$src/debian/changelog" -S Version) || die "cannot read debian/changelog"
work=$out/src/mailtun-$ver
rm -rf "$out/src"
rm -f "$out"/*.deb "$out"/*.changes "$out"/*.buildinfo "$out"/lintian.txt
mkdir -p "$work"

if git -C "$src" rev-parse --is-inside-work-tree >/dev/null 2>&1; then
    # deleted but still tracked files are listed too; tar skips them
    (cd "$src" && git ls-files -z -co --exclude-standard |
        tar --null -T - --ignore-failed-read -cf - 2>/dev/null) | tar -C "$work" -xf -
else
    (cd "$src" && tar --exclude=./.git --exclude='./build*' -cf - .) | tar -C "$work" -xf -
fi
[ -f "$work/debian/rules" ] || die "copying the tree to $work failed (no debian/rules there)"

echo "make deb: building mailtun $ver in $work"
(cd "$work" && DEB_BUILD_OPTIONS=${DEB_BUILD_OPTIONS:-parallel=2} dpkg-buildpackage -us -uc -b) \
    >"$out/build.log" 2>&1 || { tail -n 40 "$out/build.log"; die "dpkg-buildpackage failed (whole log: $out/build.log)"; }
mv "$out"/src/*.deb "$out"/src/*.changes "$out"/src/*.buildinfo "$out"/
rm -rf "$out/src"
changes=$(ls "$out"/mailtun_"$ver"_*.changes)
echo "make deb: built into $out:"
(cd "$out" && ls -1 ./*.deb | sed 's|^\./|    |')

[ "${LINTIAN:-1}" = 0 ] && exit 0
command -v lintian >/dev/null || die "lintian is missing: run 'make deps' (tests/deps.sh, group packaging)"
rc=0
lintian --allow-root --fail-on error,warning "$changes" >"$out/lintian.txt" 2>&1 || rc=$?
if [ "$rc" != 0 ]; then
    cat "$out/lintian.txt"
    die "lintian found errors or warnings (above; also $out/lintian.txt)"
fi
echo "make deb: lintian: no errors, no warnings ($(wc -l <"$out/lintian.txt") other lines in $out/lintian.txt)"
