#!/bin/bash
# tunnel_l2tp_ipsec.sh — the L2TP/IPsec part of make bench-tunnel: mailtund (transport =
# l2tp-ipsec) against Debian's strongSwan (swanctl, transport-mode SA for UDP 1701) + xl2tpd as
# LAC + pppd, both behind the lab's carrier NAT against the provider kits as shipped, in one lab
# run (bench/lab/l2tp-ipsec-bench.sh). Set-up, throughput (MPPE-128 inside ESP), recovery after
# a new DSL address, the latter in steps. Writes the "## tunnel-l2tp-ipsec" section of
# bench/RESULTS.md (bench/l2tp_ipsec_notes.md is its hand-written reading) and prints:
#   tunnel-l2tp-ipsec: setup X s (strongSwan+xl2tpd Y s), throughput ratio Z, recovery R s (strongSwan+xl2tpd Q)
# Exit: 0 every goal met, 77 skipped, else failed (goals "not met" fail after RESULTS.md is written).
set -u
. "$(dirname "$0")/results_lib.sh"
cd "$(dirname "$0")/.." || exit 1
B=${B:-build}
for f in "$B/tunneld/mailtund" "$B/pppd-plugin/mailtun.so" "$B/ctl/mailtunctl"; do
    [ -e "$f" ] || { echo "bench/tunnel_l2tp_ipsec.sh: $f not built (make $f)"; exit 77; }
done
results=$B/lab-results/l2tp-ipsec-bench
load=$(cut -d' ' -f1-3 /proc/loadavg)
B=$B LAB_TIMEOUT=${LAB_TIMEOUT:-900} tests/lab/boot.sh bench/lab/l2tp-ipsec-bench.sh
rc=$?
[ "$rc" = 0 ] || exit "$rc"
timing=$results/timing.txt
get() { results_get "$timing" "$1"; }
each() { results_each "$timing" "$1"; }
mt_setup=$(get mailtun_setup_median) sw_setup=$(get swanctl_setup_median)
mt_mbps=$(get mailtun_mbps_median) sw_mbps=$(get swanctl_mbps_median)
mt_rec=$(get mailtun_recovery_median) sw_rec=$(get swanctl_recovery_median) lac_kernel=$(get lac_kernel)
[ -n "$mt_setup" ] && [ -n "$sw_setup" ] && [ -n "$mt_mbps" ] && [ -n "$sw_mbps" ] && [ -n "$mt_rec" ] ||
    { echo "bench/tunnel_l2tp_ipsec.sh: incomplete results in $timing"; exit 1; }
