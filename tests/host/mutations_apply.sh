#!/bin/bash
# mutations_apply.sh — every tests/mutations/*.patch still applies to the tree and names a
# test that exists, so a change to the code a patch mutates fails `make check` at once instead
# of only the next `make mutate` (a stale patch proves nothing). The header rules and the
# patch(1) call are tests/mutation_lib.sh's, the ones tests/mutate.sh runs them by. Negative
# controls: a patch whose context no longer matches, and one naming a test that does not
# exist, must both be reported.
#
#   tests/host/mutations_apply.sh            check every patch (and the controls)
set -u
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
cd "$ROOT" || exit 1
. tests/mutation_lib.sh
command -v patch >/dev/null || { echo "SKIP: no patch(1) (apt install patch)"; exit 77; }

# check PATCH: prints what is wrong with it, exit 1 if anything (tests/mutation_lib.sh's rules).
check() {
    local why abs
    why=$(mutation_header_problem "$1") || { echo "$1: $why"; return 1; }
    case $1 in /*) abs=$1;; *) abs=$ROOT/$1;; esac
    mutation_patch "$ROOT" "$abs" --dry-run -s >/dev/null 2>&1 ||
        { echo "$1: no longer applies to the tree (update it to the code it mutates)"; return 1; }
}

fail=0 n=0
for p in tests/mutations/*.patch; do
    n=$((n + 1))
    check "$p" || fail=1
done
[ "$n" -gt 0 ] || { echo "FAIL: no tests/mutations/*.patch found"; exit 1; }

# Negative controls: the check must be able to fail.
tmp=$(mktemp -d) && trap 'rm -rf "$tmp"' EXIT
some=$(ls tests/mutations/*.patch | head -1)
sed '0,/^-[^-]/s/^-\([^-].*\)$/-\1 \/* not in the tree *\//' "$some" >"$tmp/stale.patch"
if check "$tmp/stale.patch" >/dev/null; then
    echo "FAIL: negative control: a patch whose removed line is not in the tree was accepted"; fail=1
fi
sed '1s/.*/# catches: unit\/no_such_test/' "$some" >"$tmp/unknown.patch"
if check "$tmp/unknown.patch" >/dev/null; then
    echo "FAIL: negative control: a patch naming a test that does not exist was accepted"; fail=1
fi

[ "$fail" = 0 ] && echo "PASS: $n mutation patches apply and name existing tests (controls refused)"
exit $fail
