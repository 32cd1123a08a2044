#!/bin/bash
# l2tp-ipsec-uplink-change.sh — transport = l2tp-ipsec through the carrier NAT: the tunnel is up,
# then the DSL line gets a new address: mailtund drops the old SA and L2TP and dials again at
# once; the provider reaches the fixed address again (recovery is measured from the new
# address to the first greeting over the new tunnel). A wrong pre-shared key is
# l2tp-ipsec-wrong-psk's.
#
# Then the next address at once (added before the old one goes): the new SA must not be hit by
# the old one's terminate and unload-conn, still on their way to charon when it dials.
# Records in <results>/timing.txt: recovery_seconds, swap_recovery_seconds,
# swap_dial_before_stop_answered (yes: the dial went out before charon answered the stop).
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

# --- the next address at once: added before the old one goes ------------------------------------
# (as DHCP clients renew onto a new lease). mailtund sees old -> new in one change and dials as
# soon as pppd is reaped, before charon has answered the old SA's terminate and unload-conn:
# those must not touch the new SA, which is its own connection in charon (mailtun-<port>).
swap_addr=198.51.100.5
lines=$(grep -c . "$log")
lab_in $LAB_NS_CUSTOMER sysctl -qw net.ipv4.conf.$LAB_IF_CUSTOMER.promote_secondaries=1
ip -n $LAB_NS_CUSTOMER addr add $swap_addr/$LAB_UPLINK_PREFIX dev $LAB_IF_CUSTOMER
ip -n $LAB_NS_CUSTOMER addr del $new_addr/$LAB_UPLINK_PREFIX dev $LAB_IF_CUSTOMER
lab_wait_line 10 "mailtund to see $swap_addr" "$log" "*uplink change ifname=$LAB_IF_CUSTOMER *was=\"*addr=$new_addr\"*now=\"*addr=$swap_addr\"*"
t_new=$(log_epoch "$LAB_LINE")
t_back=$(lab_reach_loop $LAB_NS_PROVIDER $LAB_FIXED 2525 40) || lab_fail "the provider did not reach $LAB_FIXED:2525 within 40 s of $swap_addr"
lab_result swap_recovery_seconds "$(lab_elapsed "$t_new" "$t_back")"
after=$(tail -n +"$lines" "$log")
port3=$(grep -o 'ipsec up conn=mailtun local_port=[0-9]*' <<<"$after" | tail -n 1)
[ -n "$port3" ] && [ "$port3" != "$port2" ] || lab_fail "no new SA after the swap to $swap_addr"
grep -E "IPsec SA gone|tunnel failed" <<<"$after" && lab_fail "the new SA failed after the swap (above)"
# was the window there? (a dial logged before charon's answer to the old stop)
early=no
awk '/ipsec stop conn=mailtun$/ { s = 1 } s && /ipsec dial conn=/ { print "yes"; exit } /charon answered/ { exit }' <<<"$after" | grep -q yes && early=yes
lab_result swap_dial_before_stop_answered "$early"
conns=$(lab_swanctl customer1 --list-conns 2>&1)
want=mailtun-${port3##*=}
[ "$(grep -c '^mailtun' <<<"$conns")" = 1 ] && grep -q "^$want: " <<<"$conns" ||
    lab_fail "customer1's charon should hold exactly $want (the new SA's own connection), holds: $(grep '^[a-z]' <<<"$conns" | tr '\n' ' ')"
lab_log "atomic swap to $swap_addr: new SA ($port3) up, reachable $(lab_elapsed "$t_new" "$t_back")s after; dial before charon answered the old stop: $early; charon holds only $want"
lab_stop mailtund 10 || lab_fail "mailtund did not stop on SIGTERM"
lab_log "PASS: new DSL address recovered over L2TP/IPsec"
