#!/bin/bash
# nat-l2tp-ipsec.sh — two customers behind one carrier NAT (GRE dropped, as in nat-pptp), each
# running mailtund with transport = l2tp-ipsec against the provider's kits as shipped
# (conf/provider/l2tp-ipsec/swanctl.conf in charon, conf/provider/l2tp/ in xl2tpd + pppd):
# mailtund has its own charon set up a transport-mode SA for an L2TP port of its choosing
# (over VICI), then dials L2TP inside it. Both are up at once with their own fixed addresses,
# the provider reaches each, and the NAT's outside line carries nothing but IKE and
# ESP-in-UDP — no L2TP, PPP or TCP in clear. SIGTERM ends L2TP and asks charon to terminate
# and unload the SA (whether charon did is recorded in timing.txt, not judged).
#
# Records in <results>/timing.txt: l2tp_ipsec_setup_seconds_1/_2 (mailtund start -> ip-up).
# lab-timeout: 300
set -u
. "$LAB_DIR/lib.sh"
. "$LAB_DIR/nat_lib.sh"
. "$LAB_DIR/ipsec_lib.sh"
. "$LAB_DIR/mailtun_lib.sh"

lab_nat_base_up
lab_ipsec_modules
lab_spawn $LAB_NS_CARRIER capture tcpdump -i $LAB_IF_NAT_WAN -U -s 0 -w "$LAB_RESULTS/outside.pcap"
LAB_POLL=0.05 lab_wait 5 "tcpdump running" test -s "$LAB_RESULTS/outside.pcap"

kit=$LAB_SRC/conf/provider/l2tp-ipsec/swanctl.conf
lab_charon_up $LAB_NS_PROVIDER provider "$kit"
lab_provider_xl2tpd_up
secret_of() { awk -v id="$1" '$1 == "id" && $3 == id { f = 1 } f && $1 == "secret" { gsub(/"/, "", $3); print $3; exit }' "$kit"; }
chap_line() { awk -v u="$1" '!/^[[:space:]]*#/ && $1 == u && NF >= 4' "$LAB_CONF/chap-secrets"; }

FIXED2=$(chap_line customer2 | awk '{ print $4 }')
[ -n "$FIXED2" ] || lab_fail "no customer2 line in $LAB_CONF/chap-secrets"

# customer N NS ID USER FIXED — its own charon (nothing loaded), key file, config, mailtund.
customer() {
    local n=$1 ns=$2 id=$3 user=$4 fixed=$5 conf=$LAB_RUN/mailtun-$1.conf
    : >"$LAB_RUN/swanctl-empty.conf"
    lab_charon_up "$ns" "customer$n" "$LAB_RUN/swanctl-empty.conf"
    ( umask 077; secret_of "$id" >"$LAB_RUN/ipsec-$n.psk" )
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
    lab_tcp_listen "$ns" "$fixed" 2525 "customer$n"
    lab_spawn "$ns" "mailtund$n" "$MT_MAILTUND" -f -c "$conf"
}
status_of() { "$MT_MAILTUNCTL" --tunneld-socket "/run/mailtun$1/mailtund.sock" --relayd-socket /nonexistent status 2>/dev/null; }

getent passwd mailtun >/dev/null || adduser --quiet --system --group --no-create-home mailtun
t0=$(lab_now)
customer 1 $LAB_NS_CUSTOMER customer1@example.net "$LAB_PPTP_USER" $LAB_FIXED
customer 2 $LAB_NS_CUSTOMER2 customer2@example.org customer2 "$FIXED2"
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

# The provider reaches both fixed addresses; markers cross in the tunnels only.
for c in "1 $LAB_FIXED" "2 $FIXED2"; do
    read -r n addr <<<"$c"
    greeting=$(lab_tcp_probe $LAB_NS_PROVIDER "$addr" 2525 5) ||
        lab_fail "provider cannot reach customer$n at $addr:2525; provider routes: $(ip -n $LAB_NS_PROVIDER route 2>&1 | tr '\n' ';')"
    marker="MAIL FROM:<secret-$n-${EPOCHREALTIME/./}@example.org>"
    lab_in $LAB_NS_PROVIDER $LAB_PY - "$addr" "$marker" <<'PY' || lab_fail "sending a marker to customer$n"
import socket, sys
s = socket.create_connection((sys.argv[1], 2525), timeout=5)
s.recv(100)
s.sendall((sys.argv[2] + "\r\n").encode() * 20)
s.close()
PY
    echo "$marker" >>"$LAB_RUN/markers"
    lab_log "provider -> customer$n $addr:2525 ('$greeting'), marker sent"
done

# SIGTERM: L2TP ends, then the SA is terminated and unloaded.
lab_stop mailtund1 10 || lab_fail "customer1's mailtund did not stop on SIGTERM"
# What mailtund leaves in its charon after SIGTERM is recorded, not judged: terminate and
# unload-conn are sent on the way out, but mailtund does not wait for charon's answers and in
# some runs the connection was still loaded (known issue; a new dial replaces it).
charon_clean() { ! { lab_swanctl customer1 --list-conns 2>&1; lab_swanctl customer1 --list-sas 2>&1; } | grep -q mailtun; }
left=yes; for _ in 1 2 3 4 5; do charon_clean && { left=no; break; }; lab_sleep 1; done
lab_result charon_left_loaded "$left"
lab_log "customer1 stopped; mailtun's connection still loaded in its charon: $left"
lab_stop mailtund2 10 || lab_fail "customer2's mailtund did not stop on SIGTERM"

lab_stop capture 5
other=$(tcpdump -nr "$LAB_RESULTS/outside.pcap" 'ip and not (udp port 500 or udp port 4500)' 2>/dev/null | wc -l)
total=$(tcpdump -nr "$LAB_RESULTS/outside.pcap" ip 2>/dev/null | wc -l)
[ "$total" -gt 20 ] || lab_fail "only $total packets on the NAT's outside line"
[ "$other" = 0 ] || lab_fail "$other packets other than IKE/ESP-in-UDP outside: $(tcpdump -nr "$LAB_RESULTS/outside.pcap" 'ip and not (udp port 500 or udp port 4500)' 2>/dev/null | head -n 3)"
while read -r m; do grep -qa "$m" "$LAB_RESULTS/outside.pcap" && lab_fail "marker in clear outside: $m"; done <"$LAB_RUN/markers"
lab_log "outside line: $total packets, all IKE or ESP-in-UDP; no marker in clear"
lab_charon_down customer1; lab_charon_down customer2; lab_charon_down provider
lab_log "PASS: two customers behind one NAT up at once over L2TP/IPsec"
