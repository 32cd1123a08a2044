#!/bin/bash
# mailtund_uplink.sh — the uplink watch: mailtund waits without spinning while the DSL line
# has no address, dials as soon as it gets one, re-dials at once when the address changes
# (the 24-hour forced disconnect), waits again while the link is down (with the next pppd
# already started, waiting for its call), and moves the host route to the server when the
# uplink's gateway changes. Scripted peers, namespaces of its own.
set -u
. "$(dirname "$0")/lib/common.sh"
PEERS=$ROOT/tests/host/peers
NO_UPLINK_ADDRESS=1
source "$PEERS/peers_lib.sh"
ms() { date +%s%3N; }
dials() { grep -c "dial server=" "$work/mailtund.log"; }

start_server
start_mailtund
"$PEERS/subscriber.py" "$work/mailtund.sock" "$work/events.log" & pids+=($!)

# --- 1. no address: wait, no dials --------------------------------------------------------
wait_for 5 "waiting for the uplink" state_is wait-uplink
sleep 2
[ "$(dials)" = 0 ] || fail "dialled without an uplink address"
ahead() { grep -c "pppd started ahead pid=" "$work/mailtund.log"; }
taken() { grep -c "started ahead [0-9]*s ago takes this call" "$work/mailtund.log"; }
[ "$(ahead)" = 1 ] || fail "expected one pppd started ahead while waiting, log says $(ahead)"
ok "uplink without address: state wait-uplink, 0 dials in 2 s, pppd started ahead (once)"

# --- 2. the line comes up: dial at once ---------------------------------------------------
t0=$(ms)
uplink_address 198.51.100.2
wait_for 5 "tunnel up" state_is up
[ "$(taken)" = 1 ] || fail "the pppd started ahead did not take the call"
ok "uplink address appeared: tunnel up after $(( $(ms) - t0 )) ms, the pppd started ahead took the call"

# --- 3. forced disconnect: new address, re-dial at once -----------------------------------
t0=$(ms)
ip -n "$C" addr del 198.51.100.2/24 dev "vc$$"
uplink_address 198.51.100.3
wait_for 5 "re-dial logged" grep -q "uplink address changed 198.51.100.2 -> 198.51.100.3\|uplink usable again addr=198.51.100.3" "$work/mailtund.log"
wait_for 5 "tunnel up again" state_is up
took=$(( $(ms) - t0 ))
[ "$took" -lt 3000 ] || fail "fixed address back only after $took ms"
grep -q "CONNECT 198.51.100.3" "$work/pptpd.log" || fail "server did not see the new address"
ok "address changed: link back after $took ms, from 198.51.100.3"

# --- 4. link down: wait without dialling, then back ---------------------------------------
# (step 3 may have started one ahead too: the old address can go before the new one comes)
ahead0=$(ahead) taken0=$(taken)
ip -n "$C" link set "vc$$" down
wait_for 5 "link down noticed" state_is wait-uplink
before=$(dials)
sleep 3
[ "$(dials)" = "$before" ] || fail "dialled while the uplink was down"
ok "uplink down: state wait-uplink, no dials in 3 s"
t0=$(ms)
ip -n "$C" link set "vc$$" up
ip -n "$C" route replace default via 198.51.100.1
wait_for 5 "tunnel up after link up" state_is up
[ "$(ahead)" = $((ahead0 + 1)) ] && [ "$(taken)" = $((taken0 + 1)) ] ||
    fail "link down: pppd started ahead $(($(ahead) - ahead0)) times, took the call $(($(taken) - taken0)) times (want 1, 1)"
ok "uplink up again: tunnel up after $(( $(ms) - t0 )) ms (pppd started while the link was down)"

# --- 5. the gateway moves: the host route follows -----------------------------------------
ip -n "$P" addr add 198.51.100.254/24 dev "vp$$"
ip -n "$C" route replace default via 198.51.100.254
wait_for 5 "host route via the new gateway" sh -c "ip -n $C route show | grep -q '203.0.113.1 via 198.51.100.254'"
ok "gateway changed: host route to the server follows (via 198.51.100.254)"
stop_mailtund
sanitizer_clean
echo "all uplink checks passed"
