#!/bin/sh
# run.sh — run every libFuzzer target in $B/tests/fuzz for FUZZ_SECONDS each, on a scratch copy
# of its seed corpus (the repository's corpus stays as committed). Any crash fails the run and
# leaves the reproducer in $B/fuzz-artifacts/.
set -u
cd "$(dirname "$0")/../.."
B=${B:-build-fuzz}
secs=${FUZZ_SECONDS:-30}
status=0 passed=0 failed=0
mkdir -p "$B/fuzz-artifacts"
for f in "$B"/tests/fuzz/fuzz_*; do
    [ -x "$f" ] || continue
    name=$(basename "$f" | sed 's/^fuzz_//')
    work=$(mktemp -d)
    [ -d "tests/fuzz/corpus/$name" ] && cp -r "tests/fuzz/corpus/$name/." "$work/"
    if "$f" -max_total_time="$secs" -rss_limit_mb=1024 -print_final_stats=1 \
        -artifact_prefix="$B/fuzz-artifacts/$name-" "$work" >"$B/fuzz-$name.log" 2>&1; then
        execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$B/fuzz-$name.log")
        echo "PASS fuzz/$name: $execs executions in $secs s"
        passed=$((passed + 1))
    else
        echo "FAIL fuzz/$name: see $B/fuzz-$name.log and $B/fuzz-artifacts/"
        tail -n 20 "$B/fuzz-$name.log"
        failed=$((failed + 1)); status=1
    fi
    rm -rf "$work"
done
echo "$passed passed, $failed failed"
exit $status
