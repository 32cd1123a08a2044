#!/bin/bash
# crash_relay.sh — every "250" survives SIGKILL at a random moment, many times over.
#
# Three client threads (tests/host/peers/hardening.py push) send single-recipient messages
# with unique Message-IDs to mailrelayd on loopback for the whole run, retrying while the
# daemon is down. ROUNDS times (default 30): mailrelayd starts on the same spool, runs for a
# random 0.1–1.2 s (so the kill lands during recovery, while listening, mid-DATA, mid-commit
# or mid-delivery) and gets SIGKILL. In odd rounds an inside smtp-sink is up, so deliveries
# are cut too; each round's sink writes into its own directory. At the end the sink comes
# up for good, the queue is flushed and drained, and hardening.py verify checks:
#   - every Message-ID that got a 250 reached the sink (lost = 0);
#   - no delivery is half a message (each body carries its line count and an END trailer);
#   - duplicates only from the at-least-once window: the inside server said 250 but the kill
#     came before the spool removal. Every delivery that was repeated must be of a QID the
#     relay's logs know up to its round, and no log up to and including that round may say
#     "id=QID removed" (or "spool removed id=QID"); a round has at most as many duplicates as
#     inside connections (4): only in-flight deliveries can be in that window. ("status=sent"
#     is not required: the kill may come between the inside server's 250 and that log line.)
#   - incoming/, queue/ and quarantine/ empty (recovery removes data left without envelope by a
#     kill inside a commit or a removal: never an acknowledged, undelivered message); clean
#     SIGTERM, no sanitizer report.
# Figures are printed (rounds, acknowledged, delivered, duplicates, committed-but-unacked).
# Bounded: the rounds stop after BUDGET (60) s even if fewer than ROUNDS ran (at least 10 must);
# the drain waits at most 90 s.
set -u
. "$(dirname "$0")/lib/common.sh"
H=$ROOT/tests/host/peers/hardening.py
ROUNDS=${ROUNDS:-30}
BUDGET=${BUDGET:-60}       # seconds of kill rounds at most

need_relayd "mailrelayd drops to nobody"
# Debian's python3 first: a pyenv shim costs a second a call on a loaded machine
PY=$(ls /usr/bin/python3 2>/dev/null || command -v python3) || { echo "skip: python3 missing (run tests/deps.sh)"; exit 77; }
need_sink

make_work crash-relay
at_exit 'touch "$work/stop" 2>/dev/null'
fail_context() {
    KEEP=1; echo "evidence kept in $work (spool, round logs log.rN, sink/rN, acked)"
    echo "--- last mailrelayd log (last 30 lines)"; tail -n 30 "$(ls -t "$work"/log.* 2>/dev/null | head -n 1)" 2>/dev/null
}
count() { find "$work/spool/$1" -type f 2>/dev/null | wc -l; }
queue_empty() { [ "$(count queue)" = 0 ]; }

P=$(free_port) SP=$(free_port)
write_relay_conf <<EOC
max_sessions_per_client = 50

[inside]
server = 127.0.0.1:$SP
starttls = no
connections = 4
retry_base = 1s
retry_max = 2s
EOC
mkdir -p "$work/sink" && chmod 777 "$work/sink"

start_sink() {   # start_sink DIR
    mkdir -p "$1" && chmod 777 "$1"
    "$SINK" -u nobody -d "$1/%M." 127.0.0.1:$SP 50 >>"$work/sink.log" 2>&1 &
    SINKPID=$!; pids+=("$SINKPID")
}
stop_sink() {
    sleep 0.2          # let it see the relay's connections close (it drops unfinished dumps)
    kill -9 "$SINKPID" 2>/dev/null; wait "$SINKPID" 2>/dev/null
}

: >"$work/acked"
$PY "$H" push --port "$P" --threads 3 --ack "$work/acked" --stop "$work/stop" --prefix crash \
    >"$work/push.log" 2>&1 &
PUSH=$!; pids+=("$PUSH")

