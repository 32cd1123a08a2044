#!/bin/bash
# nat-ipsec-sa.sh — the provider's L2TP/IPsec kit (conf/provider/l2tp-ipsec/swanctl.conf,
# installed as shipped) serves two customers behind one carrier NAT at once: each customer's
# charon (IKEv2, PSK, its own identity) gets a transport-mode SA for its L2TP port, NAT
# traversal is on (ESP in UDP 4500), UDP to the provider's port 1701 crosses only inside
# ESP, and the NAT's outside line carries nothing but IKE and ESP-in-UDP.
#
# Both customers share the NAT's one outer address; their SAs can live side by side at the
# provider only because their L2TP source ports differ (transport-mode policies are per
# address and port). This is what mailtun's l2tp-ipsec transport has to do per dial.
# customer1's charon is driven by mailtun's own VICI client (tunneld/ipsec/ipsec_sa through
# tests/host/ipsec_tool): key and connection loaded over VICI, SA initiated, and the loss of
# the SA when the provider deletes it reported as "down"; SIGTERM then terminates and unloads.
# customer2's is driven with swanctl and a swanctl.conf, as the reference.
#
# Records in <results>/timing.txt: sa_seconds_1, sa_seconds_2 (initiate -> SA installed).
# lab-timeout: 240
set -u
. "$LAB_DIR/lib.sh"
. "$LAB_DIR/nat_lib.sh"
. "$LAB_DIR/ipsec_lib.sh"
. "$LAB_DIR/mailtun_lib.sh"          # LAB_BUILD: where ipsec_tool is

lab_nat_base_up
lab_ipsec_modules

# The capture on the NAT's outside: the "DSL side" as the provider and anyone between see it.
lab_nat_capture_start

# The provider: the kit as shipped, and a UDP echo on 1701 standing in for xl2tpd.
lab_charon_up $LAB_NS_PROVIDER provider "$LAB_IPSEC_KIT"
lab_spawn $LAB_NS_PROVIDER udp-echo $LAB_PY -c '
import socket
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("'$LAB_PPTP_SERVER'", 1701))
while True:
    d, a = s.recvfrom(2048)
    s.sendto(b"echo " + d, a)'


# customer_conf <id> <l2tp-port> — a customer's swanctl.conf, what mailtund will generate.
customer_conf() {
    cat <<EOF
connections {
    mailtun {
        version = 2
        remote_addrs = $LAB_PPTP_SERVER
        proposals = aes256gcm16-prfsha384-curve25519,aes256gcm16-prfsha256-ecp256
        local {
            auth = psk
            id = $1
        }
        remote {
            auth = psk
            id = vpn.example.com
        }
        children {
            l2tp {
                mode = transport
                local_ts = dynamic[udp/$2]
                remote_ts = dynamic[udp/1701]
                esp_proposals = aes256gcm16-curve25519,aes256gcm16-ecp256
            }
        }
    }
}
secrets {
    ike-mailtun {
        id = $1
        secret = "$(lab_ipsec_secret "$1")"
    }
}
EOF
}

# up <ns> <name> <id> <port> <n> — charon for one customer, the SA initiated and timed.
up() {
    local ns=$1 name=$2 id=$3 port=$4 n=$5 t0
    [ -n "$(lab_ipsec_secret "$id")" ] || lab_fail "no secret for $id in $LAB_IPSEC_KIT"
    customer_conf "$id" "$port" >"$LAB_RUN/swanctl-$name.conf"
    lab_charon_up "$ns" "$name" "$LAB_RUN/swanctl-$name.conf"
    t0=$(lab_now)
    lab_swanctl "$name" --initiate --child l2tp --timeout 30 >"$LAB_RESULTS/initiate-$name.out" 2>&1 ||
        lab_fail "$name: IKE/ESP set-up failed: $(grep -v '^\[' "$LAB_RESULTS/initiate-$name.out" | tail -n 3)"
    lab_result "sa_seconds_$n" "$(lab_elapsed "$t0")"
    lab_log "$name ($id, L2TP port $port): SA up in $(lab_elapsed "$t0")s: $(grep -o 'CHILD_SA l2tp{[0-9]*} established.*' "$LAB_RESULTS/initiate-$name.out" | head -n 1 | cut -c1-120)"
}

# probe <ns> <port> <marker> — UDP from <port> to the provider's 1701, the echo must come back.
probe() {
    lab_in "$1" $LAB_PY - "$LAB_PPTP_SERVER" "$2" "$3" <<'PY'
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("0.0.0.0", int(sys.argv[2])))
s.settimeout(3)
for _ in range(3):
    s.sendto(sys.argv[3].encode(), (sys.argv[1], 1701))
    try:
        d, _ = s.recvfrom(2048)
        print(d.decode()); sys.exit(0)
    except socket.timeout:
        pass
sys.exit(1)
PY
}

