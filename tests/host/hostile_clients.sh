#!/bin/bash
# hostile_clients.sh — mailrelayd on loopback against abusive clients; it must cut each one at
# the configured limit, keep serving a legitimate session meanwhile, and keep its memory bounded.
#
# Limits configured short for the test: timeout_command 3s, max_sessions 20,
# max_sessions_per_client 5, max_commands 100, max_errors 5, max_recipients 50.
# Clients (tests/host/peers/hardening.py hostile NAME):
#   slowdrip    one byte a second: closed with 421 4.4.2 within ~timeout_command (the command
#               timeout is a deadline for a whole command, not an idle timer reset per byte)
#   flood       10 connections from one address: 5 greeted, 5 get 421 (max_sessions_per_client),
#               a legit session from another address served while they are open; 30 from six
#               addresses: 20 greeted, 10 get 421 (max_sessions)
#   noops       10,000 NOOPs in one write: exactly 100 answered, then 421 4.7.0 and closed
#   errors      unknown commands: 5 times 500, then 421 4.7.0 and closed
#   longline    a 4 MB command line (500 5.5.2, then the session goes on: NOOP 250, QUIT 221)
#               and a 4 MB line that never ends (421 and closed at timeout_command); neither
#               sits in memory: every session's in_peak (the most unparsed input mailrelayd
#               held at once, logged at disconnect) stays under IN_PEAK_BOUND (64 KB)
#   utf8        SMTPUTF8 with invalid UTF-8 / NUL / overlong forms in MAIL FROM and RCPT TO: 5xx
#   pipeline    5,001 commands in one write (exactly max_commands answered, then 421 4.7.0)
#               and 5,000 pipelined RCPTs (exactly max_recipients accepted, 452 for the rest
#               up to max_commands, then 421)
#   tlsgarbage  STARTTLS then random bytes, an HTTP request, a cut-short ClientHello: closed
#               (the last at the handshake timeout)
# After each client a legitimate transaction must get its 250 (during it, where the limits
# allow), VmRSS is printed, and at the end the peak (VmHWM) must stay within RSS_BOUND_KB
# (default 8 MB, 64 MB for a sanitizer build) of the baseline: a coarse guard against leaks;
# the precise one for long lines is in_peak. Clean SIGTERM, no sanitizer
# report. Bounded: about 40 s.
set -u
. "$(dirname "$0")/lib/common.sh"
H=$ROOT/tests/host/peers/hardening.py
case $(basename "$B") in *san*) RSS_BOUND_KB=${RSS_BOUND_KB:-65536};; *) RSS_BOUND_KB=${RSS_BOUND_KB:-8192};; esac

need_relayd "mailrelayd drops to nobody" openssl
PY=$(ls /usr/bin/python3 2>/dev/null || command -v python3) || { echo "skip: python3 missing (run tests/deps.sh)"; exit 77; }

make_work hostile-clients
failures=0
bad() { echo "FAIL: $*"; failures=$((failures + 1)); }
rss() { awk '/^VmRSS/ {print $2}' "/proc/$RPID/status"; }
hwm() { awk '/^VmHWM/ {print $2}' "/proc/$RPID/status"; }
hostile() { $PY "$H" hostile "$@" --port "$P"; }
legit() { $PY "$H" legit --port "$P"; }
alive() { kill -0 "$RPID" 2>/dev/null || fail "mailrelayd died"; }

openssl req -x509 -newkey rsa:2048 -nodes -keyout "$work/key.pem" -out "$work/cert.pem" -days 2 \
    -subj /CN=mx.test >/dev/null 2>&1 || { echo "FAIL: openssl req cannot make the test certificate"; exit 1; }
chmod 644 "$work/key.pem"
P=$(free_port) DEAD=$(free_port)
TIMEOUT=3
write_relay_conf <<EOC
tls_cert = $work/cert.pem
tls_key = $work/key.pem
max_sessions = 20
max_sessions_per_client = 5
max_commands = 100
max_errors = 5
max_recipients = 50
timeout_command = ${TIMEOUT}s
timeout_data_block = ${TIMEOUT}s

[inside]
# nobody listens: accepted messages stay queued
server = 127.0.0.1:$DEAD
starttls = no
EOC

"$RELAYD" -f -c "$work/mailtun.conf" >"$work/relayd.log" 2>&1 &
RPID=$!; pids+=("$RPID")
wait_for 10 "mailrelayd listening" port_open "$P"
for i in 1 2 3; do legit >/dev/null || fail "legitimate session refused before any abuse"; done
base=$(rss)
ok "baseline after 3 legitimate messages: VmRSS ${base} kB"

