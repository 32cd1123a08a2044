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

mt_capture_start   # the DSL line, for the whole call

mt_config
t0=$(lab_now)
mt_tunnel_up
lab_wait_ip_up 20 $LAB_FIXED
setup=$(lab_elapsed "$t0" "$LAB_IP_UP_TIME")
lab_result setup_seconds "$setup"
lab_log "fixed address $LAB_FIXED up on $LAB_IP_UP_IF (peer $LAB_IP_UP_PEER) ${setup}s after mailtund started"
lab_wait 5 "mailtund reporting the link up" mt_state_is up
lab_log "mailtunctl status: $(mt_status | tr -s ' ' | paste -sd';' | cut -c1-300)"

# The plugin speaks in pppd's log; MPPE at both ends, the routes (mailtun_lib.sh).
lab_wait_line 5 "the plugin's call line in pppd's log" "$LAB_RESULTS/customer-pppd.log" '*mailtun: call up*'
lab_log "pppd log: $LAB_LINE"
mt_check_link
# The provider reaches the fixed address; the marker it sends must not cross the line in clear.
mt_check_reached

# SIGTERM: call cleared, pppd gone, routes gone, the provider sees the hang-up.
mt_stop_clean
grep -q "Call-Clear-Request\|CCRQ\|Call Clear" "$LAB_RESULTS/pptpd.out" "$LAB_RESULTS"/*.log 2>/dev/null ||
    lab_log "note: pptpd's log does not name the Call-Clear-Request"

mt_check_uplink_only "tcp port 1723 or ip proto 47" "ip proto 47"
lab_log "PASS"
exit 0
