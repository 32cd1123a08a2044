#!/bin/bash
# delivery.sh — host test of mailrelay/deliver/delivery.c + smtp_client_conn.c against Postfix's smtp-sink.
#
# Drives build/tests/host/delivery_tool (spools test messages, runs the delivery loop, prints
# "sent=N deferred=N bounced=N done=N bounces=N inbound=N outbound=N") against real smtp-sink
# servers on 127.0.0.1 (free ports) and on a Unix socket:
#   1. SMTP, 2 connections, 12 messages x 2 recipients: all sent, every message captured once,
#      dot-stuffed lines arrive intact, bare LF arrives as a line of its own;
#   2. LMTP (smtp-sink -L): one reply per recipient, captured as LMTP;
#   3. LMTP over a Unix socket;
#   4. a sink answering 4xx to RCPT, replaced by a normal one: deferred, then delivered;
#   5. a sink answering 5xx to RCPT: bounced, an RFC 3464 report queued with the null sender,
#      direction outbound, and no bounce of a bounce for a null-sender message;
#   6. a sink killed with SIGKILL while the body is on its way: the message stays queued and is
#      delivered by the next sink;
#   7. a sink that drops the connection after the final dot: queued across a restart of the
#      tool (spool on disk), delivered next time;
#   8. nothing listening: deferred (connection refused), message kept;
#   9. STARTTLS against tests/host/tls_sink.py: opportunistic, verified (right and wrong name),
#      a server injecting a reply after its 220 (refused), a broken handshake (clear-text retry).
# Exit 77 if smtp-sink is missing.
set -u

. "$(dirname "$0")/lib/common.sh"
HERE=$ROOT
TOOL=$B/tests/host/delivery_tool
SINK=
for s in /usr/sbin/smtp-sink /usr/lib/postfix/sbin/smtp-sink /usr/libexec/postfix/smtp-sink; do
    [ -x "$s" ] && SINK=$s && break
done
skip() { echo "SKIP: $*"; exit 77; }
[ -n "$SINK" ] || skip "smtp-sink not installed (Debian package postfix; run tests/deps.sh)"
id nobody >/dev/null 2>&1 || skip "user nobody missing (smtp-sink drops privileges to it)"
for t in python3 openssl; do    # the STARTTLS part (section 9)
    command -v $t >/dev/null || skip "$t missing (run tests/deps.sh)"
done
[ -x "$TOOL" ] || { echo "FAIL: $TOOL not built (make)"; exit 1; }

make_work mt-delivery
T=$work
FAILS=0
SINK_PID=
TOOL_PID=
at_exit '[ -n "$SINK_PID" ] && kill -9 "$SINK_PID" 2>/dev/null; [ -n "$TOOL_PID" ] && kill "$TOOL_PID" 2>/dev/null'

# fail counts and goes on, so every section runs (common.sh's fail ends the test)
fail() { echo "FAIL: $*"; FAILS=$((FAILS + 1)); }
expect() {   # what actual expected
    if [ "$2" == "$3" ]; then ok "$1"; else fail "$1"; echo "   expected: [$3]"; echo "   got:      [$2]"; fi
}
field() { sed -n "s/.*\b$1=\([0-9]*\).*/\1/p" <<<"$2" | tail -n 1; }


# start_sink DUMPDIR LISTEN [options...]: runs smtp-sink, waits until it accepts connections
start_sink() {
    local dump=$1 listen=$2; shift 2
    mkdir -p "$dump"; chmod 777 "$dump"
    "$SINK" -u nobody -d "$dump/%M." "$@" "$listen" 64 >>"$T/sink.log" 2>&1 &
    SINK_PID=$!
    for _ in $(seq 50); do
        case $listen in
        unix:*) [ -S "${listen#unix:}" ] && return 0;;
        *) ss -Hltn "sport = :${listen##*:}" 2>/dev/null | grep -q . && return 0;;
        esac
        sleep 0.1
    done
    fail "smtp-sink did not start on $listen"; return 1
}
stop_sink() {
    [ -n "$SINK_PID" ] && { kill -9 "$SINK_PID" 2>/dev/null; wait "$SINK_PID" 2>/dev/null; }
    SINK_PID=
}
wait_log() {   # file pattern seconds
    for _ in $(seq $(($3 * 10))); do grep -q -- "$2" "$1" 2>/dev/null && return 0; sleep 0.1; done
    return 1
}
ndump() { find "$1" -type f 2>/dev/null | wc -l; }

