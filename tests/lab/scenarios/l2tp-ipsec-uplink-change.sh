#!/bin/bash
# l2tp-ipsec-uplink-change.sh — transport = l2tp-ipsec through the carrier NAT: the tunnel is up,
# then the DSL line gets a new address: mailtund drops the old SA and L2TP and dials again at
# once; the provider reaches the fixed address again (recovery is measured from the new
# address to the first greeting over the new tunnel). A wrong pre-shared key is
# l2tp-ipsec-wrong-psk's.
#
# Records in <results>/timing.txt: recovery_seconds.
# lab-timeout: 240
set -u
. "$LAB_DIR/lib.sh"
. "$LAB_DIR/nat_lib.sh"
. "$LAB_DIR/ipsec_lib.sh"
. "$LAB_DIR/mailtun_lib.sh"

log=$LAB_RESULTS/mailtund.out
new_addr=198.51.100.3
log_epoch() { local d t; read -r d t _ <<<"$1"; date -d "$d $t" +%s.%N; }

lab_nat_base_up
lab_ipsec_modules
lab_charon_up $LAB_NS_PROVIDER provider "$LAB_IPSEC_KIT"
lab_provider_xl2tpd_up
lab_ipsec_customer_up $LAB_NS_CUSTOMER customer1
lab_tcp_listen $LAB_NS_CUSTOMER $LAB_FIXED 2525 customer

# --- the tunnel up ----------------------------------------------------------------------------
lab_ipsec_psk_file customer1@example.net "$LAB_RUN/ipsec.psk"
mt_ipsec_config "$LAB_RUN/ipsec.psk"
mt_config "transport = l2tp-ipsec" "${MT_IPSEC[@]}"
mt_tunnel_up
lab_wait_ip_up 60 $LAB_FIXED
lab_wait 10 "mailtund reporting the link up" mt_state_is up
lab_tcp_probe $LAB_NS_PROVIDER $LAB_FIXED 2525 5 >/dev/null || lab_fail "provider cannot reach $LAB_FIXED:2525"
port1=$(grep -o 'ipsec up conn=mailtun local_port=[0-9]*' "$log" | tail -n 1)
lab_log "up ($port1); provider reaches $LAB_FIXED:2525"

# --- a new DSL address -------------------------------------------------------------------------
# The NAT's inside: the customer's address changes behind it (the outer address stays; the
# carrier hands the line a new inside address, as after a forced disconnect).
lines=$(grep -c . "$log")
ip -n $LAB_NS_CUSTOMER addr flush dev $LAB_IF_CUSTOMER
ip -n $LAB_NS_CUSTOMER addr add $new_addr/$LAB_UPLINK_PREFIX dev $LAB_IF_CUSTOMER
ip -n $LAB_NS_CUSTOMER route replace default via $LAB_NAT_INSIDE dev $LAB_IF_CUSTOMER
lab_wait_line 10 "mailtund to see the new address" "$log" "*uplink change ifname=$LAB_IF_CUSTOMER *now=\"*addr=$new_addr\"*"
t_new=$(log_epoch "$LAB_LINE")
t_back=$(lab_reach_loop $LAB_NS_PROVIDER $LAB_FIXED 2525 40) || lab_fail "the provider did not reach $LAB_FIXED:2525 within 40 s of the new address"
recovery=$(lab_elapsed "$t_new" "$t_back")
lab_result recovery_seconds "$recovery"
tail -n +"$lines" "$log" | grep -q "ipsec stop conn=mailtun" || lab_fail "the old SA was not stopped after the change"
port2=$(grep -o 'ipsec up conn=mailtun local_port=[0-9]*' "$log" | tail -n 1)
[ "$port2" != "$port1" ] || lab_fail "no new SA after the change ($port2)"
lab_log "new DSL address $new_addr: old SA stopped, new SA ($port2) and L2TP up; provider reaches $LAB_FIXED:2525 ${recovery}s after the new address"
lab_stop mailtund 10 || lab_fail "mailtund did not stop on SIGTERM"
lab_log "PASS: new DSL address recovered over L2TP/IPsec"
