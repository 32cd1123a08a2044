#!/bin/bash
# mailtund_dead_path.sh — mailtund names a dead GRE path in both ways it shows itself:
#   1. pppd gives up on LCP (exit 10) while the PPTP control connection is established;
#   2. pppd is still resending LCP when mailtund's own set-up timer (2 x connect_timeout)
#      fires — what a NAT that drops GRE both ways looks like when the timer wins the race.
# Either way the failure reason (log and `mailtunctl status` last_error) says the control
# connection answers but GRE does not, not just "pppd exited" or "did not reach ip-up".
# The lab scenario nat-pptp shows the same against a real carrier NAT.
#   3. transport = auto: the dead GRE path switches the next dial to l2tp-ipsec (logged with
#      the reason, shown in `mailtunctl status`); L2TP/IPsec failing three times in a row (no
#      charon here) goes back to PPTP; `mailtunctl trace` captures both transports' packets.
#      The lab scenario nat-auto shows auto ending up on L2TP/IPsec behind a real carrier NAT.
set -u
. "$(dirname "$0")/lib/common.sh"
PEERS=$ROOT/tests/host/peers
source "$PEERS/peers_lib.sh"

last_error() { "$CTL" --tunneld-socket "$work/mailtund.sock" --relayd-socket /nonexistent status 2>/dev/null |
               sed -n 's/^mailtund *last_error *//p'; }
dead_path_named() { grep -q 'tunnel failed reason="dead path: the PPTP control connection answers but PPP over GRE' "$work/mailtund.log"; }

for mode in exit10 silent; do
    : >"$work/mailtund.log"
    case $mode in
    exit10) printf 'FAKE_PPP_IFNAME=ppp-fake\nFAKE_PPP_EXIT=10\n' >"$work/fake_pppd.conf";;
    silent) printf 'FAKE_PPP_IFNAME=ppp-fake\nFAKE_PPP_SILENT=1\n' >"$work/fake_pppd.conf";;
    esac
    start_server
    start_mailtund
    # connect_timeout = 3s: the set-up timer fires 6 s after the call is handed to pppd
    wait_for 15 "mailtund naming the dead GRE path ($mode)" dead_path_named
    ok "$mode: $(grep -o 'tunnel failed reason="dead path[^"]*"' "$work/mailtund.log" | head -n 1)"
    wait_for 5 "last_error naming GRE ($mode)" eval 'last_error | grep -q "GRE (IP protocol 47) blocked"'
    ok "$mode: mailtunctl status last_error: $(last_error | cut -c1-100)..."
    stop_mailtund
    kill "$server" 2>/dev/null; wait "$server" 2>/dev/null
    sanitizer_clean
done
# --- 3. transport = auto -----------------------------------------------------------------
cp "$work/mailtun.conf" "$work/mailtun.conf.pptp"
( umask 077; echo "auto-mode-test-key-0123456789" >"$work/ipsec.psk" )
sed -i 's/^\[tunnel\]$/[tunnel]\ntransport = auto\nipsec_id = gw@example.net\nipsec_psk_file = '"${work//\//\\/}"'\/ipsec.psk\nipsec_socket = unix:\/\/'"${work//\//\\/}"'\/no-charon.vici/' "$work/mailtun.conf"
: >"$work/mailtund.log"
printf 'FAKE_PPP_IFNAME=ppp-fake\nFAKE_PPP_EXIT=10\n' >"$work/fake_pppd.conf"
start_server
start_mailtund
switched() { grep -q "transport auto: switching to l2tp-ipsec, the PPTP control connection answers but GRE does not cross" "$work/mailtund.log"; }
wait_for 15 "auto switching to l2tp-ipsec" switched
wait_for 10 "a dial over l2tp-ipsec" grep -q 'dial server=203.0.113.1 port=[0-9]* transport=l2tp-ipsec auto="PPTP.s GRE path was dead"' "$work/mailtund.log"
wait_for 5 "status naming auto's choice" eval '"$CTL" --tunneld-socket "$work/mailtund.sock" --relayd-socket /nonexistent status 2>/dev/null | grep -q "transport *l2tp-ipsec (auto: PPTP.s GRE path was dead)"'
ok "3. auto: $(grep -o 'transport auto: switching[^"]*' "$work/mailtund.log" | head -1)"
grep -q "cannot reach charon's VICI socket" "$work/mailtund.log" || fail "the l2tp-ipsec dial did not name the missing charon"
wait_for 30 "auto going back to pptp after 3 failures" grep -q "transport auto: back to pptp, L2TP/IPsec failed 3 times in a row" "$work/mailtund.log"
ok "3. auto: $(grep -o 'transport auto: back to pptp[^"]*' "$work/mailtund.log" | head -1)"
# A trace under auto captures what either transport sends (it once looked up no transport
# for "auto" and crashed mailtund).
"$CTL" --tunneld-socket "$work/mailtund.sock" --relayd-socket /nonexistent trace start >"$work/trace.out" 2>&1 ||
    fail "trace start with transport = auto: $(cat "$work/trace.out"); mailtund: $(tail -n 3 "$work/mailtund.log")"
kill -0 "$daemon" 2>/dev/null || fail "mailtund died on trace start with transport = auto"
grep -q 'trace started .*filter="host 203.0.113.1 and (tcp port 1723 or ip proto 47 or udp port 500 or udp port 4500 or esp)"' \
    "$work/mailtund.log" || fail "auto's trace filter: $(grep -o 'trace started.*' "$work/mailtund.log")"
"$CTL" --tunneld-socket "$work/mailtund.sock" --relayd-socket /nonexistent trace stop >/dev/null 2>&1 || fail "trace stop (auto)"
ok "3. auto: $(grep -o 'trace started .*filter="[^"]*"' "$work/mailtund.log")"
stop_mailtund
kill "$server" 2>/dev/null; wait "$server" 2>/dev/null
sanitizer_clean
cp "$work/mailtun.conf.pptp" "$work/mailtun.conf"
echo "mailtund_dead_path: all checks passed"