# ---- 1. SMTP, pipelining, two connections ----------------------------------------------------
P=$(free_port)
start_sink "$T/d1" "127.0.0.1:$P"
out=$("$TOOL" -n 12 -r 2 -c 2 -t 20 "$T/s1" 127.0.0.1 "$P" 2>"$T/1.log"); rc=$?
expect "smtp: tool exits 0" "$rc" 0
expect "smtp: counts" "$out" "sent=24 deferred=0 bounced=0 done=12 bounces=0 inbound=0 outbound=0"
expect "smtp: 12 messages captured" "$(ndump "$T/d1")" 12
expect "smtp: each message once" "$(cat "$T"/d1/* | grep -c '^Subject: delivery test')" 12
expect "smtp: dot-stuffed lines arrive intact" \
    "$(cat "$T"/d1/* | grep -c '^\.a line starting with a dot$')/$(cat "$T"/d1/* | grep -c '^\.\.two dots$')" "12/12"
expect "smtp: bare LF became a line of its own" "$(cat "$T"/d1/* | grep -c '^end$')" 12
expect "smtp: two recipients per transaction" "$(cat "$T"/d1/* | grep -c '^X-Rcpt-Args: <rcpt1@example.com>')" 12
expect "smtp: log lines" "$(grep -c "status=sent (250" "$T/1.log")/$(grep -c ' removed$' "$T/1.log")/$(grep -c 'from=<sender@example.org> size=' "$T/1.log")" "24/12/12"
grep -q "relay=127.0.0.1\[127.0.0.1\]:$P delay=" "$T/1.log" && ok "smtp: relay=host[addr]:port in the log" || fail "smtp: relay in log"
expect "smtp: spool empty on disk" "$(ls "$T/s1/queue" | wc -l)" 0
stop_sink

# ---- 2. LMTP over TCP -------------------------------------------------------------------------
P=$(free_port)
start_sink "$T/d2" "127.0.0.1:$P" -L
out=$("$TOOL" -L -n 5 -r 3 -c 1 -t 20 "$T/s2" 127.0.0.1 "$P" 2>"$T/2.log"); rc=$?
expect "lmtp: tool exits 0" "$rc" 0
expect "lmtp: counts" "$out" "sent=15 deferred=0 bounced=0 done=5 bounces=0 inbound=0 outbound=0"
expect "lmtp: captured as LMTP" "$(cat "$T"/d2/* | grep -c '^X-Client-Proto: LMTP')" 5
stop_sink

# ---- 3. LMTP over a Unix socket ---------------------------------------------------------------
SOCK=$T/lmtp.sock
start_sink "$T/d3" "unix:$SOCK" -L
chmod 777 "$SOCK" 2>/dev/null
out=$("$TOOL" -L -n 3 -r 2 -t 20 "$T/s3" "$SOCK" unix 2>"$T/3.log"); rc=$?
expect "unix lmtp: tool exits 0" "$rc" 0
expect "unix lmtp: counts" "$out" "sent=6 deferred=0 bounced=0 done=3 bounces=0 inbound=0 outbound=0"
grep -q "relay=$SOCK delay=" "$T/3.log" && ok "unix lmtp: relay is the socket path" || fail "unix lmtp: relay in log"
stop_sink

# ---- 4. 4xx, then a working server ------------------------------------------------------------
P=$(free_port)
start_sink "$T/d4" "127.0.0.1:$P" -r RCPT
"$TOOL" -n 3 -r 1 -t 30 "$T/s4" 127.0.0.1 "$P" >"$T/4.out" 2>"$T/4.log" &
TOOL_PID=$!
wait_log "$T/4.log" "status=deferred (450" 10 && ok "4xx: deferred with the server's reply" || fail "4xx: no deferral seen"
stop_sink
start_sink "$T/d4b" "127.0.0.1:$P"
wait "$TOOL_PID"; rc=$?; TOOL_PID=
out=$(cat "$T/4.out")
expect "4xx: tool exits 0" "$rc" 0
expect "4xx: all sent in the end" "$(field sent "$out")/$(field done "$out")/$(field inbound "$out")" "3/3/0"
[ "$(field deferred "$out")" -ge 3 ] && ok "4xx: each deferred at least once" || fail "4xx: deferred=$(field deferred "$out")"
expect "4xx: delivered by the second server" "$(ndump "$T/d4b")" 3
stop_sink

# ---- 5. 5xx: bounce with the null sender ------------------------------------------------------
P=$(free_port)
start_sink "$T/d5" "127.0.0.1:$P" -f RCPT
out=$("$TOOL" -n 2 -r 2 -t 20 "$T/s5" 127.0.0.1 "$P" 2>"$T/5.log"); rc=$?
expect "5xx: tool exits 0" "$rc" 0
expect "5xx: counts" "$out" "sent=0 deferred=0 bounced=4 done=2 bounces=2 inbound=0 outbound=2"
expect "5xx: log says bounced with the reply" "$(grep -c 'status=bounced (500 5.3.0' "$T/5.log")" 4
envs=$(ls "$T"/s5/queue/*.data 2>/dev/null)    # a bounce's envelope: its data file's trailer
expect "5xx: bounces have the null sender" "$(cat $envs | grep -c '^sender -$')" 2
expect "5xx: bounces go outbound" "$(cat $envs | grep -c '^direction outbound$')" 2
expect "5xx: bounces go to the original sender" "$(cat $envs | grep -c '^rcpt pending 0 [0-9]* sender@example.org')" 2
datas=$(ls "$T"/s5/queue/*.data 2>/dev/null)
expect "5xx: RFC 3464 report" "$(cat $datas | grep -c 'report-type=delivery-status')" 2
expect "5xx: both recipients reported per bounce" "$(cat $datas | grep -c '^Final-Recipient: rfc822; rcpt[01]@example.com')" 4
expect "5xx: original headers quoted" "$(cat $datas | grep -c '^Subject: delivery test')" 2
# a null-sender message that bounces makes no bounce
out=$("$TOOL" -n 1 -r 1 -f "" -t 20 "$T/s5b" 127.0.0.1 "$P" 2>"$T/5b.log"); rc=$?
expect "5xx: bounce of a bounce discarded" "$rc/$out" "0/sent=0 deferred=0 bounced=1 done=1 bounces=0 inbound=0 outbound=0"
stop_sink

# ---- 6. server killed in the middle of the body -----------------------------------------------
P=$(free_port)
start_sink "$T/d6" "127.0.0.1:$P" -H 30 -T 8192
"$TOOL" -n 1 -s 8000000 -t 40 "$T/s6" 127.0.0.1 "$P" >"$T/6.out" 2>"$T/6.log" &
TOOL_PID=$!
# wait until DATA was accepted and the body is on its way, then kill the sink
for _ in $(seq 100); do
    [ "$(ss -Htn state established "dport = :$P" | awk '{s+=$2} END {print s+0}')" -gt 100000 ] && break
    sleep 0.1
done
stop_sink
wait_log "$T/6.log" "status=deferred" 10 && ok "kill mid-DATA: deferred" || fail "kill mid-DATA: no deferral"
grep -q "status=deferred (451 4.4.2 lost connection with 127.0.0.1\[127.0.0.1\]:$P while sending message body" "$T/6.log" &&
    ok "kill mid-DATA: reason names the step" || { fail "kill mid-DATA: reason"; grep status= "$T/6.log"; }
start_sink "$T/d6b" "127.0.0.1:$P"
wait "$TOOL_PID"; rc=$?; TOOL_PID=
out=$(cat "$T/6.out")
expect "kill mid-DATA: retried and sent" "$rc/$(field sent "$out")/$(field inbound "$out")" "0/1/0"
lines=$(cat "$T"/d6b/* 2>/dev/null | grep -c '^0123456789')
[ "$(ndump "$T/d6b")" = 1 ] && [ "$lines" -ge 102500 ] && ok "kill mid-DATA: complete message captured ($lines lines)" ||
    fail "kill mid-DATA: captured $(ndump "$T/d6b") message(s), $lines lines"
stop_sink

# ---- 7. connection dropped after the dot; queue survives a restart ----------------------------
P=$(free_port)
start_sink "$T/d7" "127.0.0.1:$P" -q .
out=$("$TOOL" -n 2 -t 3 "$T/s7" 127.0.0.1 "$P" 2>"$T/7.log"); rc=$?
expect "drop after dot: timeout, still queued" "$rc/$(field sent "$out")/$(field inbound "$out")" "2/0/2"
grep -q "while sending end of data" "$T/7.log" && ok "drop after dot: reason" || fail "drop after dot: reason"
stop_sink
start_sink "$T/d7b" "127.0.0.1:$P"
out=$("$TOOL" -t 20 "$T/s7" 127.0.0.1 "$P" 2>"$T/7b.log"); rc=$?
expect "drop after dot: delivered after restart" "$rc/$(field sent "$out")/$(field inbound "$out")" "0/2/0"
stop_sink

# ---- 8. nothing listening ---------------------------------------------------------------------
P=$(free_port)
out=$("$TOOL" -n 1 -t 3 "$T/s8" 127.0.0.1 "$P" 2>"$T/8.log"); rc=$?
expect "refused: timeout, still queued" "$rc/$(field inbound "$out")" "2/1"
grep -q "relay=none delay=.* status=deferred (451 4.4.1 connect to 127.0.0.1\[127.0.0.1\]:$P: Connection refused)" "$T/8.log" &&
    ok "refused: reason" || { fail "refused: reason"; grep status= "$T/8.log"; }

# ---- 9. STARTTLS (a small Python server: smtp-sink has no TLS) -------------------------------
if openssl req -x509 -newkey rsa:2048 -nodes -subj /CN=localhost -addext subjectAltName=DNS:localhost \
       -days 1 -keyout "$T/key.pem" -out "$T/cert.pem" >/dev/null 2>&1; then
    tls_sink() {   # mode dumpdir -> sets P, SINK_PID
        P=$(free_port); mkdir -p "$2"
        coproc TS { exec python3 "$HERE/tests/host/tls_sink.py" "$P" "$T/cert.pem" "$T/key.pem" "$2" "$1" 2>>"$T/sink.log"; }
        SINK_PID=$TS_PID
        local line; read -r -t 10 -u "${TS[0]}" line
        [ "$line" = ready ] || fail "tls_sink $1 did not start"
    }
    tls_sink good "$T/d9"
    out=$("$TOOL" -T opportunistic -n 2 -t 20 "$T/s9" 127.0.0.1 "$P" 2>"$T/9.log"); rc=$?
    expect "tls opportunistic: sent" "$rc/$(field sent "$out")" "0/2"
    expect "tls opportunistic: inside TLS" "$(cat "$T"/d9/*.msg | grep -c '^X-TLS: yes')" 2
    grep -q "smtpc tls relay=127.0.0.1\[127.0.0.1\]:$P protocol=TLSv1.[23]" "$T/9.log" && ok "tls: logged" || fail "tls: log line"
    out=$("$TOOL" -T verify -A "$T/cert.pem" -N localhost -n 1 -t 20 "$T/s9b" 127.0.0.1 "$P" 2>"$T/9b.log"); rc=$?
    expect "tls verify: sent with the right CA and name" "$rc/$(field sent "$out")/$(cat "$T"/d9/*.msg | grep -c '^X-TLS: yes')" "0/1/3"
    out=$("$TOOL" -T verify -A "$T/cert.pem" -N wrong.example -n 1 -t 3 "$T/s9c" 127.0.0.1 "$P" 2>"$T/9c.log"); rc=$?
    expect "tls verify: wrong name not delivered" "$rc/$(field sent "$out")/$(field inbound "$out")" "2/0/1"
    grep -q "status=deferred (451 4.4.1 TLS with .* failed: .*certificate verify failed" "$T/9c.log" &&
        ok "tls verify: reason" || { fail "tls verify: reason"; grep 'status=' "$T/9c.log"; }
    stop_sink

    tls_sink inject "$T/d9i"
    out=$("$TOOL" -T opportunistic -n 1 -t 3 "$T/s9i" 127.0.0.1 "$P" 2>"$T/9i.log"); rc=$?
    expect "starttls injection: refused, kept" "$rc/$(field sent "$out")/$(field inbound "$out")" "2/0/1"
    grep -q "sent data after its STARTTLS reply" "$T/9i.log" && ok "starttls injection: reason" || fail "starttls injection: reason"
    stop_sink

    tls_sink broken "$T/d9x"
    out=$("$TOOL" -T opportunistic -n 1 -t 10 "$T/s9x" 127.0.0.1 "$P" 2>"$T/9x.log"); rc=$?
    expect "broken tls: falls back to clear text" "$rc/$(field sent "$out")/$(cat "$T"/d9x/*.msg 2>/dev/null | grep -c '^X-TLS: no')" "0/1/1"
    stop_sink
else
    fail "openssl req cannot make the test certificate: the STARTTLS checks cannot run"
fi

# sanitizer builds (B=build-san) report into the tool's log
grep -l "runtime error\|Sanitizer" "$T"/*.log 2>/dev/null | while read -r f; do echo "FAIL: sanitizer report in $f"; done | grep -q . &&
    fail "sanitizer reports in the logs"

if [ "$FAILS" -gt 0 ]; then
    echo "delivery.sh: $FAILS check(s) failed; logs:"; for f in "$T"/*.log; do echo "== $f"; tail -n 15 "$f"; done
    exit 1
fi
echo "delivery.sh: all checks passed"
exit 0
