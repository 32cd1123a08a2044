#!/bin/bash
# relay_protocol.sh — mailrelayd's SMTP side on loopback, against swaks and a raw socket client.
#
# Starts mailrelayd (from $B, so SANITIZE builds are what runs) as root dropping to nobody,
# with a spool and a config in a mktemp dir, and checks: a normal message (250 with the queue
# id, on disk, logged with id=), relaying refused (554 5.7.1), unknown user with a recipients
# file (550 5.1.1), SMTP smuggling variants refused and never two messages, SIZE= and real
# oversize (552), too many recipients (452 4.5.3), PIPELINING, STARTTLS with a self-signed
# certificate (no STARTTLS offered after TLS; commands pipelined behind STARTTLS discarded),
# a line over 1000 octets (500), max_sessions_per_client (421), clients vanishing mid-DATA
# (no message, no descriptor leak, daemon keeps serving), a client closing right after the
# final dot (message still committed), provider_networks and the LAN listener (second
# instance), SIGTERM shutdown, and no sanitizer report in the daemon's log.
set -u
. "$(dirname "$0")/lib/common.sh"

need_relayd "mailrelayd drops to nobody" swaks python3 openssl
# The capability, not the command: swaks speaks TLS only with Net::SSLeay (sections 6-11).
swaks --support 2>&1 | grep -q '^=== TLS supported' ||
    { echo "skip: swaks cannot do TLS: $(swaks --support 2>&1 | grep TLS) (package libnet-ssleay-perl; run tests/deps.sh)"; exit 77; }

make_work relay-protocol

queued() { find "$work/spool/queue" -name '*.data' 2>/dev/null | wc -l; }
incoming() { find "$work/spool/incoming" -type f 2>/dev/null | wc -l; }

P=$(free_port) PL=$(free_port) P2=$(free_port) DEAD=$(free_port)

# A raw SMTP client: every argument is a chunk to send (Python escapes, e.g. 'EHLO x\r\n').
# After each chunk the replies are read and printed with "<- ". Special chunks:
#   ~TEXT   send without waiting for a reply     @tls    start TLS (no verification)
#   @close  close the connection at once         @sleep  pause 0.3 s
#   @expect close: wait until the server closes, then print "<closed>"
cat >"$work/smtpc.py" <<'EOF'
import socket, ssl, sys, time, codecs
port = int(sys.argv[1])
s = socket.create_connection(("127.0.0.1", port), 5)
def read_replies(first_timeout=3.0):
    out = b""
    s.settimeout(first_timeout)
    try:
        while True:
            d = s.recv(65536)
            if not d:
                out += b"<closed>\n"
                break
            out += d
            lines = out.split(b"\r\n")
            # complete when the last full line is a final reply line ("ddd " or "ddd\r\n")
            full = [l for l in lines[:-1] if l]
            if full and len(full[-1]) >= 4 and full[-1][3:4] == b" " and lines[-1] == b"":
                s.settimeout(0.1)
    except socket.timeout:
        pass
    except (ConnectionResetError, BrokenPipeError):
        out += b"<reset>\n"
    for l in out.split(b"\r\n"):
        if l:
            print("<- " + l.decode("latin-1"), flush=True)
read_replies()
for arg in sys.argv[2:]:
    if arg == "@tls":
        ctx = ssl.create_default_context(); ctx.check_hostname = False; ctx.verify_mode = ssl.CERT_NONE
        s = ctx.wrap_socket(s, server_hostname="mx.test")
        print("<tls " + s.version() + ">", flush=True)
        continue
    if arg == "@close":
        s.close(); sys.exit(0)
    if arg == "@sleep":
        time.sleep(0.3); continue
    if arg == "@expect close":
        read_replies(5.0); continue
    quiet = arg.startswith("~")
    data = codecs.decode(arg[1:] if quiet else arg, "unicode_escape").encode("latin-1")
    try:
        s.sendall(data)
    except (ConnectionResetError, BrokenPipeError):
        print("<reset>"); sys.exit(0)
    if not quiet:
        read_replies()
