#!/bin/bash
# mailtund_peers.sh — mailtund against scripted peers, on the host, in namespaces it makes.
#
# A fake PPTP server (tests/host/peers/fake_pptpd.py) in a "provider" namespace and a fake
# pppd (tests/host/peers/fake_pppd.py, speaking the plugin's side of the control socket) let
# mailtund's whole supervisor run without a PPP kernel: dial, call handed to pppd, fixed
# address checked, routes and rule in place, LINK_UP to subscribers, the server vanishing and
# coming back (re-dial), a wrong address refused, and SIGTERM cleaning up everything.
# The real PPP path is covered by the lab scenarios.
set -u
. "$(dirname "$0")/lib/common.sh"
PEERS=$ROOT/tests/host/peers

source "$PEERS/peers_lib.sh"

# --- 1. dial, fixed address, routes, LINK_UP -----------------------------------------------
start_server
start_mailtund
"$PEERS/subscriber.py" "$work/mailtund.sock" "$work/events.log" & pids+=($!)
wait_for 10 "tunnel up" state_is up
ok "tunnel up: $(grep -o 'link up.*' "$work/mailtund.log" | head -n 1)"
grep -q "SCCRQ len=156" "$work/pptpd.log" && grep -q "OCRQ len=168" "$work/pptpd.log" || fail "server did not see SCCRQ and OCRQ"
inc ip rule | grep -q "from 192.0.2.10 lookup 1723" || fail "no source rule: $(inc ip rule)"
inc ip route show table 1723 | grep -q "default dev ppp-fake" || fail "table 1723: $(inc ip route show table 1723)"
inc ip route show | grep -q "203.0.113.1 via 198.51.100.1 dev vc$$" || fail "no host route to the server: $(inc ip route)"
ok "rule, table and host route in place"
wait_for 5 "LINK_UP event" grep -q "LINK_UP ppp-fake 192.0.2.10 192.0.2.1" "$work/events.log"
ok "subscriber got LINK_UP"
grep -qx "mailtun_link_up 1" "$work/mailtund.prom" && grep -qx 'mailtun_tunnel_state{state="up"} 1' "$work/mailtund.prom" \
    || fail "metrics do not show the link up: $(cat "$work/mailtund.prom")"
ok "metrics file: mailtun_link_up 1, state up"
argv=$(head -n 1 "$work/fake_pppd.argv")
for o in nodetach require-mppe-128 refuse-pap refuse-chap refuse-mschap "name gw-test" "192.0.2.10:" "mailtun-socket $work/mailtund.sock"; do
    grep -q -- "$o" <<<"$argv" || fail "pppd argv lacks '$o': $argv"
done
grep -qw persist <<<"${argv//nopersist/}" && fail "pppd argv has persist: $argv"
ok "pppd options: MS-CHAPv2 only, MPPE-128 required, nodetach, no persist"

ctl() { "$B/ctl/mailtunctl" --tunneld-socket "$work/mailtund.sock" --relayd-socket /nonexistent "$@"; }
ctl trace start >"$work/trace.out" 2>&1 || fail "trace start: $(cat "$work/trace.out")"
ctl trace start >/dev/null 2>&1 && fail "a second trace started while one runs"
ok "$(cat "$work/trace.out")"

# --- 2. the server vanishes, comes back: re-dial -------------------------------------------
kill "$server"; wait "$server" 2>/dev/null
wait_for 10 "link down noticed" grep -q "LINK_DOWN" "$work/events.log"
ok "server gone: $(grep LINK_DOWN "$work/events.log" | head -n 1)"
start_server
wait_for 15 "tunnel up again" state_is up
"$B/ctl/mailtunctl" --tunneld-socket "$work/mailtund.sock" --relayd-socket /nonexistent status 2>/dev/null | grep -q "reconnects  *1$" \
    || fail "reconnects not counted: $("$B/ctl/mailtunctl" --tunneld-socket "$work/mailtund.sock" status 2>/dev/null)"
