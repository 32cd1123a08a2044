#!/bin/bash
# mailtund_l2tp.sh — mailtund with transport = l2tp against a scripted LNS (peers/fake_lns.py)
# across two network namespaces: the LAC's handshake on UDP 1701 and what follows it, and an
# LNS that misbehaves (silence, garbage floods, lying lengths, hidden AVPs without a secret,
# unknown mandatory AVPs, Ns/Nr games, duplicate floods, StopCCN, demanded authentication, a
# vanished server). Every case: mailtund neither crashes nor hangs nor grows, and the failure
# it logs names the reason. The kernel data path (l2tp_ppp) is used when this kernel has it;
# without it, mailtund must name the missing module and tell the LNS (CDN, StopCCN).
# The same against Debian's xl2tpd with a real pppd runs in the lab (l2tp-* scenarios).
set -u
. "$(dirname "$0")/lib/common.sh"
PEERS=$ROOT/tests/host/peers
source "$PEERS/peers_lib.sh"
need_cmd python3

sed -i 's/^\[tunnel\]$/[tunnel]\ntransport = l2tp/' "$work/mailtun.conf"
fail_context() {
    echo "--- mailtund log (last 30 lines)"; tail -n 30 "$work/mailtund.log" 2>/dev/null
    echo "--- fake LNS log"; tail -n 20 "$work/lns.log" 2>/dev/null
}
start_lns() {
    : >"$work/lns.log"
    ip netns exec "$P" python3 "$PEERS/fake_lns.py" --listen 203.0.113.1 --log "$work/lns.log" --mode "$1" &
    lns=$!; pids+=("$lns")
    wait_for 5 "fake LNS listening" grep -q LISTEN "$work/lns.log"
}
stop_lns() { kill "$lns" 2>/dev/null; wait "$lns" 2>/dev/null; }
status() { "$CTL" --tunneld-socket "$work/mailtund.sock" --relayd-socket /nonexistent status 2>/dev/null; }
failed_with() { grep -q "tunnel failed reason=\"$1" "$work/mailtund.log"; }
rss_kb() { awk '/^VmRSS/ {print $2}' "/proc/$daemon/status" 2>/dev/null || echo 0; }
alive() { kill -0 "$daemon" 2>/dev/null || fail "mailtund died: $(tail -n 5 "$work/mailtund.log")"; }

if ip netns exec "$C" python3 -c 'import socket; socket.socket(24, socket.SOCK_DGRAM, 1)' 2>/dev/null; then
    kernel=yes
else
    kernel=no
fi

# 1. a plain LNS: the whole handshake on UDP 1701
: >"$work/mailtund.log"
start_lns normal
start_mailtund
wait_for 10 "l2tp call up" grep -q "l2tp call up tunnel=" "$work/mailtund.log"
grep -q "dial server=203.0.113.1 port=1701 transport=l2tp attempt=1" "$work/mailtund.log" ||
    fail "dial line without the L2TP port: $(grep -m1 'dial server' "$work/mailtund.log")"
for m in SCCRQ SCCCN ICRQ; do
    grep -q "RECV $m " "$work/lns.log" || fail "the LNS never got $m"
done
grep -q "RECV SCCRQ ns=0 nr=0 tunnel=0 session=0 assigned_tunnel=" "$work/lns.log" || fail "SCCRQ header"
grep -q "RECV ICRQ ns=2 nr=1 tunnel=4242 session=0 assigned_session=" "$work/lns.log" || fail "ICRQ not in sequence"
ok "handshake: $(grep -o 'l2tp call up [^"]*' "$work/mailtund.log" | head -n 1)"
if [ $kernel = yes ]; then
    # ICCN once pppd's plugin (here the fake) has attached the kernel session
    wait_for 5 "ICCN after the session was attached" grep -q "RECV ICCN " "$work/lns.log"
    grep -q "data path attached, ICCN sent" "$work/mailtund.log" || fail "ICCN not sent on the plugin's word"
    wait_for 10 "link up over L2TP" state_is up
    status | grep -q "transport *l2tp" || fail "status does not say l2tp: $(status)"
    ok "link up over the kernel's l2tp_ppp: $(status | grep -E 'tunnel_id|session_id' | tr -s ' ' | paste -sd';')"
else
    wait_for 10 "the missing module named" failed_with "PPPoL2TP tunnel socket: the kernel has no PPPoL2TP"
    grep -q "modprobe l2tp_ppp" "$work/mailtund.log" || fail "the fix is not named"
    wait_for 5 "CDN to the LNS" grep -q "RECV CDN .*result=" "$work/lns.log"
    wait_for 5 "StopCCN to the LNS" grep -q "RECV StopCCN " "$work/lns.log"
    ! grep -q "RECV ICCN " "$work/lns.log" || fail "ICCN told the LNS of a call without a data path"
    ok "no l2tp_ppp here: $(grep -o 'tunnel failed reason="[^"]*' "$work/mailtund.log" | head -n 1 | cut -c1-140)...; CDN and StopCCN sent"
    wait_for 10 "a re-dial" eval '[ "$(grep -c "RECV SCCRQ" "$work/lns.log")" -ge 2 ]'
    ok "re-dialled after the back-off"
fi
status | grep -q "transport *l2tp" || fail "mailtunctl status does not show the transport: $(status | head -n 5)"
stop_mailtund
stop_lns
sanitizer_clean

# 2. hostile servers: mode, then the start of the failure reason mailtund must log
run_case() {
    local mode=$1 want=$2
    : >"$work/mailtund.log"
    start_lns "$mode"
    start_mailtund
    wait_for 20 "$mode: named failure" failed_with "$want"
    alive
    local rss; rss=$(rss_kb)
    [ "${rss:-0}" -lt 65536 ] || fail "$mode: mailtund's RSS grew to $rss kB"
    ok "$mode: $(grep -o 'tunnel failed reason="[^"]*' "$work/mailtund.log" | head -n 1 | cut -c22-180) (rss ${rss} kB)"
    stop_mailtund
    stop_lns
    sanitizer_clean
}
run_case silent    "no SCCRP within 3 s"
run_case garbage   "no SCCRP within 3 s ("
run_case badlen    "no SCCRP within 3 s (1 datagrams dropped, last: AVP 0/2 in SCCRP has length 255"
run_case hidden    "no SCCRP within 3 s (1 datagrams dropped, last: hidden Host Name AVP in SCCRP but no tunnel secret is configured"
run_case nsnr      "no SCCRP within 3 s (50 datagrams dropped, last: SCCRP with Ns 1049, expected 0 (from the future)"
run_case unknown_m "LNS sent unknown AVP 9/99 with the M bit in SCCRP"
grep -q "RECV StopCCN .*result=2" "$work/lns.log" || fail "unknown_m: no StopCCN (general error) sent"
run_case auth      "LNS fake-lns demands tunnel authentication but no tunnel secret is configured"
grep -q "RECV StopCCN .*result=4" "$work/lns.log" || fail "auth: no StopCCN (not authorized) sent"
run_case stopccn   "LNS stopped the tunnel (StopCCN): result 2 (general error)"
run_case close     "LNS 203.0.113.1 refuses UDP port 1701 (ICMP port unreachable"
if [ $kernel = no ]; then
    run_case dupflood "PPPoL2TP tunnel socket: the kernel has no PPPoL2TP"
    grep -q "l2tp call up" "$work/mailtund.log" || fail "dupflood: the duplicates kept the call from coming up"
    ok "dupflood: duplicates acknowledged and dropped, the call still came up"
fi
echo "mailtund_l2tp: all checks passed"
