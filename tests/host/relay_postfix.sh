#!/bin/bash
# relay_postfix.sh — a real Postfix as the provider's MTA pushes mail into mailrelayd.
#
# A private Postfix instance (config, queue and data directories and its log file all in the
# test's mktemp dir; smtpd on its own loopback port) relays example.net to
# [127.0.0.1]:<mailrelayd port> through transport_maps, with opportunistic STARTTLS. Messages
# are submitted to Postfix's smtpd with swaks. Checks: Postfix logs status=sent with
# mailrelayd's "queued as <qid>" for every message, each of those queue ids is in mailrelayd's
# spool with the right Message-ID, the hop used TLS, and a recipient mailrelayd refuses
# (unknown user) makes Postfix bounce rather than retry. Postfix is stopped on every exit path.
set -u
. "$(dirname "$0")/lib/common.sh"
source "$ROOT/tests/host/lib/postfix_instance.sh"

pf_need swaks python3 openssl
id nobody >/dev/null 2>&1 || { echo "skip: no user nobody"; exit 77; }
[ -x "$RELAYD" ] || { echo "mailrelayd not built in $B"; exit 1; }

pf_work relay-postfix
# at_least FN N: FN (a counting function) prints at least N; re-run on every poll
at_least() { [ "$("$1")" -ge "$2" ]; }

P=$(free_port) PFP=$(free_port) DEAD=$(free_port)

# --- mailrelayd ----------------------------------------------------------------------------------
openssl req -x509 -newkey rsa:2048 -nodes -keyout "$work/key.pem" -out "$work/cert.pem" -days 2 \
    -subj /CN=mx.example.net >/dev/null 2>&1 || { echo "FAIL: openssl req cannot make the test certificate"; exit 1; }
printf 'bob@example.net\nalice@example.net\n' >"$work/recipients"
for i in $(seq 1 10); do echo "u$i@example.net"; done >>"$work/recipients"
write_relay_conf <<EOC
hostname = mx.example.net
recipients = $work/recipients
provider_networks = 127.0.0.1/32
tls_cert = $work/cert.pem
tls_key = $work/key.pem

[inside]
server = 127.0.0.1:$DEAD
retry_base = 1h
EOC
"$RELAYD" -f -c "$work/mailtun.conf" >"$work/relayd.log" 2>&1 &
RPID=$!; pids+=("$RPID")
wait_for 10 "mailrelayd listening" port_open "$P"

# --- the provider's Postfix ---------------------------------------------------------------------------
pf_instance "$PF" "$PFP" "relay_domains = example.net" \
    "transport_maps = inline:{ example.net=smtp:[127.0.0.1]:$P }" \
    "smtp_tls_security_level = may" "smtp_tls_loglevel = 1" "bounce_queue_lifetime = 0" \
    "queue_run_delay = 1s" "minimal_backoff_time = 1s" "maximal_backoff_time = 2s"
ok "private Postfix $(postconf -c "$PF" -h mail_version) on 127.0.0.1:$PFP relays example.net to mailrelayd on $P"

# --- push mail through Postfix ---------------------------------------------------------------------------
N=10
for i in $(seq 1 $N); do
    swaks --server 127.0.0.1:$PFP --to "u$i@example.net" --from "sender$i@example.org" \
          --header "Message-Id: <pf-$i@test>" >"$work/swaks-$i.log" 2>&1 \
        || { cat "$work/swaks-$i.log"; fail "Postfix did not take message $i"; }
done
swaks --server 127.0.0.1:$PFP --to "nosuchuser@example.net" --from "sender@example.org" \
      --header "Message-Id: <pf-unknown@test>" >"$work/swaks-unknown.log" 2>&1 || fail "Postfix did not take the unknown-user message"
sent() { grep -c "to=<u[0-9]*@example.net>, relay=127.0.0.1\[127.0.0.1\]:$P,.*status=sent" "$PF/maillog" 2>/dev/null; }
wait_for 60 "Postfix status=sent for $N messages" at_least sent $N
ok "Postfix log: $N x status=sent to 127.0.0.1[127.0.0.1]:$P"

missing=0
for i in $(seq 1 $N); do
    line=$(grep "to=<u$i@example.net>, relay=127.0.0.1\[127.0.0.1\]:$P,.*status=sent" "$PF/maillog" | tail -n 1)
    qid=$(sed -n 's/.*queued as \([0-9a-f]\{20\}\).*/\1/p' <<<"$line")
    if [ -z "$qid" ] || ! grep -q "^Message-Id: <pf-$i@test>" "$work/spool/queue/$qid.data" 2>/dev/null; then
        echo "message $i: mailrelayd qid '$qid' not in the spool with its Message-Id"; missing=$((missing + 1))
    fi
done
[ "$missing" = 0 ] || fail "$missing messages missing in mailrelayd's spool"
ok "every queue id Postfix logged from mailrelayd's 250 is in the spool with its Message-Id"

grep -q "Anonymous TLS connection established to 127.0.0.1\[127.0.0.1\]:$P\|TLS connection established to 127.0.0.1\[127.0.0.1\]:$P" "$PF/maillog" \
    || fail "Postfix did not use STARTTLS to mailrelayd"
grep -q "smtp tls handshake done client=127.0.0.1" "$work/relayd.log" || fail "mailrelayd did not log the TLS handshake"
ok "the hop used STARTTLS"

wait_for 30 "Postfix bounce for the unknown user" grep -q "to=<nosuchuser@example.net>.*status=bounced.*550 5.1.1" "$PF/maillog"
ok "unknown user: mailrelayd's 550 5.1.1 made Postfix bounce"

kill -TERM "$RPID"; wait "$RPID"; rc=$?
[ "$rc" = 0 ] || fail "mailrelayd exit status $rc after SIGTERM"
if grep -q "AddressSanitizer\|LeakSanitizer\|runtime error:" "$work/relayd.log"; then
    grep -A30 "Sanitizer\|runtime error" "$work/relayd.log" | head -60
    fail "sanitizer report"
fi
ok "mailrelayd stopped cleanly, no sanitizer report"
echo "relay_postfix: all checks passed"
