#!/bin/bash
# mailtund_ipsec_stop.sh — on SIGTERM with transport = l2tp-ipsec, mailtund sends charon
# terminate and unload-conn and waits (at most 3 s) for the answers before it exits: charon may
# drop a request whose client has gone, leaving mailtun's connection loaded (seen in the lab,
# nat-l2tp-ipsec). charon here is tests/host/peers/fake_vici.py, which holds initiate (the SA
# still being set up when the stop comes) and answers the stop requests late:
#   1. answers after 0.5 s: mailtund is still there to read both, logs "charon answered",
#      and only then exits;
#   2. no answer at all: mailtund exits after its 3 s, and its log says charon did not answer.
set -u
. "$(dirname "$0")/lib/common.sh"
PEERS=$ROOT/tests/host/peers
source "$PEERS/peers_lib.sh"
fail_context() {
    echo "--- mailtund log (last 20 lines)"; tail -n 20 "$work/mailtund.log" 2>/dev/null
    echo "--- fake charon"; cat "$work/vici.log" 2>/dev/null
}

( umask 077; echo "stop-test-key-0123456789" >"$work/ipsec.psk" )
cat >>"$work/mailtun.conf" <<EOC
transport = l2tp-ipsec
ipsec_socket = unix://$work/charon.vici
ipsec_id = gw@example.net
ipsec_psk_file = $work/ipsec.psk
EOC
said() { grep -q "^$1\$" "$work/vici.log"; }

# run DELAY — fake charon answering the stop after DELAY; mailtund up to its initiate, then
# SIGTERM; prints how long mailtund took to exit after the signal (seconds).
run() {
    : >"$work/vici.log"; : >"$work/mailtund.log"
    "$PEERS/fake_vici.py" --socket "$work/charon.vici" --log "$work/vici.log" --stop-delay "$1" &
    vici=$!; pids+=("$vici")
    wait_for 5 "the fake charon listening" said listening
    start_mailtund
    wait_for 10 "mailtund asking charon to initiate" said "request initiate"
    local t0=$EPOCHREALTIME
    stop_mailtund
    elapsed=$(awk -v a="$t0" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.2f", b - a }')
    wait_for 5 "the fake charon seeing mailtund go" said closed
    kill "$vici" 2>/dev/null; wait "$vici" 2>/dev/null
    sanitizer_clean
}

run 0.5
said "answered terminate" && said "answered unload-conn" ||
    fail "mailtund exited before charon answered its stop: $(tr '\n' ';' <"$work/vici.log")"
grep -q "ipsec stop conn=mailtun: charon answered: terminated and unloaded" "$work/mailtund.log" ||
    fail "mailtund did not log charon's answers"
awk -v e="$elapsed" 'BEGIN { exit !(e >= 0.5 && e < 3) }' || fail "mailtund took ${elapsed}s to exit (0.5-3 s expected)"
ok "1. stop answered after 0.5 s: mailtund read both answers and exited ${elapsed}s after SIGTERM"

run never
said "gone-before-answer terminate" || fail "the fake charon did not see mailtund leave unanswered: $(tr '\n' ';' <"$work/vici.log")"
line=$(grep -o "ipsec stop conn=mailtun: charon did not answer.*" "$work/mailtund.log") ||
    fail "mailtund did not log that charon never answered"
awk -v e="$elapsed" 'BEGIN { exit !(e >= 2.9 && e < 6) }' || fail "mailtund took ${elapsed}s to exit (3 s wait expected)"
ok "2. no answer: mailtund exited ${elapsed}s after SIGTERM: $line"
echo "mailtund_ipsec_stop: all checks passed"
