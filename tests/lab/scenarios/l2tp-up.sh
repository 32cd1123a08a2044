#!/bin/bash
# l2tp-up.sh — mailtund with transport = l2tp (RFC 2661 LAC) + mailtun.so against the
# provider's real xl2tpd as LNS, installed from conf/provider/l2tp/ as shipped: the fixed
# address comes up through the kernel's l2tp_ppp (mailtund's UDP socket carries the data
# messages, the plugin's PPPoL2TP session socket feeds pppd) with MS-CHAPv2 and MPPE-128, the
# provider reaches it over TCP, the DSL line carries only UDP 1701 (no text in clear), and
# SIGTERM ends the session (CDN, StopCCN) and removes every route.
#
# Records in <results>/timing.txt: l2tp_setup_seconds (start of mailtund -> fixed address up).
set -u
. "$LAB_DIR/lib.sh"
. "$LAB_DIR/mailtun_lib.sh"

lab_base_up
lab_provider_xl2tpd_up
lab_tcp_listen $LAB_NS_CUSTOMER $LAB_FIXED 2525 customer

lab_spawn $LAB_NS_CUSTOMER capture tcpdump -i $LAB_IF_CUSTOMER -U -s 0 -w "$LAB_RESULTS/uplink.pcap"
LAB_POLL=0.05 lab_wait 5 "tcpdump running" test -s "$LAB_RESULTS/uplink.pcap"

mt_config "transport = l2tp"
t0=$(lab_now)
mt_tunnel_up
lab_wait_ip_up 30 $LAB_FIXED
setup=$(lab_elapsed "$t0" "$LAB_IP_UP_TIME")
lab_result l2tp_setup_seconds "$setup"
lab_log "fixed address $LAB_FIXED up on $LAB_IP_UP_IF (peer $LAB_IP_UP_PEER) ${setup}s after mailtund started"
lab_wait 5 "mailtund reporting the link up" mt_state_is up
st=$(mt_status)
grep -q "transport  *l2tp$" <<<"$st" || lab_fail "mailtunctl status does not say l2tp: $st"
grep -q "peer_session_id" <<<"$st" || lab_fail "mailtunctl status shows no L2TP session: $st"
lab_log "mailtunctl status: $(tr -s ' ' <<<"$st" | paste -sd';' | cut -c1-400)"

grep -q "Using l2tp kernel support" "$LAB_RESULTS/xl2tpd.out" || lab_fail "xl2tpd did not use the kernel data path: $(head -5 "$LAB_RESULTS/xl2tpd.out")"
lab_log "xl2tpd: Using l2tp kernel support"
lab_wait_line 5 "the plugin's call line in pppd's log" "$LAB_RESULTS/customer-pppd.log" '*mailtun: call up transport=l2tp*'
lab_log "pppd log: $LAB_LINE"
grep -q "MS-CHAP-v2\|CHAP authentication succeeded" "$LAB_RESULTS/customer-pppd.log" || lab_fail "no MS-CHAPv2 in the customer's pppd log"
lab_wait_line 5 "MPPE-128 on the customer" "$LAB_RESULTS/customer-pppd.log" '*MPPE 128-bit stateless compression enabled*'
lab_wait_line 5 "MPPE-128 on the provider" "$LAB_RESULTS/provider-pppd.log" '*MPPE 128-bit stateless compression enabled*'
lab_log "MS-CHAPv2, MPPE 128-bit stateless on both ends"

rules=$(ip -n $LAB_NS_CUSTOMER rule) routes=$(ip -n $LAB_NS_CUSTOMER route)
grep -q "from $LAB_FIXED lookup 1723" <<<"$rules" || lab_fail "no source rule: $rules"
grep -q "$LAB_PPTP_SERVER via $LAB_UPLINK_GW dev $LAB_IF_CUSTOMER" <<<"$routes" || lab_fail "no host route: $routes"
lab_log "routes: rule from $LAB_FIXED lookup 1723, host route to $LAB_PPTP_SERVER via $LAB_UPLINK_GW"

greeting=$(lab_tcp_probe $LAB_NS_PROVIDER $LAB_FIXED 2525 5) || lab_fail "provider cannot reach $LAB_FIXED:2525"
lab_log "TCP from the provider reached $LAB_FIXED:2525 ('$greeting')"
marker="MAIL FROM:<secret-${EPOCHREALTIME/./}@example.org>"
lab_in $LAB_NS_PROVIDER $LAB_PY - "$LAB_FIXED" "$marker" <<'PY' || lab_fail "sending the marker through the tunnel"
import socket, sys
s = socket.create_connection((sys.argv[1], 2525), timeout=5)
s.recv(100)
s.sendall((sys.argv[2] + "\r\n").encode() * 20)
s.close()
PY

lab_stop mailtund 10 || lab_fail "mailtund did not stop on SIGTERM"
lab_wait_line 10 "the provider's pppd to see the hang-up" "$LAB_RESULTS/provider-pppd.log" '*Connection terminated*'
pgrep -x pppd -a | grep -q "mailtun.so" && lab_fail "the customer's pppd survived mailtund"
ip -n $LAB_NS_CUSTOMER rule | grep -q "lookup 1723" && lab_fail "source rule left behind"
ip -n $LAB_NS_CUSTOMER route | grep -q "$LAB_PPTP_SERVER" && lab_fail "host route left behind"
lab_log "SIGTERM: pppd gone, rule and host route removed, provider saw the hang-up"

lab_stop capture 5
others=$(tcpdump -nr "$LAB_RESULTS/uplink.pcap" 'ip and not udp port 1701' 2>/dev/null | grep -v -c "ICMP echo\|ARP")
l2tp=$(tcpdump -nr "$LAB_RESULTS/uplink.pcap" 'udp port 1701' 2>/dev/null | wc -l)
[ "$l2tp" -gt 10 ] || lab_fail "only $l2tp UDP 1701 packets on the DSL line"
[ "$others" = 0 ] || lab_fail "the DSL line carried other IP traffic: $(tcpdump -nr "$LAB_RESULTS/uplink.pcap" 'ip and not udp port 1701' 2>/dev/null | head -5)"
grep -aq "secret-" "$LAB_RESULTS/uplink.pcap" && lab_fail "the marker crossed the DSL line in clear"
lab_log "DSL line: $l2tp UDP 1701 packets, nothing else; the marker never in clear"
lab_log "PASS"
exit 0
