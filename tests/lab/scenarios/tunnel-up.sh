#!/bin/bash
# tunnel-up.sh — mailtund + mailtun.so against the provider's real pptpd: the fixed address
# comes up through the kernel's PPTP socket with MS-CHAPv2 and MPPE-128, the provider
# reaches it over TCP, the DSL line carries only TCP 1723 and GRE (no text in clear), and
# SIGTERM clears the call and removes every route.
#
# Records in <results>/timing.txt: setup_seconds (start of mailtund -> fixed address up).
set -u
. "$LAB_DIR/lib.sh"
. "$LAB_DIR/mailtun_lib.sh"

lab_base_up
lab_provider_pptpd_up
lab_tcp_listen $LAB_NS_CUSTOMER $LAB_FIXED 2525 customer

# Capture the DSL line for the whole call.
lab_spawn $LAB_NS_CUSTOMER capture tcpdump -i $LAB_IF_CUSTOMER -U -s 0 -w "$LAB_RESULTS/uplink.pcap"
LAB_POLL=0.05 lab_wait 5 "tcpdump running" test -s "$LAB_RESULTS/uplink.pcap"

mt_config
t0=$(lab_now)
mt_tunnel_up
lab_wait_ip_up 20 $LAB_FIXED
setup=$(lab_elapsed "$t0" "$LAB_IP_UP_TIME")
lab_result setup_seconds "$setup"
lab_log "fixed address $LAB_FIXED up on $LAB_IP_UP_IF (peer $LAB_IP_UP_PEER) ${setup}s after mailtund started"
lab_wait 5 "mailtund reporting the link up" mt_state_is up
lab_log "mailtunctl status: $(mt_status | tr -s ' ' | paste -sd';' | cut -c1-300)"

# The plugin speaks in pppd's log; MPPE is on at both ends.
lab_wait_line 5 "the plugin's call line in pppd's log" "$LAB_RESULTS/customer-pppd.log" '*mailtun: call up*'
lab_log "pppd log: $LAB_LINE"
lab_wait_line 5 "MPPE-128 on the customer" "$LAB_RESULTS/customer-pppd.log" '*MPPE 128-bit stateless compression enabled*'
lab_wait_line 5 "MPPE-128 on the provider" "$LAB_RESULTS/provider-pppd.log" '*MPPE 128-bit stateless compression enabled*'
lab_log "MPPE 128-bit stateless on both ends"

# Routes: the source rule, the table, the host route to the server via the DSL gateway.
rules=$(ip -n $LAB_NS_CUSTOMER rule) routes=$(ip -n $LAB_NS_CUSTOMER route)
grep -q "from $LAB_FIXED lookup 1723" <<<"$rules" || lab_fail "no source rule: $rules"
grep -q "$LAB_PPTP_SERVER via $LAB_UPLINK_GW dev $LAB_IF_CUSTOMER" <<<"$routes" || lab_fail "no host route: $routes"
grep -q "^default via $LAB_UPLINK_GW" <<<"$routes" || lab_fail "default route moved off the DSL line: $routes"
lab_log "routes: rule from $LAB_FIXED lookup 1723, host route to $LAB_PPTP_SERVER via $LAB_UPLINK_GW, default unchanged"

# The provider reaches the fixed address, and a marker sent through the tunnel is not in
# clear on the DSL line.
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

# SIGTERM: call cleared, pppd gone, routes gone, the provider sees the hang-up.
lab_stop mailtund 10 || lab_fail "mailtund did not stop on SIGTERM"
lab_wait_line 10 "the provider's pppd to see the hang-up" "$LAB_RESULTS/provider-pppd.log" '*Connection terminated*'
pgrep -x pppd -a | grep -q "mailtun.so" && lab_fail "the customer's pppd survived mailtund"
ip -n $LAB_NS_CUSTOMER rule | grep -q "lookup 1723" && lab_fail "source rule left behind"
ip -n $LAB_NS_CUSTOMER route | grep -q "$LAB_PPTP_SERVER" && lab_fail "host route left behind"
grep -q "Call-Clear-Request\|CCRQ\|Call Clear" "$LAB_RESULTS/pptpd.out" "$LAB_RESULTS"/*.log 2>/dev/null ||
    lab_log "note: pptpd's log does not name the Call-Clear-Request"
lab_log "SIGTERM: pppd gone, rule and host route removed, provider saw the hang-up"

lab_stop capture 5
others=$(tcpdump -nr "$LAB_RESULTS/uplink.pcap" 'ip and not (tcp port 1723 or ip proto 47)' 2>/dev/null | grep -v -c "ICMP echo\|ARP" )
gre=$(tcpdump -nr "$LAB_RESULTS/uplink.pcap" 'ip proto 47' 2>/dev/null | wc -l)
ctl=$(tcpdump -nr "$LAB_RESULTS/uplink.pcap" 'tcp port 1723' 2>/dev/null | wc -l)
[ "$gre" -gt 10 ] || lab_fail "only $gre GRE packets on the DSL line"
[ "$others" = 0 ] || lab_fail "the DSL line carried other IP traffic: $(tcpdump -nr "$LAB_RESULTS/uplink.pcap" 'ip and not (tcp port 1723 or ip proto 47)' 2>/dev/null | head -5)"
grep -aq "secret-" "$LAB_RESULTS/uplink.pcap" && lab_fail "the marker crossed the DSL line in clear"
lab_log "DSL line: $ctl TCP 1723 packets, $gre GRE packets, nothing else; the marker never in clear"
lab_log "PASS"
exit 0
