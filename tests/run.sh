#!/bin/bash
# run.sh — run mailtun's test tiers and print one closing line: "N passed, N failed, N skipped".
#
#   unit  every cmocka binary in $B/tests/unit (counts individual tests)
#   host  every tests/host/*.sh (root, loopback and namespaces the script makes itself)
#   lab   every tests/lab/scenarios/*.sh booted in user-mode-linux (or only those named in
#         $SCENARIO, space-separated; an unknown name is an error listing the known ones)
# A tier that ran no test at all counts as a failure.
#
# A script exits 0 for pass, 77 for skip (its last output line says why), anything else for fail.
# A skip is only for a capability the machine lacks (not root, no namespaces, a sanitizer
# build); a step of the test itself failing is a failure. The skips and their reasons are
# listed again before the closing line. A skip whose reason says "tests/deps.sh" (a package it
# installs is missing) is a failure when CI=true: CI machines run deps.sh first.
set -u
cd "$(dirname "$0")/.."
B=${B:-build}
TIERS=${TIERS:-unit host lab}
SCENARIO=${SCENARIO:-}
passed=0 failed=0 skipped=0
failures=() skips=()
logdir=$B/test-logs
mkdir -p "$logdir"

run_script() {            # tier name command...
    local tier=$1 name=$2; shift 2
    local log=$logdir/$tier-$name.log rc
    local t0=$SECONDS
    "$@" >"$log" 2>&1; rc=$?
    case $rc in
    0)  passed=$((passed + 1)); echo "PASS $tier/$name ($((SECONDS - t0)) s)";;
    77) local why; why=$(tail -n 1 "$log")
        if [ "${CI:-}" = true ] && [[ $why == *tests/deps.sh* ]]; then
            failed=$((failed + 1)); failures+=("$tier/$name")
            echo "FAIL $tier/$name: skipped for a missing package under CI=true (deps.sh installs it): $why"
        else
            skipped=$((skipped + 1)); skips+=("$tier/$name: $why"); echo "SKIP $tier/$name: $why"
        fi;;
    *)  failed=$((failed + 1)); failures+=("$tier/$name"); echo "FAIL $tier/$name (exit $rc), last lines of $log:"
        tail -n 25 "$log" | sed 's/^/    /';;
    esac
}

# A name that matches nothing would test nothing and pass: refuse it, naming what exists.
if [ -n "$SCENARIO" ]; then
    known=$(cd tests/lab/scenarios 2>/dev/null && ls -- *.sh 2>/dev/null | sed 's/\.sh$//' | tr '\n' ' ')
    for want in $SCENARIO; do
        [ -f "tests/lab/scenarios/$want.sh" ] && continue
        echo "run.sh: unknown scenario '$want'; known scenarios: ${known:-none}" >&2
        exit 2
    done
fi

for tier in $TIERS; do
    ran_before=$((passed + failed + skipped))
    case $tier in
    unit)
        for t in "$B"/tests/unit/test_*; do
            [ -x "$t" ] || continue
            name=$(basename "$t")
            out=$("$t" 2>&1); rc=$?
            p=$(sed -n 's/^\[  PASSED  \] \([0-9]*\) test.*/\1/p' <<<"$out" | tail -n 1)
            f=$(sed -n 's/^\[  FAILED  \] \([0-9]*\) test.*/\1/p' <<<"$out" | tail -n 1)
            s=$(sed -n 's/^\[  SKIPPED \] \([0-9]*\) test.*/\1/p' <<<"$out" | tail -n 1)
            passed=$((passed + ${p:-0})); failed=$((failed + ${f:-0})); skipped=$((skipped + ${s:-0}))
            [ "${s:-0}" != 0 ] && skips+=("unit/$name: ${s} cmocka test(s) skipped: $(sed -n 's/^\[  SKIPPED \] \(test_.*\)/\1/p' <<<"$out" | tr '\n' ' ')")
            if [ "$rc" != 0 ] || [ "${f:-0}" != 0 ] || [ -z "$p$f" ]; then
                [ -z "$p$f" ] && failed=$((failed + 1))
                failures+=("unit/$name"); echo "FAIL unit/$name"; sed 's/^/    /' <<<"$out" | grep -v '^\s*\[ \(RUN\|       OK\) ' | tail -n 30
            else
                echo "PASS unit/$name (${p:-0} tests)"
            fi
        done;;
    host)
        for s in tests/host/*.sh; do
            [ -f "$s" ] || continue
            run_script host "$(basename "$s" .sh)" bash "$s"
        done;;
    lab)
        case $(basename "$B") in build-san*)
            skipped=$((skipped + 1)); skips+=("lab: sanitizer build; the lab runs the normal build (mailtun.so lives in pppd, which is not sanitized)")
            echo "SKIP ${skips[-1]}"
            continue;;
        esac
        for s in tests/lab/scenarios/*.sh; do
            [ -f "$s" ] || continue
            name=$(basename "$s" .sh)
            [ -n "$SCENARIO" ] && case " $SCENARIO " in *" $name "*) ;; *) continue;; esac
            run_script lab "$name" tests/lab/boot.sh "$name"
        done;;
    *) echo "run.sh: unknown tier '$tier' (unit, host, lab)" >&2; exit 2;;
    esac
    # A tier that ran nothing (no binaries built in $B, no scripts) proved nothing: a failure.
    if [ $((passed + failed + skipped)) = "$ran_before" ]; then
        failed=$((failed + 1)); failures+=("$tier")
        case $tier in
        unit) where="no test binaries in $B/tests/unit: is $B built?";;
        host) where="no tests/host/*.sh";;
        *)    where="no scenario in tests/lab/scenarios${SCENARIO:+ matched SCENARIO=$SCENARIO}";;
        esac
        echo "FAIL $tier: ran no test ($where)"
    fi
done

if [ ${#skips[@]} -gt 0 ]; then
    echo "skipped:"
    printf '    %s\n' "${skips[@]}"
fi
[ ${#failures[@]} -gt 0 ] && echo "failed: ${failures[*]}"
echo "$passed passed, $failed failed, $skipped skipped"
[ "$failed" = 0 ]
