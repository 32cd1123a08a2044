#!/bin/bash
# nat-l2tp-ipsec.sh — two customers behind one carrier NAT (GRE dropped, as in nat-pptp), each
# running mailtund with transport = l2tp-ipsec against the provider's kits as shipped
# (conf/provider/l2tp-ipsec/swanctl.conf in charon, conf/provider/l2tp/ in xl2tpd + pppd):
# mailtund has its own charon set up a transport-mode SA for an L2TP port of its choosing
# (over VICI), then dials L2TP inside it. Both are up at once with their own fixed addresses,
# and the provider pushes one mail to each (plain SMTP from its MX's address to the fixed
# address, as its MTA would): each arrives at that customer's inside server through its
# mailrelayd, and not at the other's. The NAT's outside line carries nothing but IKE and
# ESP-in-UDP — no L2TP, PPP or SMTP in clear, neither mail's marker. On SIGTERM mailtund ends
# L2TP and waits for charon to terminate and unload the SA: once it has exited, its
# connection is no longer loaded in charon.
#
# Records in <results>/timing.txt: l2tp_ipsec_setup_seconds_1/_2 (mailtunds started -> ip-up),
# mail_seconds_1/_2 (push accepted -> at the inside server), outside_packets.
# lab-timeout: 300
set -u
. "$LAB_DIR/lib.sh"
. "$LAB_DIR/nat_lib.sh"
. "$LAB_DIR/ipsec_lib.sh"
. "$LAB_DIR/mailtun_lib.sh"

lab_nat_base_up
lab_ipsec_modules
lab_nat_capture_start

lab_charon_up $LAB_NS_PROVIDER provider "$LAB_IPSEC_KIT"
lab_provider_xl2tpd_up
chap_line() { awk -v u="$1" '!/^[[:space:]]*#/ && $1 == u && NF >= 4' "$LAB_CONF/chap-secrets"; }

FIXED2=$(chap_line customer2 | awk '{ print $4 }')
[ -n "$FIXED2" ] || lab_fail "no customer2 line in $LAB_CONF/chap-secrets"
DOMAIN2=example.org

# customer N NS ID USER FIXED DOMAIN — its own charon (nothing loaded), key file, config, inside
# mail server and mailrelayd on its fixed address; mailtund is started afterwards.
customer() {
    local n=$1 ns=$2 id=$3 user=$4 fixed=$5 domain=$6 conf=$LAB_RUN/mailtun-$1.conf
        lab_ipsec_customer_up "$ns" "customer$n"
    lab_ipsec_psk_file "$id" "$LAB_RUN/ipsec-$n.psk"
    mkdir -p "/run/mailtun$n"
    cat >"$conf" <<EOF
[tunnel]
transport = l2tp-ipsec
server = $LAB_PPTP_SERVER
user = $user
remotename = $LAB_PPTP_NAME
fixed_address = $fixed
uplink = $LAB_IF_CUSTOMER
plugin = $MT_PLUGIN
control_socket = /run/mailtun$n/mailtund.sock
state_dir = /run/mailtun$n
pppd_logfile = $LAB_RESULTS/customer$n-pppd.log
ipsec_socket = unix://$LAB_IPSEC/customer$n/charon.vici
ipsec_id = $id
ipsec_remote_id = vpn.example.com
ipsec_psk_file = $LAB_RUN/ipsec-$n.psk
backoff_min = 1s
backoff_max = 8s
log_level = debug
EOF
    mt_relay_config "$conf" "$fixed" "$domain" "/run/mailtun$n"
    mt_inside_up "$ns" "$n"
    lab_spawn "$ns" "mailrelayd$n" "$MT_MAILRELAYD" -f -c "$conf"
    LAB_POLL=0.05 lab_wait 10 "customer$n's mailrelayd on $fixed:25" lab_listening "$ns" "$fixed" 25
}
status_of() { "$MT_MAILTUNCTL" --tunneld-socket "/run/mailtun$1/mailtund.sock" --relayd-socket /nonexistent status 2>/dev/null; }

getent passwd mailtun >/dev/null || adduser --quiet --system --group --no-create-home mailtun
customer 1 $LAB_NS_CUSTOMER customer1@example.net "$LAB_PPTP_USER" $LAB_FIXED $LAB_CUSTOMER_DOMAIN
customer 2 $LAB_NS_CUSTOMER2 customer2@example.org customer2 "$FIXED2" $DOMAIN2
t0=$(lab_now)
lab_spawn $LAB_NS_CUSTOMER mailtund1 "$MT_MAILTUND" -f -c "$LAB_RUN/mailtun-1.conf"
lab_spawn $LAB_NS_CUSTOMER2 mailtund2 "$MT_MAILTUND" -f -c "$LAB_RUN/mailtun-2.conf"
lab_wait_ip_up 60 $LAB_FIXED
lab_result l2tp_ipsec_setup_seconds_1 "$(lab_elapsed "$t0" "$LAB_IP_UP_TIME")"
lab_log "customer1: $LAB_FIXED up on $LAB_IP_UP_IF $(lab_elapsed "$t0" "$LAB_IP_UP_TIME")s after start"
lab_wait_ip_up 60 "$FIXED2"
lab_result l2tp_ipsec_setup_seconds_2 "$(lab_elapsed "$t0" "$LAB_IP_UP_TIME")"
lab_log "customer2: $FIXED2 up on $LAB_IP_UP_IF $(lab_elapsed "$t0" "$LAB_IP_UP_TIME")s after start"
for n in 1 2; do
    st=$(status_of $n)
    grep -q "transport  *l2tp-ipsec$" <<<"$st" && grep -q "ipsec  *up$" <<<"$st" ||
        lab_fail "customer$n: mailtunctl status does not show l2tp-ipsec up: $st"