s.close()
EOF
smtpc() { python3 "$work/smtpc.py" "$@"; }

openssl req -x509 -newkey rsa:2048 -nodes -keyout "$work/key.pem" -out "$work/cert.pem" -days 2 \
    -subj /CN=mx.test >/dev/null 2>&1 || { echo "FAIL: openssl req cannot make the test certificate"; exit 1; }
printf 'bob@example.net\n# a comment\n  Alice@Example.NET  \n' >"$work/recipients"
for i in 1 2 3 4 5 6; do echo "r$i@example.net"; done >>"$work/recipients"

write_relay_conf <<EOC
recipients = $work/recipients
tls_cert = $work/cert.pem
tls_key = $work/key.pem
max_message_size = 100k
max_recipients = 5
max_sessions_per_client = 3
max_errors = 50
timeout_command = 20s
log_level = debug

[inside]
# nobody listens here: messages stay queued for the checks
server = 127.0.0.1:$DEAD
retry_base = 1h
EOC

"$RELAYD" -n -c "$work/mailtun.conf" >/dev/null || fail "mailrelayd -n refuses the config"
ok "mailrelayd -n accepts the config"
"$RELAYD" -f -c "$work/mailtun.conf" >"$work/relayd.log" 2>&1 &
RPID=$!; pids+=("$RPID")
wait_for 10 "mailrelayd listening on $P" port_open "$P"
[ "$(stat -c %U "$work/spool")" = nobody ] || fail "spool not owned by nobody"
[ "$(stat -c %U "$work/spool/queue")" = nobody ] || fail "spool/queue not owned by nobody"
[ "$(awk '/^Uid:/{print $2}' /proc/$RPID/status)" = 65534 ] || fail "mailrelayd did not drop to nobody"
ok "started, spool owned by nobody, running as nobody"

# --- 1. a normal message ---------------------------------------------------------------------
out=$(swaks --server 127.0.0.1:$P --to bob@example.net --from alice@example.org \
      --header "Message-Id: <normal-1@test>" 2>&1)
qid=$(sed -n 's/.*250 2.0.0 Ok: queued as \([0-9a-f]\{20\}\).*/\1/p' <<<"$out")
[ -n "$qid" ] || { echo "$out"; fail "normal message: no 250 with queue id"; }
[ -f "$work/spool/queue/$qid.data" ] || fail "message $qid not in spool/queue"
grep -q "normal-1@test" "$work/spool/queue/$qid.data" || fail "message $qid data lacks its Message-Id"
grep -q "^Received: from .* by mx.test (mailrelayd) with ESMTP id $qid" "$work/spool/queue/$qid.data" \
    || grep -A1 "^Received:" "$work/spool/queue/$qid.data" | grep -q "id $qid" || fail "no Received: with the queue id"
# the envelope is the data file's trailer (mailrelay/spool/spool_trailer.h)
tail -c 27 "$work/spool/queue/$qid.data" | grep -q "^envelope-length [0-9]\{10\}$" || fail "data file $qid lacks the envelope trailer"
grep -q "^sender alice@example.org" "$work/spool/queue/$qid.data" || fail "envelope lacks the sender"
grep -q "message id=$qid client=127.0.0.1" "$work/relayd.log" || fail "no 'id=$qid client=' log line"
grep -q "message id=$qid from=<alice@example.org> size=[0-9]* nrcpt=1" "$work/relayd.log" || fail "no 'id=$qid from= size= nrcpt=' log line"
ok "normal message accepted as $qid, on disk, logged with id=$qid"

