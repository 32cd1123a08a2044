#!/bin/bash
# boot.sh — run one lab scenario inside user-mode-linux (a kernel with PPP, PPTP and MPPE).
#
#   tests/lab/boot.sh <scenario>        runs tests/lab/scenarios/<scenario>.sh in the guest
#   tests/lab/boot.sh <path/to/file.sh> runs that file instead (e.g. bench/lab/*.sh, which are
#                                       not part of make check); results go to lab-results/<basename>
#
# Exit code is the scenario's: 0 pass, 77 skip (reason on the last line), anything else fail.
# Every log lands in ${B:-build}/lab-results/<scenario>/ (recreated each run); on failure the
# lines that explain it are printed. See tests/lab/README.md.
#
# Environment: B (build dir, default build), LAB_TIMEOUT (host-side hard limit, s, default 120
# or the scenario's own "# lab-timeout: N" line),
# LAB_GUEST_TIMEOUT (guest-side limit for the scenario, default LAB_TIMEOUT - 15),
# LAB_MEM (guest memory, default 384M), LAB_UML (kernel, default linux.uml from PATH),
# LAB_VERBOSE=1 (stream the guest console while it runs).
# For scenarios that drive several boots from the host (tests/lab/scenarios/power-cut.sh):
# LAB_RESULTS_DIR (results here instead of lab-results/<scenario>), LAB_UML_ARGS (more words
# for the UML command line, e.g. ubdb=<image> and mailtun_* keys), LAB_PIDFILE (the guest's
# kernel's pid is written there, so the host can cut its power: kill -KILL -- -<pid>, as
# UML leads its own process group).
# A scenario file with a line "# lab-host-driver: yes" runs on the host instead (bash <file>),
# with B and the above in its environment; it boots its guests itself through this script.
# LAB_PACKAGES=<dir> (make lab PACKAGES=1: the guest installs <dir>/mailtun_*.deb and
# mailtun-provider_*.deb first, and the scenarios run the installed programs, see init.sh
# and mailtun_lib.sh).
set -u
here=$(cd "$(dirname "$0")" && pwd)
src=$(cd "$here/../.." && pwd)
name=${1:-}
skip() { echo "boot.sh: $*"; exit 77; }

[ -n "$name" ] || { echo "usage: tests/lab/boot.sh <scenario>|<path/to/file.sh>   (scenarios: $(cd "$here/scenarios" && ls *.sh 2>/dev/null | sed 's/\.sh$//' | tr '\n' ' '))" >&2; exit 2; }
# init.sh runs <src>/tests/lab/scenarios/<guest_scenario>.sh: a file elsewhere is named by
# its path relative to that directory (the guest sees the host's paths unchanged).
guest_scenario=$name
case $name in
*/*|*.sh)
    [ -f "$name" ] || { echo "boot.sh: no scenario file $name" >&2; exit 2; }
    file=$(realpath "$name")
    guest_scenario=$(realpath --relative-to="$here/scenarios" "$file")
    guest_scenario=${guest_scenario%.sh}
    [ "$guest_scenario.sh" = "$(realpath --relative-to="$here/scenarios" "$file")" ] ||
        { echo "boot.sh: a scenario file must end in .sh: $name" >&2; exit 2; }
    name=$(basename "$file" .sh);;
*)  [ -f "$here/scenarios/$name.sh" ] || { echo "boot.sh: no scenario $here/scenarios/$name.sh" >&2; exit 2; };;
esac

# A scenario that needs longer says so in a header line "# lab-timeout: <seconds>".
scenario_file=${file:-$here/scenarios/$name.sh}
if grep -q '^# lab-host-driver: yes' "$scenario_file"; then
    exec bash "$scenario_file"
fi
declared=$(sed -n 's/^# lab-timeout: *\([0-9][0-9]*\).*/\1/p' "$scenario_file" | head -n 1)
timeout_s=${LAB_TIMEOUT:-${declared:-120}}
mem=${LAB_MEM:-384M}
uml=${LAB_UML:-$(command -v linux.uml || true)}

