#!/bin/bash
# delivery_8bit.sh — no silent downgrade (issue 18.8): a message that needs 8BITMIME or
# SMTPUTF8 is bounced, not sent, when the next hop does not offer the extension
# (RFC 6152 section 3, RFC 6531 section 3.4); with the extension offered it is sent with
# BODY=8BITMIME / SMTPUTF8 (the negative control). Next hop: Postfix's smtp-sink, whose -8
# option hides 8BITMIME (it never announces SMTPUTF8). Drives build/tests/host/delivery_tool.
set -u

. "$(dirname "$0")/lib/common.sh"
TOOL=$B/tests/host/delivery_tool
SINK=
for s in /usr/sbin/smtp-sink /usr/lib/postfix/sbin/smtp-sink /usr/libexec/postfix/smtp-sink; do
    [ -x "$s" ] && SINK=$s && break
done
[ -n "$SINK" ] || skip "smtp-sink not installed (Debian package postfix)"
id nobody >/dev/null 2>&1 || skip "user nobody missing (smtp-sink drops privileges to it)"
[ -x "$TOOL" ] || { echo "FAIL: $TOOL not built (make)"; exit 1; }

make_work mt-8bit
T=$work

ndump() { find "$1" -type f 2>/dev/null | wc -l; }

# 1. the next hop offers neither extension: both kinds bounce with the right code, nothing sent
P=$(free_port)
sink_start "$T/d1" "$P" -8
out=$("$TOOL" -F 8bitmime -n 1 -t 20 "$T/s1" 127.0.0.1 "$P" 2>"$T/1.log")
echo "8bitmime, not offered: $out"
[ "$(ndump "$T/d1")" = 0 ] || fail "8-bit body sent to a server without 8BITMIME ($(ndump "$T/d1") captured)"
grep -q 'status=bounced (554 5.6.3 ' "$T/1.log" || fail "no 554 5.6.3 bounce: $(grep status= "$T/1.log")"
case $out in *"bounced=1 "*"bounces=1 "*) ok "8BITMIME missing: bounced with 5.6.3";;
    *) fail "8BITMIME missing: $out";; esac
out=$("$TOOL" -F smtputf8 -f "$(printf 'j\xc3\xb6rg@example.org')" -n 1 -t 20 "$T/s2" 127.0.0.1 "$P" 2>"$T/2.log")
echo "smtputf8, not offered: $out"
[ "$(ndump "$T/d1")" = 0 ] || fail "SMTPUTF8 message sent to a server without SMTPUTF8"
grep -q 'status=bounced (550 5.6.7 ' "$T/2.log" || fail "no 550 5.6.7 bounce: $(grep status= "$T/2.log")"
case $out in *"bounced=1 "*) ok "SMTPUTF8 missing: bounced with 5.6.7";; *) fail "SMTPUTF8 missing: $out";; esac
sink_stop

# 2. negative control: 8BITMIME offered, the same message goes out with BODY=8BITMIME
P=$(free_port)
sink_start "$T/d3" "$P"
out=$("$TOOL" -F 8bitmime -n 1 -t 20 "$T/s3" 127.0.0.1 "$P" 2>"$T/3.log")
echo "8bitmime, offered: $out"
case $out in *"sent=1 "*) ok "8BITMIME offered: sent";; *) fail "8BITMIME offered: $out";; esac
grep -q '^X-Mail-Args: <sender@example.org> BODY=8BITMIME' "$T"/d3/* && ok "8BITMIME offered: MAIL carried BODY=8BITMIME" ||
    fail "8BITMIME offered: MAIL without BODY=8BITMIME"
sink_stop

# 3. mailrelayd end to end: BODY=8BITMIME is what the client declares, an 8-bit octet is what
#    the message needs. A 7-bit message declared 8BITMIME still reaches a next hop without
#    8BITMIME; an 8-bit one is bounced (logged), never sent.
if [ "$(id -u)" = 0 ] && [ -x "$B/mailrelay/mailrelayd" ] && command -v python3 >/dev/null; then
    RELAYD=$B/mailrelay/mailrelayd
    S=$(free_port) P=$(free_port)
    sink_start "$T/d4" "$S" -8
    write_relay_conf "$T" <<EOC
[inside]
server = 127.0.0.1:$S
starttls = no
EOC
    start_relayd "$T/mailtun.conf" "$T/relayd.log"
    python3 - "$P" <<'EOP' || fail "python smtplib could not send"
import smtplib, sys
s = smtplib.SMTP("127.0.0.1", int(sys.argv[1]), timeout=20)
s.ehlo("client.test")
s.sendmail("a@example.org", ["u7@example.net"], b"Subject: seven\r\n\r\nonly ASCII here\r\n",
           mail_options=["BODY=8BITMIME"])
s.sendmail("b@example.org", ["u8@example.net"], "Subject: eight\r\n\r\nGr\u00fc\u00dfe\r\n".encode(),
           mail_options=["BODY=8BITMIME"])
s.quit()
EOP
    wait_for 20 "both messages settled" grep -q 'to=<u8@example.net>.*status=' "$T/relayd.log"
    wait_for 20 "the 7-bit message settled" grep -q 'to=<u7@example.net>.*status=' "$T/relayd.log"
    grep -q 'to=<u7@example.net>.*status=sent' "$T/relayd.log" && ok "mailrelayd: 7-bit message declared 8BITMIME sent" ||
        fail "mailrelayd: 7-bit message: $(grep 'to=<u7@' "$T/relayd.log")"
    grep -q 'to=<u8@example.net>.*status=bounced (554 5.6.3' "$T/relayd.log" && ok "mailrelayd: 8-bit message bounced with 5.6.3" ||
        fail "mailrelayd: 8-bit message: $(grep 'to=<u8@' "$T/relayd.log")"
    expect_n=$(grep -l '^Subject: eight' "$T"/d4/* 2>/dev/null | wc -l)
    [ "$expect_n" = 0 ] && ok "mailrelayd: nothing 8-bit reached the sink" || fail "8-bit message reached the sink"
    kill "$RPID" 2>/dev/null; wait "$RPID" 2>/dev/null
    sink_stop
else
    echo "note: section 3 (mailrelayd end to end) needs root and a built mailrelayd; skipped"
fi
echo "PASS"
