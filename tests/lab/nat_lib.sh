# nat_lib.sh — a carrier NAT between the customers and the provider (sourced after lib.sh).
#
#   lab_nat_base_up      modules, syslog, and the NAT network below, instead of lab_base_up
#   lab_nat_capture_start / lab_nat_capture_check [allowed] [markers]
#                        the DSL side as the provider sees it: nothing but IKE and ESP-in-UDP
#
#  customer ns  dsl0 198.51.100.2/24 ─┐                 carrier ns                    provider ns
#                                     ├─ cgn0 (bridge) 198.51.100.1/24   wan0 203.0.113.66/26 ── isp0 203.0.113.65/26
#  customer2 ns dsl0 198.51.100.4/24 ─┘   masquerade TCP/UDP out of wan0;           lo: 203.0.113.1, .25, 192.0.2.1
#                                          GRE (IP protocol 47) dropped both ways
#
# The carrier behaves as a carrier-grade NAT or a home router without a PPTP helper: TCP and
# UDP cross (the source becomes 203.0.113.66), GRE does not. GRE to the NAT's own address is
# dropped too: the kernel's pptp module finds its sessions by call id in one table for all
# namespaces, so a GRE packet the carrier accepted locally would reach the customer's socket
# in this one-kernel lab, as it never could across real machines. Both customers reach the provider
# only through it; the provider sees one address for both. The drop rule counts what it
# dropped (lab_nat_gre_dropped), so a scenario can show GRE was really tried and stopped.
# Needs iptables-legacy (package iptables): the lab kernel (Debian's UML 6.1) has no
# nf_tables for IPv4 (CONFIG_NF_TABLES_IPV4 is off), only the x_tables NAT.

LAB_NS_CARRIER=carrier
LAB_NS_CUSTOMER2=customer2
LAB_UPLINK_ADDR2=198.51.100.4            # the second customer behind the same NAT
LAB_NAT_INSIDE=198.51.100.1              # the NAT's inside address = the customers' gateway
LAB_NAT_OUTSIDE=203.0.113.66             # the one address the provider sees
LAB_NAT_PROVIDER=203.0.113.65            # the provider's end of the NAT's outside link
LAB_IF_NAT_WAN=wan0

# lab_nat_modules — what the carrier's bridge and NAT need, on top of lab_modules.
lab_nat_modules() {
    command -v iptables-legacy >/dev/null || lab_skip "the carrier NAT needs iptables-legacy (package iptables; run tests/deps.sh)"
    modprobe -a bridge nf_conntrack nf_nat ip_tables iptable_nat iptable_filter xt_MASQUERADE ||
        lab_fail "modprobe of the NAT modules (bridge, nf_nat, iptable_nat, ipt_MASQUERADE) failed"
}

# lab_nat_net_up — the namespaces, links, addresses and the NAT ruleset above.
lab_nat_net_up() {
    local ns
    for ns in $LAB_NS_PROVIDER $LAB_NS_CARRIER $LAB_NS_CUSTOMER $LAB_NS_CUSTOMER2; do
        ip netns add $ns || lab_fail "ip netns add $ns"
        ip -n $ns link set lo up
        ip netns exec $ns sleep infinity </dev/null >/dev/null 2>&1 &
        echo $! >"$LAB_RUN/ns-$ns.pid"
    done
    # outside: carrier <-> provider
    ip link add $LAB_IF_NAT_WAN netns $LAB_NS_CARRIER type veth peer name $LAB_IF_PROVIDER netns $LAB_NS_PROVIDER ||
        lab_fail "cannot create the carrier's outside veth"
    ip -n $LAB_NS_PROVIDER addr add $LAB_NAT_PROVIDER/26 dev $LAB_IF_PROVIDER
    ip -n $LAB_NS_PROVIDER addr add $LAB_PPTP_SERVER/32 dev lo
    ip -n $LAB_NS_PROVIDER addr add $LAB_PROVIDER_MX/32 dev lo
    ip -n $LAB_NS_PROVIDER addr add $LAB_PPP_LOCAL/32 dev lo
    ip -n $LAB_NS_PROVIDER link set $LAB_IF_PROVIDER up
    lab_in $LAB_NS_PROVIDER sysctl -qw net.ipv4.ip_forward=1
    ip -n $LAB_NS_CARRIER addr add $LAB_NAT_OUTSIDE/26 dev $LAB_IF_NAT_WAN
    ip -n $LAB_NS_CARRIER link set $LAB_IF_NAT_WAN up
    ip -n $LAB_NS_CARRIER route add default via $LAB_NAT_PROVIDER || lab_fail "carrier's default route"
    # inside: a bridge, one veth per customer
    ip -n $LAB_NS_CARRIER link add cgn0 type bridge || lab_fail "cannot create the carrier's bridge"
    ip -n $LAB_NS_CARRIER addr add $LAB_NAT_INSIDE/$LAB_UPLINK_PREFIX dev cgn0
    ip -n $LAB_NS_CARRIER link set cgn0 up
    local i=1 addr
    for ns in $LAB_NS_CUSTOMER $LAB_NS_CUSTOMER2; do
        addr=$LAB_UPLINK_ADDR; [ $ns = $LAB_NS_CUSTOMER2 ] && addr=$LAB_UPLINK_ADDR2
        ip link add $LAB_IF_CUSTOMER netns $ns type veth peer name cgn-c$i netns $LAB_NS_CARRIER ||
            lab_fail "cannot create $ns's veth"
        ip -n $LAB_NS_CARRIER link set cgn-c$i master cgn0 up
        ip -n $ns addr add $addr/$LAB_UPLINK_PREFIX dev $LAB_IF_CUSTOMER
        ip -n $ns link set $LAB_IF_CUSTOMER up
        ip -n $ns route add default via $LAB_NAT_INSIDE dev $LAB_IF_CUSTOMER || lab_fail "$ns's default route"
        i=$((i + 1))
    done
    lab_in $LAB_NS_CARRIER sysctl -qw net.ipv4.ip_forward=1
    lab_in $LAB_NS_CARRIER iptables-legacy -t nat -A POSTROUTING -o $LAB_IF_NAT_WAN -j MASQUERADE &&
        lab_in $LAB_NS_CARRIER iptables-legacy -A FORWARD -p gre -j DROP &&
        lab_in $LAB_NS_CARRIER iptables-legacy -A INPUT -p gre -j DROP ||
        lab_fail "cannot load the carrier's NAT rules"
    lab_wait 5 "customer reaching the provider $LAB_PPTP_SERVER through the NAT" \
        lab_in $LAB_NS_CUSTOMER busybox ping -c 1 -W 1 $LAB_PPTP_SERVER
    lab_wait 5 "customer2 reaching the provider $LAB_PPTP_SERVER through the NAT" \
        lab_in $LAB_NS_CUSTOMER2 busybox ping -c 1 -W 1 $LAB_PPTP_SERVER
    lab_log "net: customers $LAB_UPLINK_ADDR and $LAB_UPLINK_ADDR2 behind a carrier NAT ($LAB_NAT_OUTSIDE outside, GRE dropped) reach $LAB_PPTP_SERVER"
}

