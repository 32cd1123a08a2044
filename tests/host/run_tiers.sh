#!/bin/bash
# run_tiers.sh — tests/run.sh itself must not pass when it tested nothing (issue 18 item 16):
# an unknown lab scenario is an error that names the known scenarios, and a tier that ran no
# test (unit binaries missing from $B) fails. Runs nothing slow: both stop before any test.
set -u
. "$(dirname "$0")/lib/common.sh"
cd "$ROOT"

out=$(SCENARIO=no-such-scenario TIERS=lab B=build tests/run.sh 2>&1); rc=$?
[ "$rc" != 0 ] || fail "unknown scenario accepted (exit 0): $out"
grep -q "unknown scenario 'no-such-scenario'; known scenarios: " <<<"$out" || fail "no error naming the scenario: $out"
first=$(ls tests/lab/scenarios/*.sh | head -n 1 | xargs basename | sed 's/\.sh$//')
grep -q "known scenarios: .*\b$first\b" <<<"$out" || fail "known scenarios not listed ($first missing): $out"
ok "SCENARIO=no-such-scenario: exit $rc, $(head -n 1 <<<"$out")"

empty=$(mktemp -d /tmp/run-tiers.XXXXXX)
out=$(TIERS=unit B=$empty tests/run.sh 2>&1); rc=$?
rmdir "$empty" 2>/dev/null; rm -rf "$empty"
[ "$rc" != 0 ] || fail "a unit tier with no binaries passed: $out"
grep -q "FAIL unit: ran no test" <<<"$out" || fail "no 'ran no test' failure: $out"
ok "unit tier with nothing built: exit $rc, $(grep 'ran no test' <<<"$out")"
echo "run_tiers: all checks passed"
