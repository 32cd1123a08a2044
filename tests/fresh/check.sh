#!/bin/bash
# check.sh — `make fresh-check`: the README's two commands on a fresh Debian 12 root.
#
# Builds a minbase bookworm root (tests/fresh/root.sh), puts `git archive HEAD` into
# /root/mailtun, installs `make` (the one prerequisite README names) and runs inside, as root:
#
#   make demo     exit 0                 (it installs every dependency itself first)
#   make check    exit 0                 (every tier; the lab in user-mode-linux), and no skip
#                                        for a package tests/deps.sh installs
#   make deps     one line, no apt       (idempotent and quiet when nothing is missing)
#   make -j2      with libevent-dev removed: installs it again before the first compiler runs
#
# Prints each command's closing line and wall time, then its own "N passed, N failed" line;
# full logs in $B/fresh-logs/ (B defaults to build; the root's test-logs/ and lab-results/ are
# copied there too). The root is removed on every exit.
# It checks HEAD: uncommitted changes are not in `git archive`.
#
# Environment: FRESH_KEEP=1 keeps the root (path printed) for a look inside; FRESH_TMP is the
# parent of the root (default /var/tmp); FRESH_CMD runs that one shell command in the root
# instead of the four above (development); FRESH_SOURCES, FRESH_CACHE, FRESH_CACHE_DAYS: root.sh.
set -u
# All of it in one function, read whole before it runs: the tree may change under a long run.
main() {
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
cd "$ROOT"
. tests/fresh/root.sh

[ "$(id -u)" = 0 ] || { echo "fresh-check: needs root (chroot, mounts, and the tests themselves)" >&2; exit 1; }
command -v mmdebstrap >/dev/null || tests/deps.sh || exit 1
git rev-parse --verify -q HEAD >/dev/null || { echo "fresh-check: $ROOT is not a git checkout (it copies git archive HEAD)" >&2; exit 1; }
[ -z "$(git status --porcelain --untracked-files=no)" ] || echo "fresh-check: note: uncommitted changes are not checked (git archive HEAD)"

B=${B:-build}
case $B in /*) ;; *) B=$ROOT/$B;; esac
logs=$B/fresh-logs
rm -rf "$logs" && mkdir -p "$logs" || exit 1
dir=$(mktemp -d "${FRESH_TMP:-/var/tmp}/mailtun-fresh.XXXXXX") && rmdir "$dir" || exit 1
if [ "${FRESH_KEEP:-0}" = 1 ]; then echo "fresh-check: root kept at $dir (tests/fresh/root.sh: fresh_root_remove)"
else fresh_root_cleanup_on_exit "$dir"
fi

t0=$SECONDS
fresh_root_create "$dir" || { echo "fresh-check: could not build the root" >&2; exit 1; }
mkdir -p "$dir/root/mailtun" && git archive HEAD | tar -x -C "$dir/root/mailtun" || exit 1
echo "fresh-check: root $dir with $(git rev-parse --short HEAD) in /root/mailtun ($((SECONDS - t0)) s)"

inside() { fresh_root_run "$dir" /bin/bash -c "cd /root/mailtun && $1"; }

# make: what the README tells a user to install before the two commands.
inside 'apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends make' \
    >"$logs/make.log" 2>&1 || { tail -n 20 "$logs/make.log"; echo "fresh-check: could not install make" >&2; exit 1; }

if [ -n "${FRESH_CMD:-}" ]; then
    inside "$FRESH_CMD"; exit
fi

passed=0 failed=0
verdict() {            # name ok|fail detail
    if [ "$2" = ok ]; then passed=$((passed + 1)); echo "PASS fresh/$1: $3"
    else failed=$((failed + 1)); echo "FAIL fresh/$1: $3"
    fi
}
# step NAME COMMAND: run it inside, output to the log and (indented) here; sets rc, secs, last
step() {
    local name=$1 t=$SECONDS
    echo "== fresh root: $2"
    inside "$2" 2>&1 | tee "$logs/$name.log" | sed -u 's/^/    /'
    rc=${PIPESTATUS[0]}; secs=$((SECONDS - t))
    last=$(grep -v '^[[:space:]]*$' "$logs/$name.log" | tail -n 1)
}

step demo 'make demo'
[ "$rc" = 0 ] && verdict demo ok "make demo: exit 0 in ${secs} s; last line: $last" ||
    verdict demo fail "make demo: exit $rc in ${secs} s; last line: $last"
demo_line="make demo: exit $rc, ${secs} s: $last"

step check 'make check'
[ "$rc" = 0 ] && verdict check ok "make check: exit 0 in ${secs} s; last line: $last" ||
    verdict check fail "make check: exit $rc in ${secs} s; last line: $last"
check_line="make check: exit $rc, ${secs} s: $last"
# The fresh root got only what make installed: a skip for a package tests/deps.sh installs
# (tests/run.sh tags those "run tests/deps.sh") means deps.sh or the test's check is wrong.
preventable=$(grep '^SKIP .*tests/deps\.sh' "$logs/check.log")
[ -z "$preventable" ] && verdict skips ok "make check: no skip that tests/deps.sh could have prevented" ||
    verdict skips fail "make check skipped for packages tests/deps.sh installs: $(echo $preventable)"
# The root goes away at the end: keep what explains a failure.
cp -a "$dir/root/mailtun/build/test-logs" "$dir/root/mailtun/build/lab-results" "$logs/" 2>/dev/null

step deps 'make deps'
if [ "$rc" = 0 ] && [ "$(cat "$logs/deps.log")" = "deps: all packages present" ]; then
    verdict deps ok "make deps with nothing missing: one line, no apt"
else
    verdict deps fail "make deps with nothing missing: exit $rc, said: $(head -c 300 "$logs/deps.log")"
fi

# A fresh machine with -j2: the dependency the very first compiler needs is gone again.
step j2 'apt-get remove -y -qq libevent-dev >/dev/null 2>&1; make clean >/dev/null && make -j2'
first_cc=$(grep -n '^cc ' "$logs/j2.log" | head -n 1 | cut -d: -f1)
installed=$(grep -n '^deps: installing:.*libevent-dev' "$logs/j2.log" | head -n 1 | cut -d: -f1)
if [ "$rc" = 0 ] && [ -n "$installed" ] && [ -n "$first_cc" ] && [ "$installed" -lt "$first_cc" ]; then
    verdict j2 ok "make -j2 without libevent-dev: installed it (log line $installed) before the first cc (line $first_cc), built"
else
    verdict j2 fail "make -j2 without libevent-dev: exit $rc, install at line ${installed:-none}, first cc at line ${first_cc:-none}"
fi

echo "fresh-check: $demo_line"
echo "fresh-check: $check_line"
echo "fresh-check: logs in $logs; whole run $((SECONDS - t0)) s"
echo "$passed passed, $failed failed"
[ "$failed" = 0 ]
}
main "$@"; exit