# lab_nat_gre_dropped — how many GRE packets the carrier has dropped so far.
lab_nat_gre_dropped() {
    lab_in $LAB_NS_CARRIER iptables-legacy -nvxL FORWARD | awk '$3 == "DROP" && $4 == "47" { print $1; exit }'
}

# lab_nat_base_up — modules, syslog, the NAT network: what every NAT scenario needs first.
lab_nat_base_up() {
    lab_modules; lab_nat_modules; lab_log "kernel: PPP, PPTP, MPPE, GRE, veth, bridge, NAT modules loaded"
    lab_syslog_up; lab_nat_net_up
}

# ---- the outside line: nothing but IKE and ESP-in-UDP ---------------------------------------

# IKE on UDP 500, IKE and ESP-in-UDP on 4500 (RFC 3948: a zero "non-ESP marker" is IKE).
LAB_NAT_IPSEC_FILTER='udp port 500 or udp port 4500'
LAB_NAT_ESP_IN_UDP='udp port 4500 and udp[8:4] != 0'

# lab_nat_capture_start [name] — tcpdump on the NAT's outside line (what the provider and anyone
# between see of the customers' DSL lines) into <results>/<name>.pcap (default outside).
# --immediate-mode: without it the last packets wait in the kernel's ring for up to a second
# and are lost when the capture stops (seen: a probe's ESP missing from the file).
lab_nat_capture_start() {
    local name=${1:-outside}
    lab_spawn $LAB_NS_CARRIER "capture-$name" tcpdump --immediate-mode -i $LAB_IF_NAT_WAN -U -s 0 -w "$LAB_RESULTS/$name.pcap"
    LAB_POLL=0.05 lab_wait 5 "tcpdump on $LAB_IF_NAT_WAN running" test -s "$LAB_RESULTS/$name.pcap"
    lab_sleep 1                 # the file's header comes before the capture is attached
}

# lab_nat_outside_count <pcap> <filter> — how many packets of the capture match the filter.
lab_nat_outside_count() { tcpdump -nr "$1" "$2" 2>/dev/null | wc -l; }

# lab_nat_not_ipsec <allowed> — the filter for "neither IKE nor ESP-in-UDP nor <allowed>". IGMP
# is the link's own (the provider's kernel reports its multicast groups on isp0), no customer's.
lab_nat_not_ipsec() { echo "ip and not igmp and not ($LAB_NAT_IPSEC_FILTER${1:+ or $1})"; }

# lab_nat_capture_check [allowed] [markers-file] [name] — stop the capture and fail the
# scenario unless ESP-in-UDP crossed and every other packet on the outside line was IKE (or
# matches the pcap filter <allowed>: what a scenario names as in clear by design), and no line
# of <markers-file> (strings sent through the tunnel) appears in clear anywhere in it.
lab_nat_capture_check() {
    local allowed=${1:-} markers=${2:-} name=${3:-outside} pcap m other total esp
    pcap=$LAB_RESULTS/$name.pcap
    lab_stop "capture-$name" 5
    total=$(lab_nat_outside_count "$pcap" ip)
    esp=$(lab_nat_outside_count "$pcap" "$LAB_NAT_ESP_IN_UDP")
    other=$(lab_nat_outside_count "$pcap" "$(lab_nat_not_ipsec "$allowed")")
    [ "$esp" -gt 0 ] || lab_fail "no ESP-in-UDP on the NAT's outside line ($total packets): the check would prove nothing"
    [ "$other" = 0 ] || lab_fail "$other packets other than IKE/ESP-in-UDP${allowed:+/$allowed} on the outside line: $(tcpdump -nr "$pcap" "$(lab_nat_not_ipsec "$allowed")" 2>/dev/null | head -n 3)"
    if [ -n "$markers" ]; then
        [ -s "$markers" ] || lab_fail "no markers in $markers: the clear-text check would prove nothing"
        while read -r m; do
            grep -qaF -- "$m" "$pcap" && lab_fail "marker in clear on the outside line: $m"
        done <"$markers"
    fi
    lab_result "${name}_packets" "$total"
    lab_log "outside line ($name.pcap): $total packets, $esp ESP-in-UDP, the rest IKE${allowed:+ or $allowed}; ${markers:+$(grep -c . "$markers") markers, }none in clear"
}