[ "$(grep -c LINK_UP "$work/events.log")" = 2 ] || fail "expected 2 LINK_UP: $(cat "$work/events.log")"
ok "re-dialled after the server came back, reconnects=1"
grep -qx "mailtun_reconnects_total 1" "$work/mailtund.prom" || fail "metrics miss the reconnect: $(cat "$work/mailtund.prom")"

ctl trace stop >"$work/trace.out" 2>&1 || fail "trace stop: $(cat "$work/trace.out")"
pcap=$(ls "$work"/trace/trace-*.pcap | head -n 1)
n1723=$(tcpdump -nr "$pcap" 'tcp port 1723' 2>/dev/null | wc -l)
nother=$(tcpdump -nr "$pcap" 'not (tcp port 1723 or ip proto 47)' 2>/dev/null | wc -l)
[ "$n1723" -gt 5 ] && [ "$nother" = 0 ] || fail "trace holds $n1723 PPTP control packets and $nother others"
ctl trace stop >/dev/null 2>&1 && fail "trace stop succeeded with no trace running"
ok "trace: $n1723 packets of the re-dial on TCP 1723, nothing else ($(cat "$work/trace.out"))"

# --- planned reconnect: armed from reconnect_at; it re-dials through tunnel_redial, the same
# path as SIGUSR1 (when it fires is unit-tested in test_planned)
grep -q "planned reconnect daily_at=04:00" "$work/mailtund.log" || fail "reconnect_at not armed"
kill -USR1 "$daemon"
wait_for 5 "re-dial on SIGUSR1" grep -q 'tunnel redial reason="SIGUSR1"' "$work/mailtund.log"
wait_for 10 "tunnel up after the planned re-dial" state_is up
ctl status | grep -q "reconnects  *2$" || fail "planned re-dial not counted: $(ctl status)"
ok "planned reconnect armed for 04:00; SIGUSR1 re-dial (the same path) brought the link back, reconnects=2"

# --- 3. SIGTERM: pppd hung up, call cleared, routes removed --------------------------------
kill -TERM "$daemon"
for _ in $(seq 100); do kill -0 "$daemon" 2>/dev/null || break; sleep 0.1; done
kill -0 "$daemon" 2>/dev/null && fail "mailtund still running 10 s after SIGTERM"
tail -n 5 "$work/pptpd.log" | grep -q CCRQ || fail "no Call-Clear-Request on shutdown"
tail -n 5 "$work/pptpd.log" | grep -q StopCCRQ || fail "no Stop-Control-Connection-Request on shutdown"
pgrep -f "$PEERS/fake_pppd.py" >/dev/null && fail "pppd still running after mailtund stopped"
inc ip rule | grep -q "lookup 1723" && fail "rule left behind: $(inc ip rule)"
inc ip route show table 1723 2>/dev/null | grep -q . && fail "table 1723 left: $(inc ip route show table 1723)"
inc ip route show | grep -q "203.0.113.1" && fail "host route left: $(inc ip route)"
ok "SIGTERM: call cleared, control connection stopped, pppd gone, routes removed"