# The slow drip runs in the background through the other clients (one session of five).
hostile slowdrip --timeout "$TIMEOUT" >"$work/slowdrip.out" 2>&1 &
DRIP=$!; pids+=("$DRIP")

# run NAME ARGS...: the client in the background, a legit session while it runs, then its verdict
run() {
    local name=$1; shift
    hostile "$name" "$@" >"$work/$name.out" 2>&1 &
    local h=$!
    sleep 0.3
    local l; l=$(legit 2>&1) || bad "$name: legitimate session not served during the attack: $l"
    wait "$h"; local rc=$?
    sed 's/^/    /' "$work/$name.out"
    alive
    if [ "$rc" = 0 ]; then ok "$name: cut as configured; legit served; VmRSS $(rss) kB"
    else bad "$name: not handled as expected (see above)"; fi
}

run noops --n 10000 --expect 100
run errors --n 20 --expect 5
run longline --n 4000000 --timeout "$TIMEOUT"
IN_PEAK_BOUND=${IN_PEAK_BOUND:-65536}
in_peak=$(sed -n 's/.*smtp disconnect .* in_peak=\([0-9]*\).*/\1/p' "$work/relayd.log" | sort -n | tail -n 1)
[ -n "$in_peak" ] || bad "no in_peak figure in the disconnect lines of relayd.log"
if [ -n "$in_peak" ] && [ "$in_peak" -le "$IN_PEAK_BOUND" ]; then ok "long lines never held: largest in_peak $in_peak bytes (bound $IN_PEAK_BOUND)"
else bad "a session held ${in_peak:-?} bytes of unparsed input (bound $IN_PEAK_BOUND): a long line sits in memory"; fi
run utf8
run pipeline --n 5000 --rcpts 5000 --max-rcpt 50 --expect 100
run tlsgarbage --timeout "$TIMEOUT"
# per client: the flood comes from 127.0.0.2, the legit session inside the client from 127.0.0.1
hostile flood --n 10 --sources 1 --legit-port "$P" --expect-220 5 >"$work/flood1.out" 2>&1; rc=$?
sed 's/^/    /' "$work/flood1.out"
[ $rc = 0 ] && ok "flood from one address: max_sessions_per_client enforced, legit served meanwhile" ||
    bad "flood from one address"
wait "$DRIP" 2>/dev/null; drip_rc=$?
sed 's/^/    /' "$work/slowdrip.out"
if [ "$drip_rc" = 0 ]; then ok "slowdrip: closed at timeout_command (${TIMEOUT}s)"
else bad "slowdrip: a client sending one byte a second is not cut at timeout_command=${TIMEOUT}s (the timer is re-armed on every read)"; fi
sleep 0.5      # the drip's session is gone now: all 20 sessions free for the global flood
hostile flood --n 30 --sources 6 --expect-220 20 >"$work/flood2.out" 2>&1; rc=$?
sed 's/^/    /' "$work/flood2.out"
[ $rc = 0 ] && ok "flood from six addresses: max_sessions (20) enforced" || bad "flood from six addresses"
alive
# the flood's sessions are closed by the client; the daemon frees them at once
wait_for 10 "legitimate session after the floods" legit
ok "legitimate session served after the floods"

peak=$(hwm) now=$(rss)
echo "figures: VmRSS baseline=${base} kB now=${now} kB peak(VmHWM)=${peak} kB bound=baseline+${RSS_BOUND_KB} kB"
[ "$peak" -le $((base + RSS_BOUND_KB)) ] || bad "peak RSS ${peak} kB exceeds baseline ${base} + ${RSS_BOUND_KB} kB"
grep -q "smtp refused client=127.0.0.2 code=421 reason=\"max_sessions_per_client reached\"" "$work/relayd.log" ||
    bad "no max_sessions_per_client refusal logged"
grep -q "reason=\"max_sessions reached\"" "$work/relayd.log" || bad "no max_sessions refusal logged"

kill -TERM "$RPID"; wait "$RPID"; rc=$?
[ "$rc" = 0 ] || bad "exit status $rc after SIGTERM"
if grep -q "AddressSanitizer\|LeakSanitizer\|runtime error:" "$work/relayd.log"; then
    grep -A30 "Sanitizer\|runtime error" "$work/relayd.log" | head -60
    bad "sanitizer report"
fi
[ "$failures" = 0 ] || { echo "--- mailrelayd log (last 20 lines)"; tail -n 20 "$work/relayd.log"; echo "hostile_clients: $failures check(s) failed"; exit 1; }
echo "hostile_clients: all checks passed"
