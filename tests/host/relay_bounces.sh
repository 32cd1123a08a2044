#!/bin/bash
# relay_bounces.sh — every queue entry has a way out (issue 18.2): mailrelayd against Postfix's
# smtp-sink as the inside server, no [outbound] smarthost (the sample's default).
#   1. inbound mail the inside server refuses (5xx): the bounce is logged and dropped, not
#      queued ("bounce not sent to <...>"); the spool ends empty;
#   2. LAN mail without a smarthost: bounced at once (554 5.4.4), the report goes to the LAN
#      sender through the inside server; the spool ends empty;
#   3. an outbound bounce left in the spool (what an older mailrelayd queued, and what
#      delivery_tool makes here): removed at start with a log line, not kept for ever;
#   4. [inside] send_bounces = yes without a smarthost is a configuration error naming the key.
set -u

. "$(dirname "$0")/lib/common.sh"
RELAYD=$B/mailrelay/mailrelayd
TOOL=$B/tests/host/delivery_tool
SINK=
for s in /usr/sbin/smtp-sink /usr/lib/postfix/sbin/smtp-sink /usr/libexec/postfix/smtp-sink; do
    [ -x "$s" ] && SINK=$s && break
done
need_root "mailrelayd drops to user nobody"
[ -n "$SINK" ] || skip "smtp-sink not installed (Debian package postfix)"
command -v python3 >/dev/null || skip "python3 missing (the SMTP client)"
[ -x "$RELAYD" ] && [ -x "$TOOL" ] || { echo "FAIL: mailrelayd or delivery_tool not built in $B"; exit 1; }

make_work mt-bounces
T=$work
fail_context() { echo "--- mailrelayd log (last 30 lines)"; tail -n 30 "$T/relayd.log" 2>/dev/null; }

queued() { find "$T/spool/queue" -type f 2>/dev/null | wc -l; }
send() {   # HOST PORT FROM TO
    python3 - "$@" <<'EOP'
import smtplib, sys
s = smtplib.SMTP(sys.argv[1], int(sys.argv[2]), timeout=20)
s.sendmail(sys.argv[3], [sys.argv[4]], b"Subject: way out\r\n\r\ntext\r\n")
s.quit()
EOP
}

S=$(free_port) P=$(free_port) L=$(free_port)
write_conf() {   # extra [inside] line
    write_relay_conf "$T" <<EOC
lan_listen = 127.0.0.2:$L
lan_networks = 127.0.0.0/8
[inside]
server = 127.0.0.1:$S
starttls = no
retry_base = 1s
$1
EOC
}

# 4 first (no daemon needed)
write_conf "send_bounces = yes"
out=$("$RELAYD" -n -c "$T/mailtun.conf" 2>&1) && fail "send_bounces = yes without smarthost accepted: $out"
case $out in *"[inside] send_bounces = yes needs [outbound] smarthost"*) ok "config error names the key: $out";;
    *) fail "config error does not name [inside] send_bounces: $out";; esac

# 3. an outbound bounce from an earlier life, then mailrelayd starts without a smarthost
sink_start "$T/d0" "$S" -f RCPT
"$TOOL" -n 1 -t 20 "$T/spool" 127.0.0.1 "$S" >"$T/tool.out" 2>"$T/tool.log"
grep -q "bounces=1 inbound=0 outbound=1" "$T/tool.out" || fail "delivery_tool did not leave an outbound bounce: $(cat "$T/tool.out")"
chown -R nobody "$T/spool"
write_conf ""
start_relayd "$T/mailtun.conf" "$T/relayd.log"
wait_for 10 "the old bounce removed" grep -q "bounce of a bounce discarded" "$T/relayd.log"
wait_for 10 "an empty queue" test "$(queued)" = 0
ok "old outbound bounce without a smarthost: $(grep -o 'status=bounced (554 5.4.4[^)]*)' "$T/relayd.log" | head -1), then dropped"

# 1. inbound mail refused by the inside server
send 127.0.0.1 "$P" "stranger@example.org" "u@example.net" || fail "mailrelayd did not take the inbound message"
wait_for 20 "the bounce dropped" grep -q "bounce not sent to <stranger@example.org>" "$T/relayd.log"
wait_for 10 "an empty queue" test "$(queued)" = 0
ok "inbound 5xx: $(grep -o 'bounce not sent to <stranger@example.org>.*' "$T/relayd.log" | head -1)"
grep -q "sender non-delivery notification" "$T/relayd.log" && fail "a bounce of inbound mail was queued"

# 2. LAN mail, no smarthost: bounced at once, the report reaches the LAN sender inside
sink_stop
sink_start "$T/d2" "$S"
send 127.0.0.2 "$L" "lan@example.net" "someone@elsewhere.example" || fail "the LAN listener did not take the message"
wait_for 20 "the LAN message bounced" grep -q "to=<someone@elsewhere.example>.*status=bounced (554 5.4.4" "$T/relayd.log"
wait_for 20 "the report delivered inside" grep -q "to=<lan@example.net>.*status=sent" "$T/relayd.log"
wait_for 10 "an empty queue" test "$(queued)" = 0
grep -l "report-type=delivery-status" "$T"/d2/* >/dev/null 2>&1 && ok "LAN mail without smarthost: bounced at once, report delivered to the LAN sender" ||
    fail "no delivery report reached the inside server"
echo "PASS"
