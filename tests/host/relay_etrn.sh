#!/bin/bash
# relay_etrn.sh — ETRN on link-up against a real Postfix as the provider's MTA.
#
# The provider's Postfix holds mail for example.net that it could not push (mailrelayd was
# not there yet) and, with hour-long retry timers, would keep it for an hour. mailrelayd
# starts, hears LINK_UP from a scripted mailtund, sends ETRN example.net to Postfix
# (fast_flush_domains), and the mail arrives at once. Checks mailrelayd's ETRN log line and
# status, Postfix's log, and that every held message is now in mailrelayd's spool.
set -u
. "$(dirname "$0")/lib/common.sh"
source "$ROOT/tests/host/lib/postfix_instance.sh"

pf_need swaks python3
[ -x "$RELAYD" ] || { echo "mailrelayd not built in $B"; exit 1; }

pf_work relay-etrn
# at_least FN N: FN (a counting function) prints at least N; re-run on every poll
at_least() { [ "$("$1")" -ge "$2" ]; }

P=$(free_port) PFP=$(free_port) DEAD=$(free_port)
pf_instance "$PF" "$PFP" "relay_domains = example.net" \
    "transport_maps = inline:{ example.net=smtp:[127.0.0.1]:$P }" \
    "fast_flush_domains = example.net" "smtpd_etrn_restrictions = permit_mynetworks, reject" \
    "queue_run_delay = 1h" "minimal_backoff_time = 1h" "maximal_backoff_time = 2h" \
    "smtp_connect_timeout = 2s"
ok "provider Postfix on 127.0.0.1:$PFP, example.net to 127.0.0.1:$P, ETRN allowed, retries hourly"

# --- mail arrives at the provider while the customer is offline ----------------------------
N=5
for i in $(seq 1 $N); do
    swaks --server 127.0.0.1:$PFP --to "u$i@example.net" --from "s$i@example.org" \
          --header "Message-Id: <etrn-$i@test>" >"$work/swaks-$i.log" 2>&1 || fail "Postfix did not take message $i"
done
deferred() { grep -c "to=<u[0-9]*@example.net>.*status=deferred" "$PF/maillog" 2>/dev/null; }
wait_for 30 "$N messages deferred at the provider" at_least deferred $N
ok "$N messages deferred at the provider (customer offline); next retry in an hour"

# --- the customer comes up: LINK_UP, ETRN, mail flows ----------------------------------------
write_relay_conf <<EOC
hostname = gw.example.net
provider_networks = 127.0.0.1/32

[inside]
server = 127.0.0.1:$DEAD
retry_base = 1h

[outbound]
etrn_host = 127.0.0.1:$PFP
etrn_domains = example.net
EOC
"$ROOT/tests/host/peers/link_mailtund.py" "$work/mailtund.sock" --up-when "$work/link-up" >"$work/fake.log" 2>&1 &
pids+=($!)
"$RELAYD" -f -c "$work/mailtun.conf" >"$work/relayd.log" 2>&1 &
RPID=$!; pids+=("$RPID")
wait_for 10 "mailrelayd listening" port_open "$P"
sleep 1
[ -z "$(ls "$work/spool/queue" 2>/dev/null)" ] || fail "mail arrived before the link came up"
t0=$(date +%s%3N)
touch "$work/link-up"
queued() { ls "$work/spool/queue" 2>/dev/null | grep -c '\.data$'; }
wait_for 20 "$N messages in mailrelayd's spool" at_least queued $N
ok "all $N held messages arrived $(( $(date +%s%3N) - t0 )) ms after LINK_UP"
grep -q "etrn host=127.0.0.1:$PFP domain=example.net reply=\"25[0-3]" "$work/relayd.log" || fail "no ETRN reply logged"
ok "mailrelayd: $(grep -o 'etrn host=.*' "$work/relayd.log" | head -n 1)"
for i in $(seq 1 $N); do
    grep -lq "^Message-Id: <etrn-$i@test>" "$work"/spool/queue/*.data || fail "message $i missing from the spool"
done
"$B/ctl/mailtunctl" --relayd-socket "$work/relayd.sock" --tunneld-socket /nonexistent status 2>/dev/null |
    grep -q "etrn_result *ok" || fail "status does not show the ETRN result"
ok "every Message-ID in the spool; mailtunctl status shows etrn_result ok"

kill -TERM "$RPID"; wait "$RPID"; rc=$?
[ "$rc" = 0 ] || fail "mailrelayd exit $rc"
grep -q "ERROR: AddressSanitizer\|ERROR: LeakSanitizer\|runtime error:" "$work/relayd.log" && fail "sanitizer report"
echo "relay_etrn: all checks passed"