t0=$SECONDS
logs=()
kills_delivering=0
for r in $(seq 1 "$ROUNDS"); do
    sinkup=$((r % 2))
    [ $sinkup = 1 ] && start_sink "$work/sink/r$r" || mkdir -p "$work/sink/r$r"
    "$RELAYD" -f -c "$work/mailtun.conf" >"$work/log.r$r" 2>&1 &
    RPID=$!; pids+=("$RPID")
    logs+=("$work/log.r$r")
    ms=$((RANDOM % 1100 + 100))
    sleep "$((ms / 1000)).$(printf %03d $((ms % 1000)))"
    kill -0 "$RPID" 2>/dev/null || fail "round $r: mailrelayd died by itself (log.r$r)"
    kill -9 "$RPID"; wait "$RPID" 2>/dev/null
    [ $sinkup = 1 ] && stop_sink
    grep -q "status=sent" "$work/log.r$r" && kills_delivering=$((kills_delivering + 1))
    done_rounds=$r
    # time-bounded: a loaded machine runs fewer rounds (at least 10), never a longer test
    [ $((SECONDS - t0)) -ge "$BUDGET" ] && break
done
[ "$done_rounds" -ge 10 ] || [ "$done_rounds" = "$ROUNDS" ] || fail "only $done_rounds rounds in ${BUDGET}s"
ROUNDS=$done_rounds
touch "$work/stop"
wait "$PUSH"
acked=$(wc -l <"$work/acked")
ok "$ROUNDS rounds of SIGKILL in $((SECONDS - t0)) s; $(cat "$work/push.log"); $kills_delivering rounds were delivering when killed"
[ "$acked" -gt 0 ] || fail "no message was acknowledged at all"

last=$((ROUNDS + 1))
start_sink "$work/sink/r$last"
wait_for 5 "smtp-sink" port_open "$SP"
"$RELAYD" -f -c "$work/mailtun.conf" >"$work/log.r$last" 2>&1 &
RPID=$!; pids+=("$RPID")
logs+=("$work/log.r$last")
wait_for 15 "mailrelayd listening" port_open "$P"
"$CTL" -c "$work/mailtun.conf" queue flush >/dev/null 2>&1 || true
wait_for 90 "queue drained to the sink ($(count queue) files left)" queue_empty
ok "queue drained after the last restart"
kill -TERM "$RPID"; wait "$RPID"; rc=$?
[ "$rc" = 0 ] || fail "exit status $rc after SIGTERM"
stop_sink

[ "$(count incoming)" = 0 ] || fail "incoming/ holds $(count incoming) files"
[ "$(count queue)" = 0 ] || fail "queue/ holds $(count queue) files"
# A kill leaves nothing for a human: data without envelope (a commit or a removal cut
# short) is removed by recovery, so quarantine/ stays empty.
grep -h "spool quarantined" "${logs[@]}" && fail "recovery quarantined something after a kill"
[ "$(count quarantine)" = 0 ] || { ls -l "$work/spool/quarantine"; fail "quarantine/ holds $(count quarantine) files"; }
cut=$(grep -h -c 'reason="data without envelope"' "${logs[@]}" | awk '{n+=$1} END {print n+0}')
[ "$cut" = 0 ] || echo "note: recovery removed $cut unfinished data files (kill inside a commit or a removal; nothing acknowledged lost)"
recovered=$(sed -n 's/.*spool open .*loaded=\([0-9]*\).*removed=\([0-9]*\).*/\1 \2/p' "${logs[@]}" |
            awk '{l+=$1; r+=$2} END {print "loaded=" l+0 " incoming_removed=" r+0}')
completed=$(grep -h "spool completed commit" "${logs[@]}" | wc -l)
ok "spool clean: incoming/, queue/ and quarantine/ empty; unfinished data removed by recovery: $cut; over all restarts $recovered completed_commits=$completed"

out=$($PY "$H" verify --sink "$work/sink" --ack "$work/acked" --logs "${logs[@]}" --conns 4); rc=$?
echo "$out"
[ "$rc" = 0 ] || fail "delivery check failed"
if grep -l "AddressSanitizer\|LeakSanitizer\|runtime error:" "${logs[@]}"; then
    grep -h -A30 "Sanitizer\|runtime error" "${logs[@]}" | head -60
    fail "sanitizer report"
fi
ok "no sanitizer report"
echo "crash_relay: rounds=$ROUNDS unfinished_removed=$cut $(sed -n 's/^verify //p' <<<"$out" | head -n 1)"
echo "crash_relay: all checks passed"