[ "$(id -u)" = 0 ] || skip "lab needs root (hostfs results mount, namespaces in the guest); not root"
[ -n "$uml" ] && [ -x "$uml" ] || skip "lab needs user-mode-linux (linux.uml not found; run tests/deps.sh)"
moddir=$(ls -d /usr/lib/uml/modules/*/ 2>/dev/null | head -n 1)
[ -n "$moddir" ] && [ -f "$moddir/kernel/fs/overlayfs/overlay.ko" ] || skip "lab needs the UML modules (/usr/lib/uml/modules/<ver>/ with overlay.ko; package user-mode-linux, run tests/deps.sh)"
for tool in pppd pptpd pptp busybox ip timeout; do
    command -v "$tool" >/dev/null || skip "lab needs $tool on the host (guest root is the host root); run tests/deps.sh"
done
[ -d /dev/shm ] && [ -w /dev/shm ] || skip "lab needs a writable /dev/shm for UML's memory file"

bdir=${B:-build}
case $bdir in /*) ;; *) bdir=$src/$bdir;; esac
results=${LAB_RESULTS_DIR:-$bdir/lab-results/$name}
packages=${LAB_PACKAGES:-}
if [ -n "$packages" ]; then
    packages=$(realpath "$packages") && ls "$packages"/mailtun_*.deb "$packages"/mailtun-provider_*.deb >/dev/null 2>&1 ||
        { echo "boot.sh: LAB_PACKAGES=${LAB_PACKAGES}: no mailtun_*.deb and mailtun-provider_*.deb there (make deb)" >&2; exit 2; }
fi
case "$results$src$guest_scenario$packages" in *[[:space:]]*) skip "lab cannot pass paths with spaces on the kernel command line: $results";; esac
rm -rf "$results"
mkdir -p "$results" || { echo "boot.sh: cannot create $results" >&2; exit 1; }

# The guest gets 15 s less than the host, so it can still write its logs and exit code.
guest_limit=${LAB_GUEST_TIMEOUT:-$((timeout_s > 30 ? timeout_s - 15 : timeout_s * 2 / 3))}

console=$results/console.log
t0=$(date +%s.%N)
# timeout makes itself a process group leader and signals the whole group, which takes
# UML's helper processes with it; the group is killed again below in case any survived.
TMPDIR=/dev/shm timeout -k 5 "$timeout_s" "$uml" mem="$mem" \
    root=/dev/root rootfstype=hostfs rootflags=/ ro init="$here/init.sh" \
    con=null con0=fd:0,fd:1 ssl=null quiet loglevel=3 \
    mailtun_scenario="$guest_scenario" mailtun_results="$results" mailtun_src="$src" mailtun_timeout="$guest_limit" \
    ${packages:+mailtun_packages="$packages"} ${LAB_UML_ARGS:-} </dev/null >"$console" 2>&1 &
pid=$!
if [ -n "${LAB_PIDFILE:-}" ]; then
    # UML makes itself a session (and group) leader: the group to kill is the kernel's, the
    # child of timeout, not timeout's own.
    upid=
    for _ in $(seq 100); do
        upid=$(ps -o pid= --ppid "$pid" 2>/dev/null | tr -d ' ' | head -n 1)
        [ -n "$upid" ] && break
        sleep 0.05
    done
    echo "${upid:-$pid}" >"$LAB_PIDFILE"
fi
if [ "${LAB_VERBOSE:-0}" = 1 ]; then
    tail -n +1 -f --pid=$pid "$console" &
fi
wait $pid
uml_rc=$?
kill -KILL -- -"$pid" 2>/dev/null
[ -n "${upid:-}" ] && kill -KILL -- -"$upid" 2>/dev/null
wait 2>/dev/null
elapsed=$(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }')

explain() {           # print what a reader needs to see why the scenario failed
    echo "---- last lines of $results/scenario.log"
    tail -n 25 "$results/scenario.log" 2>/dev/null | sed 's/^/    /'
    local f errs
    for f in "$results"/*pppd*.log "$results"/syslog.log "$results"/*postfix*.log; do
        [ -f "$f" ] || continue
        # syslog.log repeats the pppd logs; show only what the others (pptpd, pptp) said there
        errs=$(grep -v ' pppd\[[0-9]*\]: ' "$f" |
               grep -iE 'error|fail|refus|denied|not authorized|timeout|terminat|fatal|panic|couldn|cannot|unable' | tail -n 12)
        [ -n "$errs" ] && { echo "---- errors in $f"; sed 's/^/    /' <<<"$errs"; }
    done
    echo "---- last lines of $console"
    tail -n 10 "$console" | sed 's/^/    /'
    echo "---- all logs: $results"
}

if [ ! -s "$results/exit-code" ]; then
    explain
    if [ "$uml_rc" = 124 ] || [ "$uml_rc" = 137 ]; then
        echo "boot.sh: FAIL $name: guest killed by the host timeout after ${timeout_s}s (LAB_TIMEOUT), no exit code"
    else
        echo "boot.sh: FAIL $name: guest ended (linux.uml exit $uml_rc) without an exit code"
    fi
    exit 1
fi
rc=$(cat "$results/exit-code")
case $rc in
0)  echo "boot.sh: PASS $name ($elapsed s), logs in $results";;
77) echo "boot.sh: SKIP $name: $(grep -v '^lab-init' "$results/scenario.log" | tail -n 1)";;
*)  explain
    echo "boot.sh: FAIL $name (exit $rc, $elapsed s)";;
esac
exit "$rc"