ratio=$(awk -v a="$mt_mbps" -v b="$sw_mbps" 'BEGIN { printf "%.2f", (b > 0 ? a / b : 0) }')
setup_ok=$(awk -v a="$mt_setup" -v b="$sw_setup" 'BEGIN { print (a <= b) ? "met" : "not met" }')
rec_ok=$(awk -v r="$mt_rec" 'BEGIN { print (r != "none" && r < 3) ? "met" : "not met" }')
tput_ok=$(awk -v r="$ratio" 'BEGIN { print (r >= 1) ? "met" : "not met" }')
section=$(mktemp)
{
    echo "## tunnel-l2tp-ipsec"
    echo
    echo "Run: $(date -u '+%Y-%m-%d %H:%M UTC'), \`make bench-tunnel\` (bench/tunnel_l2tp_ipsec.sh -> bench/lab/l2tp-ipsec-bench.sh in one user-mode-linux boot)."
    echo "Machine: $(results_machine); load average before the run $load (shared host); guest $(get guest_kernel), one CPU."
    echo
    echo "Method: the lab's carrier NAT (tests/lab/nat_lib.sh) between customer and provider, so IKE and ESP go over UDP"
    echo "500/4500 (NAT-T). Provider as shipped: charon with conf/provider/l2tp-ipsec/swanctl.conf, xl2tpd as LNS (kernel"
    echo "data path) + pppd with conf/provider/l2tp/ (MS-CHAPv2, require-mppe-128). Customer namespace, its own charon"
    echo "(Debian's strongSwan 5.9) and either mailtund (transport = l2tp-ipsec: asks charon over VICI for a transport-mode SA"
    echo "for its L2TP port, then L2TP inside it, mailtun.so on kernel l2tp_ppp) or the Debian way: a swanctl.conf with a"
    echo "transport-mode child for UDP 1701 (\`swanctl --load-all\`, \`--initiate\`, DPD restart, no MOBIKE), then Debian's"
    echo "xl2tpd as LAC + pppd. Same identity, key, MTU/MRU 1400 and proposals (mailtund's defaults: IKE $(get ike_proposal),"
    echo "ESP $(get esp_proposal)). Set-up = client started (mailtund; or swanctl's load) -> the provider's TCP connect to"
    echo "192.0.2.10:2525 is greeted (a try every 20 ms), alternating clients. Throughput = provider -> 192.0.2.10:5001,"
    echo "zeros for 3 s per send, receiver-measured. Recovery = the customer's DSL address changes behind the NAT while the"
    echo "tunnel is up (\`ip addr flush\`, \`addr add 198.51.100.N\`, default route) -> the provider reaches 192.0.2.10:2525 again."
    echo
    echo "| | mailtund + mailtun.so (L2TP/IPsec) | strongSwan (swanctl) + xl2tpd LAC + pppd |"
    echo "|---|---|---|"
    echo "| set-up, median (s) | **$mt_setup** | **$sw_setup** |"
    echo "| set-up, each run (s) | $(each mailtun_setup) | $(each swanctl_setup) |"
    echo "| throughput, median (MB/s) | **$mt_mbps** | **$sw_mbps** |"
    echo "| throughput, each send (MB/s) | $(each mailtun_mbps) | $(each swanctl_mbps) |"
    echo "| throughput with ESP AES-128-GCM instead (mailtund's ipsec_esp_proposals), median (MB/s) | $(get mailtun_aes128_mbps_median) ($(each mailtun_aes128_mbps)) | not measured |"
    echo "| new DSL address -> fixed address reachable, median (s) | **$mt_rec** | **$sw_rec** |"
    echo "| the same, each run (s) | $(each mailtun_recovery) | $(each swanctl_recovery) |"
    echo "| mailtund's recovery step by step, each run (s): | | |"
    for step in "dial:new address seen -> ipsec dial (old SA and pppd dropped, route back)" \
                "ipsec:ipsec dial -> SA up (VICI, IKE_SA_INIT, IKE_AUTH, SA in the kernel)" \
                "l2tp:SA up -> call handed to pppd (L2TP tunnel and session)" \
                "ppp_auth:-> ppp authenticated (LCP, MS-CHAPv2)" "ppp_ip:-> ip-up with the fixed address (CCP, IPCP, hooks)" \
                "provider:-> the provider's connect greeted (its IPCP, its replace-session hook: 1 s echo to the old session)"; do
        echo "| &nbsp; ${step#*:} | $(each "mailtun_phase_${step%%:*}") | |"
    done
    echo "| kernel L2TP data path | yes (l2tp_ppp) | $lac_kernel (xl2tpd's log: \"Using l2tp kernel support\") |"
    echo
    echo "Goals: recovery < 3 s: **$rec_ok**; set-up no slower than strongSwan + xl2tpd: **$setup_ok**; throughput at least"
    echo "strongSwan + xl2tpd's (both data paths are the kernel's, ratio **$ratio**): **$tput_ok**. \"none\" = not reachable"
    echo "within 45 s."
    echo
    [ -f bench/l2tp_ipsec_notes.md ] && { cat bench/l2tp_ipsec_notes.md; echo; }
    echo "Raw values: $timing (key=value), logs in $results/ (charon-customer1.log with milliseconds)."
} >"$section"
results_replace_section tunnel-l2tp-ipsec "$section" bench/RESULTS.md
echo "tunnel-l2tp-ipsec: setup $mt_setup s (strongSwan+xl2tpd $sw_setup s), throughput ratio $ratio, recovery $mt_rec s (strongSwan+xl2tpd $sw_rec)"
missed=""
[ "$rec_ok" = met ] || missed+=" recovery < 3 s;"
[ "$setup_ok" = met ] || missed+=" set-up no slower than strongSwan + xl2tpd;"
[ "$tput_ok" = met ] || missed+=" throughput ratio >= 1;"
[ -z "$missed" ] || { echo "bench/tunnel_l2tp_ipsec.sh: goal not met:$missed"; exit 1; }