# --- 4. the wrong address is refused, and the back-off grows ---------------------------------
# The decision is checked, not the refusal's log line (printed before it takes effect): the
# state never goes up, no LINK_UP reaches the subscriber, no routes. A short ladder (200 ms
# doubling to 1.6 s) makes the back-off's growth measurable in a few seconds: each logged
# retry_in_ms is within +-25 % of 200 ms * 2^(failures-1) (capped), and the measured time from
# the failure to the next dial is at least its lower bound, so jitter cannot hide a flat ladder.
sed -i 's/^backoff_min = .*/backoff_min = 200ms/; s/^backoff_max = .*/backoff_max = 1600ms/' "$work/mailtun.conf"
echo "FAKE_PPP_ADDRESS=192.0.2.99" >>"$work/fake_pppd.conf"
from=$(($(wc -l <"$work/mailtund.log") + 1))
ups_before=$(grep -c LINK_UP "$work/events.log")
log4() { tail -n +"$from" "$work/mailtund.log"; }
refusals_at_least() { [ "$(log4 | grep -c 'tunnel failed reason="link refused: IPCP gave 192.0.2.99')" -ge "$1" ]; }
start_mailtund
wait_for 10 "refusal" refusals_at_least 1
up_seen=no
for _ in $(seq 40); do            # sample the state while the refusals repeat (4 s)
    state_is up && up_seen=yes
    inc ip route show table 1723 | grep -q "ppp-fake" && fail "routes set for the wrong address: $(inc ip route show table 1723)"
    sleep 0.1
done
[ $up_seen = no ] || fail "link with the wrong address reported up"
wait_for 15 "five refusals" refusals_at_least 5
log4 | grep -q "tunnel state [a-z-]* -> up" && fail "state went up with the wrong address: $(log4 | grep -m1 'tunnel state [a-z-]* -> up')"
log4 | grep -q "link up " && fail "link up logged for the wrong address: $(log4 | grep -m1 'link up ')"
sleep 0.5                         # a LINK_UP, if one were sent, reaches the subscriber
[ "$(grep -c LINK_UP "$work/events.log")" = "$ups_before" ] || fail "LINK_UP sent for the wrong address: $(tail -n 3 "$work/events.log")"
ok "wrong address refused, never up, no routes, no LINK_UP: $(log4 | grep -o 'link refused[^"]*' | head -n 1)"
ladder=$(log4 | awk '
    function ms(t,  a) { split(t, a, ":"); return ((a[1] * 60 + a[2]) * 60 + a[3]) * 1000 }
    /tunnel failed reason="link refused/ {
        match($0, /retry_in_ms=[0-9]+/); r = substr($0, RSTART + 12, RLENGTH - 12)
        match($0, /failures=[0-9]+/);    n = substr($0, RSTART + 9, RLENGTH - 9)
        failed = ms($2); next }
    /dial server=/ && failed { printf "%d %d %d\n", n, r, ms($2) - failed; failed = 0 }')
steps=0
while read -r n r took; do
    e=$((200 << (n - 1))); [ $e -gt 1600 ] && e=1600
    [ "$r" -ge $((e - e / 4)) ] && [ "$r" -le $((e + e / 4)) ] \
        || fail "back-off after failure $n: retry_in_ms=$r, not within 25 % of $e ms; ladder (failures retry_ms measured_ms): $(echo $ladder)"
    [ "$took" -ge $((e - e / 4 - 20)) ] || fail "back-off after failure $n: re-dialled after $took ms, want >= $((e - e / 4)) ms"
    steps=$((steps + 1)); last=$n
done <<<"$ladder"
[ $steps -ge 4 ] && [ "$last" -ge 4 ] || fail "too few back-off steps to see growth: $(echo $ladder)"
ok "back-off grows: $(awk '{printf "%s%d ms", (NR > 1 ? ", " : ""), $3}' <<<"$ladder") between failure and re-dial"
stop_mailtund
sed -i 's/^backoff_min = .*/backoff_min = 1s/; s/^backoff_max = .*/backoff_max = 2s/' "$work/mailtun.conf"

# --- 5. control connection fine, PPP never answers: GRE named as the suspect ---------------
echo "FAKE_PPP_IFNAME=ppp-fake" >"$work/fake_pppd.conf"
echo "FAKE_PPP_EXIT=10" >>"$work/fake_pppd.conf"
start_mailtund
wait_for 10 "dead path named" grep -q "dead path: the PPTP control connection answers but PPP over GRE does not" "$work/mailtund.log"
ok "dead path: $(grep -o 'is GRE (IP protocol 47) blocked[^"]*' "$work/mailtund.log" | head -n 1)"
stop_mailtund
sanitizer_clean
echo "all mailtund peer checks passed"
