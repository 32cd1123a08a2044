#!/bin/bash
# mailtunctl_relay.sh — `mailtunctl status` and `mailtunctl queue ...` against a running mailrelayd.
#
# mailrelayd (from $B) runs with a dead inside server, so messages stay queued. Checks list,
# show, hold, release, flush, delete and their errors (missing ID, malformed ID, unknown ID,
# unknown subcommand, extra arguments: exit 2 for usage, 1 for a refusal), --json output, and
# the link state: unknown without mailtund, "up" with the fields of LINK_UP from a scripted
# mailtund (a small Python control-socket server speaking the ipc.h frames), unknown again
# when it goes away. Finally, with mailrelayd stopped, a clear "not running" error.
set -u
. "$(dirname "$0")/lib/common.sh"

need_relayd "mailrelayd drops to nobody" swaks python3
[ -x "$CTL" ] || { echo "mailtunctl not built in $B"; exit 1; }

make_work mailtunctl-relay
ctl() { "$B/ctl/mailtunctl" -c "$work/mailtun.conf" --tunneld-socket "$work/no-mailtund.sock" "$@"; }
# expect RC PATTERN CMD...: runs mailtunctl, checks exit status and that output matches
expect() {
    local want=$1 pat=$2 out rc; shift 2
    out=$(ctl "$@" 2>&1); rc=$?
    [ "$rc" = "$want" ] || { echo "$out"; fail "mailtunctl $*: exit $rc, want $want"; }
    grep -q -- "$pat" <<<"$out" || { echo "$out"; fail "mailtunctl $*: output lacks '$pat'"; }
}

P=$(free_port) DEAD=$(free_port)
mkdir -p "$work/metrics" && chown nobody "$work/metrics"   # the relay's user writes its metrics
write_relay_conf <<EOC
metrics_file = $work/metrics/relayd.prom

[inside]
server = 127.0.0.1:$DEAD
retry_base = 1h
EOC

expect 1 "mailrelayd is not running" queue list
ok "daemon not running: clear error, exit 1"

"$RELAYD" -f -c "$work/mailtun.conf" >"$work/relayd.log" 2>&1 &
RPID=$!; pids+=("$RPID")
wait_for 10 "mailrelayd listening" port_open "$P"
qids=()
for i in 1 2 3; do
    out=$(swaks --server 127.0.0.1:$P --to "bob@example.net" --from "s$i@example.org" \
          --header "Message-Id: <ctl-$i@test>" --header "Subject: test $i" 2>&1)
    q=$(sed -n 's/.*queued as \([0-9a-f]\{20\}\).*/\1/p' <<<"$out")
    [ -n "$q" ] || fail "message $i not accepted"
    qids+=("$q")
done
Q1=${qids[0]} Q2=${qids[1]} Q3=${qids[2]}

# --- status ------------------------------------------------------------------------------------------
out=$(ctl status 2>&1); rc=$?
[ "$rc" = 1 ] || { echo "$out"; fail "status exit $rc without mailtund, want 1"; }
for kv in "mailtund *running no" "mailrelayd *queued *3" "mailrelayd *held *0" "mailrelayd *messages_in *3" \
          "mailrelayd *sessions *0" "mailrelayd *link *unknown" "mailrelayd *mailtund *absent" "mailrelayd *oldest_age_s *[0-9]"; do
    grep -q "^$kv" <<<"$out" || { echo "$out"; fail "status lacks '$kv'"; }
done
ctl status --json >"$work/status.json" 2>/dev/null
python3 -c "import json,sys; d=json.load(open(sys.argv[1])); assert d['mailrelayd']['queued']=='3', d" "$work/status.json" \
    || fail "status --json not valid JSON with queued=3"
ok "status: queued 3, held 0, messages_in 3, link unknown, mailtund absent (plain and --json)"
# the metrics file follows within its 10 s period (it is owned by the relay's user)
wait_for 15 "metrics file with 3 queued" grep -qx 'mailtun_relay_queue_messages{state="queued"} 3' "$work/metrics/relayd.prom"
grep -qx "mailtun_relay_messages_received_total 3" "$work/metrics/relayd.prom" &&
    grep -q "^mailtun_relay_delivery_delay_seconds_count [0-9]" "$work/metrics/relayd.prom" || fail "metrics: $(cat "$work/metrics/relayd.prom")"
ok "metrics file: queue 3, received 3"

