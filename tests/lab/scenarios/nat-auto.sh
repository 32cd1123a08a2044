#!/bin/bash
# nat-auto.sh — transport = auto behind the carrier NAT (TCP and UDP cross, GRE does not): the
# first dial is PPTP, its control connection comes up but GRE does not cross, mailtund names the
# dead path and switches to L2TP/IPsec by itself (log line and `mailtunctl status` say which
# transport and why), the fixed address comes up through the SA, and a mail from the
# Internet reaches the inside server through it over pinned TLS. Nobody touches the
# configuration. The provider runs all its kits as shipped: pptpd, xl2tpd and charon. On the
# NAT's outside line: PPTP's attempt (its TCP control connection, the provider's GRE the NAT
# drops), then nothing but IKE and ESP-in-UDP — no L2TP, PPP or SMTP in clear.
# Then mailtund is restarted: it remembers that L2TP/IPsec brought the link up
# (<state_dir>/auto-transport) and dials it first, without PPTP's attempt and dead path.
#
# Records in <results>/timing.txt: auto_switch_seconds (start -> switch), auto_up_seconds
# (start -> fixed address up over L2TP/IPsec), mail_seconds, auto_restart_up_seconds (restart ->
# fixed address up), outside_packets.
# lab-timeout: 300
set -u
. "$LAB_DIR/lib.sh"
. "$LAB_DIR/nat_lib.sh"
. "$LAB_DIR/ipsec_lib.sh"
. "$LAB_DIR/mailtun_lib.sh"

lab_nat_base_up
lab_ipsec_modules
lab_nat_capture_start
lab_provider_pptpd_up
lab_provider_xl2tpd_up
lab_charon_up $LAB_NS_PROVIDER provider "$LAB_IPSEC_KIT"
LAB_POSTFIX_RETRY=slow lab_provider_postfix_up

lab_ipsec_customer_up $LAB_NS_CUSTOMER customer1
lab_ipsec_psk_file customer1@example.net "$LAB_RUN/ipsec.psk"
mt_ipsec_config "$LAB_RUN/ipsec.psk"
mt_config "transport = auto" "connect_timeout = 5s" "${MT_IPSEC[@]}"
mt_relay_config
mt_inside_up
mt_relay_up
log=$LAB_RESULTS/mailtund.out
memory=/run/mailtun/auto-transport      # state_dir's default
rm -f "$memory"                         # a first start: nothing remembered

t0=$(lab_now)
mt_tunnel_up
lab_wait_line 20 "a first dial over PPTP" "$log" '*dial server=* transport=pptp auto="PPTP first"*'
lab_wait_line 60 "auto switching to l2tp-ipsec" "$log" '*transport auto: switching to l2tp-ipsec*'
lab_result auto_switch_seconds "$(lab_elapsed "$t0")"
lab_log "after $(lab_elapsed "$t0")s: ${LAB_LINE#*notice: }"
grep -q 'tunnel failed reason="dead path: the PPTP control connection answers but PPP over GRE' "$log" ||
    lab_fail "the switch came without the dead GRE path being named"
lab_wait_ip_up 60 $LAB_FIXED
lab_result auto_up_seconds "$(lab_elapsed "$t0" "$LAB_IP_UP_TIME")"
lab_log "fixed address $LAB_FIXED up on $LAB_IP_UP_IF $(lab_elapsed "$t0" "$LAB_IP_UP_TIME")s after start"
lab_wait 10 "mailtund reporting the link up" mt_state_is up
st=$(mt_status)
grep -q "transport  *l2tp-ipsec (auto: PPTP's GRE path was dead)$" <<<"$st" || lab_fail "status does not say l2tp-ipsec and why: $st"
lab_log "mailtunctl status: $(grep 'transport' <<<"$st" | tr -s ' ')"

m=auto-${EPOCHREALTIME/./}
mt_send "$m" || lab_fail "the provider's MX refused the mail (swaks.log)"
t=$(lab_now)
LAB_POLL=0.2 lab_wait 60 "the mail at the inside server" mt_inside_has "$m"
lab_result mail_seconds "$(lab_elapsed "$t")"
lab_log "mail: provider MX -> L2TP/IPsec -> mailrelayd -> inside server in $(lab_elapsed "$t")s"
v=$(lab_provider_verified_pushes) || lab_fail "a push to $LAB_FIXED without a verified (pinned) TLS session: $v"
lab_log "provider: $v"
lab_stop mailtund 10 || lab_fail "mailtund did not stop on SIGTERM"

# Restarted, auto starts where it ended: L2TP/IPsec, no PPTP attempt.
[ "$(cat "$memory" 2>/dev/null)" = l2tp-ipsec ] || lab_fail "$memory does not say l2tp-ipsec: $(cat "$memory" 2>&1)"
mv "$log" "$LAB_RESULTS/mailtund-first.out"
mv "$LAB_RESULTS/ppp-hooks.log" "$LAB_RESULTS/ppp-hooks-first.log"
t1=$(lab_now)
mt_tunnel_up
lab_wait_line 20 "the restart starting with l2tp-ipsec" "$log" \
    '*transport auto: starting with l2tp-ipsec, it brought the link up last*'
lab_wait_ip_up 60 $LAB_FIXED
lab_result auto_restart_up_seconds "$(lab_elapsed "$t1" "$LAB_IP_UP_TIME")"
lab_log "restarted: fixed address up over L2TP/IPsec $(lab_elapsed "$t1" "$LAB_IP_UP_TIME")s after start (the first start took longer by the PPTP attempt)"
grep -q 'dial server=.* transport=pptp' "$log" && lab_fail "the restarted mailtund dialled PPTP: $(grep -m1 'transport=pptp' "$log")"
grep -q 'dial server=.* transport=l2tp-ipsec auto="L2TP/IPsec worked last"' "$log" ||
    lab_fail "the restart's dial does not say why it is l2tp-ipsec: $(grep -m1 'dial server=' "$log")"
lab_wait 10 "mailtund reporting the link up" mt_state_is up
st=$(mt_status)
grep -q "transport  *l2tp-ipsec (auto: L2TP/IPsec worked last)$" <<<"$st" || lab_fail "status after the restart: $st"
lab_stop mailtund 10 || lab_fail "mailtund did not stop on SIGTERM"
echo "$m" >"$LAB_RUN/markers"
lab_nat_capture_check "tcp port 1723 or proto gre" "$LAB_RUN/markers"
lab_log "PASS: auto found L2TP/IPsec behind the NAT by itself, and mail flows"
