#!/bin/bash
# deps_listed.sh — README's "Dependencies and why" and tests/deps.sh name the same packages.
#
# tests/deps.sh is the only list a fresh machine (and CI's fresh root) gets; README is where a
# reader learns why each package is there. A package added to one and not the other fails here
# (.ci/run runs this first), naming the package and the side it is missing from. A negative
# control runs the same comparison on copies with one package added to each side.
#
#   tests/host/deps_listed.sh                   compare the tree's files (and the controls)
#   tests/host/deps_listed.sh README DEPS_SH    compare those two files only
set -u
ROOT=$(cd "$(dirname "$0")/../.." && pwd)

# Packages in the first column of the README table under "## Dependencies and why".
readme_pkgs() {
    awk '/^## /{ on = ($0 ~ /^## Dependencies and why/) } on && /^\| *`/' "$1" |
        cut -d'|' -f2 | grep -o '`[^`]*`' | tr -d '`' | sort -u
}
deps_pkgs() { bash "$1" --list | sort -u; }

# compare README DEPS_SH: prints one line per difference, exit 1 if any.
compare() {
    local r d rc=0 p
    r=$(readme_pkgs "$1"); d=$(deps_pkgs "$2") || { echo "cannot list $2"; return 1; }
    [ -n "$r" ] || { echo "no packages found under '## Dependencies and why' in $1"; return 1; }
    for p in $(comm -23 <(echo "$d") <(echo "$r")); do echo "$p: in $2 but not in $1 (say why it is needed)"; rc=1; done
    for p in $(comm -13 <(echo "$d") <(echo "$r")); do echo "$p: in $1 but not in $2 (a fresh machine would not get it)"; rc=1; done
    return $rc
}

if [ $# = 2 ]; then compare "$1" "$2"; exit; fi

fail() { echo "FAIL: $*"; exit 1; }
out=$(compare "$ROOT/README.md" "$ROOT/tests/deps.sh") || fail "README.md and tests/deps.sh disagree:
$out"
echo "ok: README.md and tests/deps.sh list the same $(readme_pkgs "$ROOT/README.md" | wc -l) packages"

# Negative controls: one package more on either side must be caught and named.
work=$(mktemp -d /tmp/deps-listed.XXXXXX); trap 'rm -rf "$work"' EXIT
awk '{ print } /^\| `ppp-dev` \|/ { print "| `frobnicate-dev` | a control row |" }' "$ROOT/README.md" >"$work/README.md"
out=$(compare "$work/README.md" "$ROOT/tests/deps.sh") && fail "a package only in README was not caught"
grep -q '^frobnicate-dev: in .*README.md but not in ' <<<"$out" || fail "control not named: $out"
sed 's/^LAB="/LAB="frobnicate-tools /' "$ROOT/tests/deps.sh" >"$work/deps.sh"
out=$(compare "$ROOT/README.md" "$work/deps.sh") && fail "a package only in deps.sh was not caught"
grep -q '^frobnicate-tools: in .*deps.sh but not in ' <<<"$out" || fail "control not named: $out"
echo "ok: a package added to only one side is caught and named (both directions)"
echo "deps_listed: all checks passed"