done
grep -q "ipsec up conn=mailtun local_port=[0-9]*: starting L2TP inside it" "$LAB_RESULTS/mailtund1.out" ||
    lab_fail "customer1's mailtund did not start L2TP after its SA: $(grep ipsec "$LAB_RESULTS/mailtund1.out" | tail -3)"
lab_log "both mailtunds: transport l2tp-ipsec, ipsec up ($(grep -o 'local_port=[0-9]*' "$LAB_RESULTS/mailtund1.out" | head -1), $(grep -o 'local_port=[0-9]*' "$LAB_RESULTS/mailtund2.out" | head -1))"

sas=$(lab_swanctl provider --list-sas 2>&1)
[ "$(grep -c "mailtun-l2tp: #[0-9]*, ESTABLISHED" <<<"$sas")" = 2 ] || lab_fail "the provider does not hold 2 IKE SAs: $sas"

# The provider pushes one mail to each fixed address from its MX's address: plain SMTP, so a
# marker would show on the outside line if anything crossed it in clear.
push() {
    lab_in $LAB_NS_PROVIDER swaks --server "$1" --port 25 --local-interface $LAB_PROVIDER_MX --helo mx.$LAB_PROVIDER_DOMAIN \
        --from sender@example.com --to "postmaster@$2" --header "Subject: $3" \
        --header "Message-Id: <$3@example.org>" --body "marker $3" --timeout 10 >>"$LAB_RESULTS/swaks.log" 2>&1
}
for c in "1 $LAB_FIXED $LAB_CUSTOMER_DOMAIN" "2 $FIXED2 $DOMAIN2"; do
    read -r n addr domain <<<"$c"
    m=nat-mail-$n-${EPOCHREALTIME/./}
    echo "$m" >>"$LAB_RUN/markers"
    push "$addr" "$domain" "$m" || lab_fail "customer$n's mailrelayd at $addr:25 refused the push (swaks.log); provider routes: $(ip -n $LAB_NS_PROVIDER route 2>&1 | tr '\n' ';')"
    t=$(lab_now)
    LAB_POLL=0.1 lab_wait 30 "mail $n at customer$n's inside server" mt_inside_has "$m" "$LAB_RESULTS/inside$n"
    lab_result "mail_seconds_$n" "$(lab_elapsed "$t")"
    lab_log "provider -> $addr:25 (postmaster@$domain) -> customer$n's mailrelayd -> its inside server in $(lab_elapsed "$t")s"
done
m1=$(sed -n 1p "$LAB_RUN/markers") m2=$(sed -n 2p "$LAB_RUN/markers")
[ "$(mt_inside_count "$m1" "$LAB_RESULTS/inside1")$(mt_inside_count "$m2" "$LAB_RESULTS/inside2")" = 11 ] &&
    [ "$(mt_inside_count "$m1" "$LAB_RESULTS/inside2")$(mt_inside_count "$m2" "$LAB_RESULTS/inside1")" = 00 ] ||
    lab_fail "not each mail once at its own customer and none at the other: inside1: $(ls "$LAB_RESULTS/inside1"), inside2: $(ls "$LAB_RESULTS/inside2")"
lab_log "each mail once at its own customer's inside server, none at the other's"

# SIGTERM: L2TP ends, the SA is terminated and unloaded, and mailtund waits for charon's
# answers before it exits: its connection is gone from charon at once, the SA within 2 s.
lab_stop mailtund1 10 || lab_fail "customer1's mailtund did not stop on SIGTERM"
conns=$(lab_swanctl customer1 --list-conns 2>&1)
grep -q mailtun <<<"$conns" && lab_fail "mailtun's connection still loaded in customer1's charon after mailtund exited: $conns"
sa_gone() { ! lab_swanctl customer1 --list-sas 2>&1 | grep -q mailtun; }
lab_wait 2 "customer1's charon to drop mailtun's SA" sa_gone
lab_result charon_left_loaded no
answered=$(grep -o 'ipsec stop conn=mailtun: charon answered.*' "$LAB_RESULTS/mailtund1.out" | tail -n 1)
[ -n "$answered" ] || lab_fail "customer1's mailtund did not log charon's answers to its stop: $(grep 'ipsec stop' "$LAB_RESULTS/mailtund1.out")"
lab_log "customer1 stopped ($answered); nothing of mailtun's left in its charon"
lab_stop mailtund2 10 || lab_fail "customer2's mailtund did not stop on SIGTERM"

lab_nat_capture_check "" "$LAB_RUN/markers"
lab_stop mailrelayd1 10; lab_stop mailrelayd2 10
lab_charon_down customer1; lab_charon_down customer2; lab_charon_down provider
lab_log "PASS: two customers behind one NAT up at once over L2TP/IPsec, mail pushed to each"