# --- list and show --------------------------------------------------------------------------------------
out=$(ctl queue list 2>&1) || { echo "$out"; fail "queue list failed"; }
for q in "$Q1" "$Q2" "$Q3"; do grep -q "^$q queued size=[0-9]* " <<<"$out" || { echo "$out"; fail "list lacks $q"; }; done
grep -q "^3 messages" <<<"$out" || fail "list does not count 3 messages"
ctl queue list --json >"$work/list.json" || fail "queue list --json failed"
python3 -c "import json,sys; l=json.load(open(sys.argv[1])); assert len(l)==3 and l[0]['id']==sys.argv[2], l" "$work/list.json" "$Q1" \
    || fail "list --json wrong"
expect 0 "message_id *<ctl-2@test>" queue show "$Q2"
expect 0 "rcpt *<bob@example.net> state=pending" queue show "$Q2"
expect 0 "from *<s2@example.org>" queue show "$Q2"
expect 0 "subject *test 2" queue show "$Q2"
ok "list shows 3 messages oldest first (plain and --json); show gives envelope, Message-ID, Subject"

# --- hold / release / flush / delete -----------------------------------------------------------------------
expect 0 "$Q1: on hold" queue hold "$Q1"
[ -f "$work/spool/hold/$Q1.data" ] && [ ! -f "$work/spool/queue/$Q1.data" ] || fail "held message not in hold/"
expect 0 "^$Q1 held " queue list
expect 1 "already on hold" queue hold "$Q1"
expect 1 "on hold: release it first" queue flush "$Q1"
expect 1 "mailrelayd *held *1" status
expect 0 "$Q1: released" queue release "$Q1"
[ -f "$work/spool/queue/$Q1.data" ] || fail "released message not back in queue/"
expect 1 "is not on hold" queue release "$Q1"
ok "hold moves to hold/, release back; double hold/release and flush of a held message refused"
expect 0 "rescheduled" queue flush "$Q2"
expect 0 "rescheduled" queue flush
ok "flush of one message and of all"
expect 0 "$Q3: deleted" queue delete "$Q3"
[ ! -f "$work/spool/queue/$Q3.data" ] || fail "deleted message still on disk"
expect 1 "no message $Q3 in the queue" queue delete "$Q3"
expect 1 "no message $Q3" queue show "$Q3"
expect 0 "^2 messages" queue list
ok "delete removes the files; deleting or showing it again: 'no message', exit 1"

# --- usage errors -------------------------------------------------------------------------------------------
expect 2 "missing subcommand" queue
expect 2 "unknown subcommand 'frobnicate'" queue frobnicate
expect 2 "missing queue ID" queue show
expect 2 "missing queue ID" queue delete
expect 2 "missing queue ID" queue hold
expect 2 "is not a queue ID" queue show not-a-queue-id
expect 2 "is not a queue ID" queue release "${Q1^^}"
expect 2 "unexpected argument" queue delete "$Q1" "$Q2"
expect 2 "unexpected argument" queue list extra
ok "usage errors: missing/unknown subcommand, missing/malformed ID, extra arguments -> exit 2"

# --- link events from a scripted mailtund -----------------------------------------------------------------------
"$ROOT/tests/host/peers/link_mailtund.py" "$work/mailtund.sock" --hold 3 >"$work/fake.log" 2>&1 &
FPID=$!; pids+=("$FPID")
link_is() { ctl status 2>/dev/null | grep -q "^mailrelayd *link *$1\$"; }
wait_for 40 "link up in status (mailrelayd retries with back-off)" link_is up
out=$(ctl status 2>&1)
for kv in "link_ifname *ppp0" "link_local *192.0.2.10" "link_peer *203.0.113.1" "mailtund *connected"; do
    grep -q "^mailrelayd *$kv" <<<"$out" || { echo "$out"; fail "status lacks '$kv'"; }
done
grep -q "link up ifname=ppp0 local=192.0.2.10 peer=203.0.113.1" "$work/relayd.log" || fail "LINK_UP not logged"
ok "scripted mailtund: LINK_UP seen in status (ppp0, 192.0.2.10, 203.0.113.1)"
wait_for 10 "link down" link_is down
expect 1 "link_reason *test is over" status
wait "$FPID"
wait_for 10 "link unknown after mailtund left" link_is unknown
ok "LINK_DOWN with its reason, then unknown when mailtund goes away"

# --- daemon gone ------------------------------------------------------------------------------------------------
kill -TERM "$RPID"; wait "$RPID"; rc=$?
[ "$rc" = 0 ] || fail "mailrelayd exit status $rc after SIGTERM"
expect 1 "mailrelayd is not running" queue list
expect 1 "mailrelayd *running no" status
if grep -q "AddressSanitizer\|LeakSanitizer\|runtime error:" "$work/relayd.log"; then
    grep -A30 "Sanitizer\|runtime error" "$work/relayd.log" | head -60
    fail "sanitizer report"
fi
ok "after SIGTERM: 'not running' errors, no sanitizer report"
echo "mailtunctl_relay: all checks passed"