# customer1: an empty charon; ipsec_sa loads everything over VICI.
lab_ipsec_customer_up $LAB_NS_CUSTOMER customer1
t0=$(lab_now)
lab_spawn $LAB_NS_CUSTOMER ipsec-tool "$LAB_BUILD/tests/host/ipsec_tool" "unix://$LAB_IPSEC/customer1/charon.vici" \
    $LAB_PPTP_SERVER 40001 customer1@example.net vpn.example.com "$(lab_ipsec_secret customer1@example.net)"
TOOL_PID=$LAB_PID
lab_wait_line 30 "ipsec_sa reporting the SA up" "$LAB_RESULTS/ipsec-tool.out" 'up conn=mailtun'
lab_result sa_seconds_1 "$(lab_elapsed "$t0")"
lab_log "customer1 (customer1@example.net, L2TP port 40001, mailtun's VICI client): SA up in $(lab_elapsed "$t0")s"
up $LAB_NS_CUSTOMER2 customer2 customer2@example.org 40002 2

# Both IKE SAs at the provider, both behind the NAT's one address, NAT-T on.
sas=$(lab_swanctl provider --list-sas 2>&1)
echo "$sas" >"$LAB_RESULTS/provider-sas.txt"
n=$(grep -c "mailtun-l2tp: #[0-9]*, ESTABLISHED" <<<"$sas")
[ "$n" = 2 ] || lab_fail "the provider holds $n established IKE SAs, not 2: $(head -n 20 <<<"$sas")"
grep -q "remote 'customer1@example.net' @ $LAB_NAT_OUTSIDE\[[0-9]*\]" <<<"$sas" &&
    grep -q "remote 'customer2@example.org' @ $LAB_NAT_OUTSIDE\[[0-9]*\]" <<<"$sas" ||
    lab_fail "the provider does not see both customers at the NAT's address $LAB_NAT_OUTSIDE: $(grep remote <<<"$sas")"
xs=$(lab_in $LAB_NS_PROVIDER ip xfrm state)
[ "$(grep -c 'encap type espinudp' <<<"$xs")" -ge 4 ] || lab_fail "not every ESP SA is in UDP (NAT-T): $xs"
lab_log "provider: 2 IKE SAs from $LAB_NAT_OUTSIDE (customer1, customer2), ESP in UDP 4500 both ways"

# L2TP's port is reachable through each SA, and only through it.
for c in "$LAB_NS_CUSTOMER 40001 customer1" "$LAB_NS_CUSTOMER2 40002 customer2"; do
    read -r ns port name <<<"$c"
    marker="l2tp-clear-text-marker-$name-${EPOCHREALTIME/./}"
    got=$(probe "$ns" "$port" "$marker") || lab_fail "$name: no echo from $LAB_PPTP_SERVER:1701 through its SA"
    [ "$got" = "echo $marker" ] || lab_fail "$name: wrong echo '$got'"
    lab_log "$name: UDP $port -> $LAB_PPTP_SERVER:1701 and back through ESP"
    echo "$marker" >>"$LAB_RUN/markers"
done

# The outside line: IKE (UDP 500/4500) and ESP-in-UDP only; no marker in clear.
lab_nat_capture_check "" "$LAB_RUN/markers"

# Negative control: UDP from a port no SA covers goes out in clear; the same check on a new
# capture must see it (a check that cannot fail proves nothing).
lab_nat_capture_start outside-control
marker="clear-control-${EPOCHREALTIME/./}"
probe $LAB_NS_CUSTOMER 40009 "$marker" >/dev/null || lab_fail "control: no echo for UDP outside the SA"
lab_sleep 1; lab_stop capture-outside-control 5
other=$(lab_nat_outside_count "$LAB_RESULTS/outside-control.pcap" "$(lab_nat_not_ipsec)")
[ "$other" -gt 0 ] && grep -qa "$marker" "$LAB_RESULTS/outside-control.pcap" ||
    lab_fail "control: UDP outside the SA was not seen in clear ($other packets): the outside check is blind"
lab_log "control: UDP from port 40009 (no SA) crosses in clear and the check sees it ($other packets)"

# The provider deletes the SAs: mailtun's client names the loss; SIGTERM cleans up.
lab_swanctl provider --terminate --ike mailtun-l2tp --force >/dev/null 2>&1
lab_wait_line 20 "ipsec_sa reporting the SA gone" "$LAB_RESULTS/ipsec-tool.out" 'down IPsec SA gone*'
lab_log "customer1 after the provider deleted its SA: $LAB_LINE"
kill -TERM $TOOL_PID
lab_wait_line 10 "ipsec_tool exiting after its stop" "$LAB_RESULTS/ipsec-tool.out" 'exit'
left=$(lab_swanctl customer1 --list-conns 2>&1; lab_swanctl customer1 --list-sas 2>&1)
grep -q mailtun <<<"$left" && lab_fail "left in customer1's charon after the stop: $left"
lab_log "customer1 after SIGTERM: connection unloaded, nothing left in its charon"

lab_charon_down customer1; lab_charon_down customer2; lab_charon_down provider
lab_log "PASS: the provider kit carries two customers behind one NAT, each in its own transport-mode SA"
