#!/bin/bash
# nat-pptp.sh — PPTP behind a carrier NAT that passes TCP and UDP but not GRE (a carrier-grade
# NAT, or a home router without a PPTP helper): the control connection on TCP 1723 comes up
# through the NAT, the call is placed, but PPP over GRE never gets an answer. mailtund must
# name that dead path — the control connection answers, GRE does not — in its log, not just
# report "pppd exited" (tests/host/mailtund_dead_path.sh checks `mailtunctl status` too).
# The NAT's drop counter shows GRE was really sent and stopped there; the provider's pppd
# never saw an LCP packet from us.
#
# Records in <results>/timing.txt: dead_path_seconds (mailtund start -> the named failure).
# lab-timeout: 150
set -u
. "$LAB_DIR/lib.sh"
. "$LAB_DIR/nat_lib.sh"
. "$LAB_DIR/mailtun_lib.sh"

lab_nat_base_up
lab_provider_pptpd_up

log=$LAB_RESULTS/mailtund.out
mt_config
t0=$(lab_now)
mt_tunnel_up
lab_log "mailtund started behind the carrier NAT (customer $LAB_UPLINK_ADDR, outside $LAB_NAT_OUTSIDE)"

# TCP 1723 crosses: the server accepts the control connection and the call (from the NAT's
# outside address, which is all the provider sees).
lab_wait_line 20 "pptpd accepting the control connection from the NAT's address" "$LAB_RESULTS/syslog.log" \
    "*pptpd*CTRL: Client $LAB_NAT_OUTSIDE control connection started*"
lab_log "provider: ${LAB_LINE#*pptpd}"

# pppd gives up on LCP (no GRE comes back), and mailtund names the reason.
lab_wait_line 90 "mailtund naming the dead GRE path" "$log" '*tunnel failed reason=*dead path*GRE*'
dead=$(lab_elapsed "$t0")
lab_result dead_path_seconds "$dead"
lab_log "mailtund after ${dead}s: ${LAB_LINE#*warn: }"

# The NAT dropped our GRE; nothing of it reached the provider's pppd as LCP.
dropped=$(lab_nat_gre_dropped)
[ "${dropped:-0}" -gt 0 ] || lab_fail "the carrier NAT dropped no GRE: the scenario did not test what it says"
lab_result gre_dropped "$dropped"
lab_log "carrier NAT dropped $dropped GRE packets"
if grep -q "rcvd \[LCP ConfReq" "$LAB_RESULTS/provider-pppd.log" 2>/dev/null; then
    lab_fail "the provider's pppd received LCP from the customer: GRE crossed the NAT"
fi
lab_log "the provider's pppd never received LCP from the customer"

lab_stop mailtund 10 || lab_fail "mailtund did not stop on SIGTERM"
lab_log "PASS: behind a NAT without GRE, mailtund names the dead path"