# --- 2. relaying and unknown users --------------------------------------------------------------
out=$(swaks --server 127.0.0.1:$P --to victim@example.com --from spam@example.org --quit-after RCPT 2>&1)
grep -q "<\*\* 554 5.7.1" <<<"$out" || { echo "$out"; fail "relay attempt not refused with 554 5.7.1"; }
grep -q "reject code=554 enh=5.7.1.*victim@example.com" "$work/relayd.log" || fail "relay refusal not logged"
ok "relay to example.com refused (554 5.7.1) and logged"
out=$(swaks --server 127.0.0.1:$P --to ghost@example.net --quit-after RCPT 2>&1)
grep -q "<\*\* 550 5.1.1" <<<"$out" || { echo "$out"; fail "unknown user not refused with 550 5.1.1"; }
out=$(swaks --server 127.0.0.1:$P --to ALICE@example.net --quit-after RCPT 2>&1)
grep -q "<-  250 2.1.5" <<<"$out" || { echo "$out"; fail "listed recipient (other case) refused"; }
ok "unknown recipient 550 5.1.1, listed one accepted case-insensitively"

# --- 3. smuggling ------------------------------------------------------------------------------
before=$(queued)
HEAD='EHLO smuggler\r\n'
TXN='MAIL FROM:<a@example.org>\r\nRCPT TO:<bob@example.net>\r\nDATA\r\n'
SMUG='MAIL FROM:<evil@example.org>\r\nRCPT TO:<bob@example.net>\r\nDATA\r\nsmuggled\r\n'
for v in 'LF.LF:hello\n.\n' 'CR.CR:hello\r.\r' 'LF.CRLF:hello\n.\r\n' 'CRLF.LF:hello\r\n.\n'; do
    name=${v%%:*} body=${v#*:}
    out=$(smtpc "$P" "$HEAD" "~MAIL FROM:<a@example.org>\r\nRCPT TO:<bob@example.net>\r\nDATA\r\n" \
          "@sleep" "~Subject: x\r\n\r\n$body$SMUG.\r\n" "QUIT\r\n")
    grep -q "queued as" <<<"$out" && { echo "$out"; fail "smuggling $name: a message was accepted"; }
    grep -q "^<- 554 5.6.0" <<<"$out" || { echo "$out"; fail "smuggling $name: no 554 5.6.0"; }
    ok "smuggling variant $name refused (554 5.6.0), nothing queued"
done
# bare LF / bare CR in commands
out=$(smtpc "$P" 'EHLO x\n' 'EHLO x\r\n' 'MAIL FROM:<a@example.org>\rRCPT TO:<bob@example.net>\r\n' 'QUIT\r\n')
[ "$(grep -c '^<- 500 5.5.2' <<<"$out")" -ge 2 ] || { echo "$out"; fail "bare LF/CR in commands not refused with 500"; }
[ "$(queued)" = "$before" ] || fail "smuggling tests changed the queue ($before -> $(queued))"
ok "bare LF / bare CR in command lines refused (500 5.5.2); queue unchanged"

# --- 4. sizes and recipients ---------------------------------------------------------------------
out=$(smtpc "$P" 'EHLO x\r\n' 'MAIL FROM:<a@example.org> SIZE=200000\r\n' 'QUIT\r\n')
grep -q "^<- 552 5.3.4" <<<"$out" || { echo "$out"; fail "SIZE=200000 not refused with 552"; }
big=$(python3 -c 'print("x" * 998 + "\\r\\n", end="")')
body=""; for i in $(seq 1 120); do body+=$big; done
out=$(smtpc "$P" 'EHLO x\r\n' "$TXN" "~Subject: big\r\n\r\n$body" '.\r\n' 'QUIT\r\n')
grep -q "^<- 552 5.3.4" <<<"$out" || { echo "$out" | tail -5; fail "120 kB body not refused with 552"; }
grep -q "queued as" <<<"$out" && fail "oversize message accepted"
ok "oversize refused: SIZE= 552 5.3.4, real data 552 5.3.4"
out=$(swaks --server 127.0.0.1:$P --to r1@example.net,r2@example.net,r3@example.net,r4@example.net,r5@example.net,r6@example.net 2>&1)
grep -q "452 4.5.3" <<<"$out" || { echo "$out"; fail "6th recipient not refused with 452 4.5.3"; }
q5=$(sed -n 's/.*queued as \([0-9a-f]\{20\}\).*/\1/p' <<<"$out")
[ -n "$q5" ] && [ "$(grep -c '^rcpt ' "$work/spool/queue/$q5.data")" = 5 ] || fail "message with 5 recipients not queued with 5"
ok "6th recipient 452 4.5.3, message queued with 5"

# --- 5. pipelining and line length -----------------------------------------------------------------
out=$(swaks --server 127.0.0.1:$P --pipeline --to bob@example.net --from p@example.org 2>&1)
grep -q "queued as" <<<"$out" || { echo "$out"; fail "PIPELINING transaction failed"; }
out=$(smtpc "$P" 'EHLO x\r\nMAIL FROM:<a@example.org>\r\nRCPT TO:<bob@example.net>\r\nRCPT TO:<alice@example.net>\r\nDATA\r\n' \
      '~Subject: one write\r\n\r\nbody\r\n.\r\nQUIT\r\n' '@expect close')
grep -q "queued as" <<<"$out" && grep -q "^<- 221" <<<"$out" || { echo "$out"; fail "whole transaction in one write failed"; }
ok "PIPELINING: swaks --pipeline and a whole transaction in two writes"
long=$(python3 -c 'print("a" * 1100, end="")')
out=$(smtpc "$P" 'EHLO x\r\n' "NOOP $long\r\n" 'NOOP\r\n' 'QUIT\r\n')
grep -q "^<- 500 5.5.2 Line too long" <<<"$out" || { echo "$out"; fail "1100-octet line not refused with 500"; }
grep -q "^<- 250 2.0.0 Ok" <<<"$out" || fail "session not usable after the long line"
ok "line over 1000 octets: 500 5.5.2, session goes on"

# --- 6. STARTTLS -----------------------------------------------------------------------------------
out=$(swaks --server 127.0.0.1:$P --tls --to bob@example.net --from tls@example.org 2>&1)
grep -q "<-  250-STARTTLS\|<-  250 STARTTLS" <<<"$out" || { echo "$out"; fail "STARTTLS not offered before TLS"; }
grep -q "<~  250.STARTTLS" <<<"$out" && fail "STARTTLS offered again after TLS"
grep -q "<~  250 2.0.0 Ok: queued as" <<<"$out" || { echo "$out"; fail "no message over TLS"; }
grep -q "smtp tls handshake done client=127.0.0.1 tls=\"TLSv1.[23]" "$work/relayd.log" || fail "TLS handshake not logged"
qt=$(sed -n 's/.*queued as \([0-9a-f]\{20\}\).*/\1/p' <<<"$out")
grep -A1 "^Received:" "$work/spool/queue/$qt.data" | grep -q "with ESMTPS" || fail "Received: lacks ESMTPS"
ok "STARTTLS: message over TLS, STARTTLS not offered after TLS, ESMTPS in Received:"
out=$(smtpc "$P" 'EHLO x\r\n' 'STARTTLS\r\nMAIL FROM:<injected@example.org>\r\n' '@tls' 'EHLO x\r\n' \
      'RCPT TO:<bob@example.net>\r\n' 'QUIT\r\n')
grep -q "^<- 220 2.0.0 Ready to start TLS" <<<"$out" || { echo "$out"; fail "no 220 to STARTTLS"; }
grep -q "^<- 503 5.5.1" <<<"$out" || { echo "$out"; fail "MAIL pipelined behind STARTTLS was not discarded (RCPT not 503)"; }
grep -q "injected" <<<"$out" && fail "the injected MAIL got a reply"
grep -q "smtp discarded bytes=[0-9]* reason=\"pipelined after STARTTLS\"" "$work/relayd.log" || fail "discard not logged"
ok "command pipelined behind STARTTLS discarded (RCPT after TLS gets 503)"
out=$(smtpc "$P" 'EHLO x\r\n' 'STARTTLS\r\n' '~this is not TLS\r\n' '@expect close')
grep -q "<closed>\|<reset>" <<<"$out" || { echo "$out"; fail "garbage instead of a TLS handshake did not close"; }
ok "a failed handshake closes the connection"

# --- 7. sessions per client --------------------------------------------------------------------------
python3 - "$P" <<'EOF' || fail "max_sessions_per_client not enforced"
import socket, sys, time
port = int(sys.argv[1])
held = []
for i in range(3):
    s = socket.create_connection(("127.0.0.1", port), 5); s.settimeout(5)
    assert s.recv(1000).startswith(b"220"), "session %d got no 220" % i
    held.append(s)
s = socket.create_connection(("127.0.0.1", port), 5); s.settimeout(5)
r = s.recv(1000)
print("4th:", r)
assert r.startswith(b"421 4.7.0"), r
assert s.recv(1000) == b"", "4th connection not closed"
for h in held: h.close()
time.sleep(0.3)
s = socket.create_connection(("127.0.0.1", port), 5); s.settimeout(5)
assert s.recv(1000).startswith(b"220"), "no 220 after the others closed"
EOF
ok "max_sessions_per_client = 3: 4th gets 421 4.7.0, a slot frees up after close"

# --- 8. clients vanishing ----------------------------------------------------------------------------
before=$(queued)
fds_before=$(ls /proc/$RPID/fd | wc -l)
for i in $(seq 1 10); do
    smtpc "$P" 'EHLO x\r\n' "$TXN" '~Subject: half\r\n\r\nsome text\r\nand more' '@close' >/dev/null
done
sleep 0.5
[ "$(queued)" = "$before" ] || fail "a vanished client left a message ($before -> $(queued))"
[ "$(incoming)" = 0 ] || fail "a vanished client left $(incoming) files in incoming/"
grep -q 'smtp disconnect .*reason="peer closed in DATA"' "$work/relayd.log" || fail "vanish in DATA not logged"
fds_after=$(ls /proc/$RPID/fd | wc -l)
[ "$fds_after" -le "$fds_before" ] || fail "descriptor leak: $fds_before -> $fds_after"
from=$(($(wc -l <"$work/relayd.log") + 1))
out=$(smtpc "$P" 'EHLO x\r\n' "$TXN" '~Subject: last words\r\n\r\nbye\r\n.\r\n' '@close')
sleep 0.5
[ "$(queued)" = $((before + 1)) ] || fail "message whose client closed right after the dot not committed"
# this session's own lines (every earlier QUIT logged reason="closed" too): queued, then its disconnect
last_id=$(tail -n +"$from" "$work/relayd.log" | sed -n 's/.*spool queued id=\([0-9a-f]*\).*/\1/p' | tail -n 1)
[ -n "$last_id" ] || fail "the message sent before the close is not logged as queued"
conn=$(tail -n +"$from" "$work/relayd.log" | sed -n 's/.*smtp connect client=127.0.0.1 conn=\([0-9]*\).*/\1/p' | tail -n 1)
[ -n "$conn" ] || fail "the last session's connect is not logged"
tail -n +"$from" "$work/relayd.log" | grep -q "smtp disconnect client=127.0.0.1 conn=$conn .*reason=\"\(peer closed\|closed\)\"" ||
    fail "the close right after the dot (conn=$conn, id=$last_id) is not logged: $(tail -n +"$from" "$work/relayd.log" | grep 'smtp disconnect')"
out=$(swaks --server 127.0.0.1:$P --to bob@example.net 2>&1)
grep -q "queued as" <<<"$out" || fail "daemon does not serve after vanishing clients"
ok "10 clients vanished mid-DATA: no message, no file in incoming/, fds $fds_before -> $fds_after; close after the dot still committed"

# --- 9. status through the control socket (smoke; mailtunctl_relay.sh does the rest) -------------------
"$B/ctl/mailtunctl" -c "$work/mailtun.conf" status >"$work/status.out" 2>&1
grep -q "mailrelayd *queued *$(queued)\$" "$work/status.out" || { cat "$work/status.out"; fail "status queued count wrong"; }
grep -q "mailrelayd *link *unknown" "$work/status.out" || fail "status link not unknown without mailtund"
ok "status: queued=$(queued), link unknown without mailtund"

# --- 10. provider_networks and the LAN listener ---------------------------------------------------------
sed -e "s|^listen = .*|listen = 127.0.0.1:$P2\nlan_listen = 127.0.0.1:$PL|" \
    -e "s|^spool = .*|spool = $work/spool2|" -e "s|$work/relayd.sock|$work/relayd2.sock|" \
    -e "s|^domains = .*|domains = example.net\nprovider_networks = 192.0.2.0/24\nlan_networks = 127.0.0.0/8|" \
    "$work/mailtun.conf" >"$work/mailtun2.conf"
"$RELAYD" -f -c "$work/mailtun2.conf" >"$work/relayd2.log" 2>&1 &
R2=$!; pids+=("$R2")
wait_for 10 "second mailrelayd" port_open "$PL"
out=$(smtpc "$P2" 'EHLO x\r\n' '@expect close')
grep -q "^<- 554 5.7.1" <<<"$out" || { echo "$out"; fail "client outside provider_networks not refused with 554"; }
ok "client outside provider_networks refused at the greeting (554 5.7.1)"
out=$(swaks --server 127.0.0.1:$PL --to someone@example.com --from inside@example.net 2>&1)
ql=$(sed -n 's/.*queued as \([0-9a-f]\{20\}\).*/\1/p' <<<"$out")
[ -n "$ql" ] || { echo "$out"; fail "LAN client could not relay to example.com"; }
# (no smarthost here, so it bounces at once: the spool's log line shows its direction)
wait_for 10 "the LAN message spooled" grep -q "spool queued id=$ql .*direction=outbound" "$work/relayd2.log"
ok "LAN listener: lan_networks client relays to example.com, spooled as outbound"
kill -TERM "$R2"; wait "$R2" 2>/dev/null

# --- 11. SIGTERM with an idle session open, and the sanitizer verdict ---------------------------------------
python3 - "$P" "$work/term.ready" >"$work/term.out" 2>&1 <<'EOF' &
import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), 5); s.settimeout(8)
s.recv(1000); s.sendall(b"EHLO idle\r\n"); s.recv(1000)
open(sys.argv[2], "w").close()
print(s.recv(1000).decode())
EOF
TP=$!
wait_for 10 "idle client connected" test -f "$work/term.ready"
kill -TERM "$RPID"
for i in $(seq 1 100); do kill -0 "$RPID" 2>/dev/null || break; sleep 0.1; done
kill -0 "$RPID" 2>/dev/null && fail "mailrelayd still running 10 s after SIGTERM"
wait "$RPID"; rc=$?
wait "$TP"
[ "$rc" = 0 ] || fail "mailrelayd exit status $rc after SIGTERM"
grep -q "421 4.3.2" "$work/term.out" || { cat "$work/term.out"; fail "idle session not told 421 at shutdown"; }
ok "SIGTERM: idle session got 421 4.3.2, exit status 0"
for log in "$work/relayd.log" "$work/relayd2.log"; do
    if grep -q "AddressSanitizer\|LeakSanitizer\|runtime error:" "$log"; then
        grep -A30 "Sanitizer\|runtime error" "$log" | head -60
        fail "sanitizer report in $(basename "$log")"
    fi
done
ok "no sanitizer report"
echo "relay_protocol: all checks passed"
