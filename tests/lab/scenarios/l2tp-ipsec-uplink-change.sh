#!/bin/bash
# l2tp-ipsec-uplink-change.sh — transport = l2tp-ipsec through the carrier NAT, in one guest:
#   1. a wrong pre-shared key: every dial fails, and mailtund's reason says the IPsec SA was
#      not established and names the usual suspects (key, identity, proposals, UDP 500/4500);
#   2. the admin fixes the key file (read at each dial): the next dial comes up, no restart;
#   3. the DSL line gets a new address: mailtund drops the old SA and L2TP and dials again at
#      once; the provider reaches the fixed address again (recovery is measured from the new
#      address to the first greeting over the new tunnel).
#
# Records in <results>/timing.txt: wrong_psk_named_seconds, recovery_seconds.
# lab-timeout: 300
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
kit=$LAB_SRC/conf/provider/l2tp-ipsec/swanctl.conf
lab_charon_up $LAB_NS_PROVIDER provider "$kit"
lab_provider_xl2tpd_up
: >"$LAB_RUN/swanctl-empty.conf"
lab_charon_up $LAB_NS_CUSTOMER customer1 "$LAB_RUN/swanctl-empty.conf"
lab_tcp_listen $LAB_NS_CUSTOMER $LAB_FIXED 2525 customer

# --- 1. a wrong key ------------------------------------------------------------------------
( umask 077; echo "not-the-key-of-customer1-${EPOCHREALTIME/./}" >"$LAB_RUN/ipsec.psk" )
mt_config "transport = l2tp-ipsec" "ipsec_socket = unix://$LAB_IPSEC/customer1/charon.vici" \
    "ipsec_id = customer1@example.net" "ipsec_remote_id = vpn.example.com" "ipsec_psk_file = $LAB_RUN/ipsec.psk"
t0=$(lab_now)
mt_tunnel_up
lab_wait_line 60 "the wrong key named" "$log" '*tunnel failed reason="IPsec SA not established:*wrong pre-shared key*'
lab_result wrong_psk_named_seconds "$(lab_elapsed "$t0")"
lab_log "wrong key, after $(lab_elapsed "$t0")s: ${LAB_LINE#*warn: }"
grep -q "tunnel state .* -> up" "$log" && lab_fail "the tunnel came up with a wrong key"

# --- 2. the right key, no restart ------------------------------------------------------------
( umask 077; awk '$1 == "id" && $3 == "customer1@example.net" { f = 1 } f && $1 == "secret" { gsub(/"/, "", $3); print $3; exit }' "$kit" >"$LAB_RUN/ipsec.psk.new" )
mv "$LAB_RUN/ipsec.psk.new" "$LAB_RUN/ipsec.psk"
lab_wait_ip_up 60 $LAB_FIXED
lab_wait 10 "mailtund reporting the link up" mt_state_is up
lab_tcp_probe $LAB_NS_PROVIDER $LAB_FIXED 2525 5 >/dev/null || lab_fail "provider cannot reach $LAB_FIXED:2525"
port1=$(grep -o 'ipsec up conn=mailtun local_port=[0-9]*' "$log" | tail -n 1)
lab_log "key fixed in the file: up without a restart ($port1); provider reaches $LAB_FIXED:2525"

# --- 3. a new DSL address -----------------------------------------------------------------
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
lab_log "PASS: wrong key named, fixed without a restart, new DSL address recovered over L2TP/IPsec"
