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

mt_capture_start

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
lab_log "MS-CHAPv2 in the customer's pppd log"
mt_check_link
mt_check_reached
mt_stop_clean
mt_check_uplink_only "udp port 1701" "udp port 1701"
lab_log "PASS"
exit 0
