#!/bin/sh
# run.sh — for every libFuzzer target in $B/tests/fuzz: first replay each input in
# tests/fuzz/regress/<target>/ once (inputs that once crashed it; any failure fails the run),
# then fuzz for FUZZ_SECONDS on a scratch copy of its seed corpus (the repository's corpus
# stays as committed). Any crash fails the run and leaves the reproducer in
# $B/fuzz-artifacts/; copy it into tests/fuzz/regress/<target>/ with the fix (README there).
set -u
cd "$(dirname "$0")/../.."
B=${B:-build-fuzz}
secs=${FUZZ_SECONDS:-30}
status=0 passed=0 failed=0
mkdir -p "$B/fuzz-artifacts"
for f in "$B"/tests/fuzz/fuzz_*; do
    [ -x "$f" ] || continue
    name=$(basename "$f" | sed 's/^fuzz_//')
    regress=$(find "tests/fuzz/regress/$name" -type f 2>/dev/null | sort)
    if [ -n "$regress" ]; then
        # shellcheck disable=SC2086 # one file name a word; the names have no blanks
        if "$f" -rss_limit_mb=1024 $regress >"$B/fuzz-$name-regress.log" 2>&1; then
            echo "PASS fuzz/$name: $(echo "$regress" | wc -l) regression input(s) replayed"
        else
            echo "FAIL fuzz/$name: a regression input in tests/fuzz/regress/$name/ fails again: see $B/fuzz-$name-regress.log"
            tail -n 20 "$B/fuzz-$name-regress.log"
            failed=$((failed + 1)); status=1
        fi
    fi
    work=$(mktemp -d)
    [ -d "tests/fuzz/corpus/$name" ] && cp -r "tests/fuzz/corpus/$name/." "$work/"
    if "$f" -max_total_time="$secs" -rss_limit_mb=1024 -print_final_stats=1 \
        -artifact_prefix="$B/fuzz-artifacts/$name-" "$work" >"$B/fuzz-$name.log" 2>&1; then
        execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$B/fuzz-$name.log")
        echo "PASS fuzz/$name: $execs executions in $secs s"
        passed=$((passed + 1))
    else
        echo "FAIL fuzz/$name: see $B/fuzz-$name.log; the input is in $B/fuzz-artifacts/ (keep it in tests/fuzz/regress/$name/)"
        tail -n 20 "$B/fuzz-$name.log"
        failed=$((failed + 1)); status=1
    fi
    rm -rf "$work"
done
echo "$passed passed, $failed failed"
exit $status
