#!/bin/bash
# tunnel_l2tp.sh — the L2TP part of make bench-tunnel: mailtund (transport = l2tp) + mailtun.so
# vs Debian's xl2tpd as LAC + pppd in one lab run (bench/lab/l2tp-bench.sh), against the
# provider's xl2tpd as LNS (kernel mode). Set-up, throughput (MPPE-128), recovery after an
# uplink address change. Writes the "## tunnel-l2tp" section of bench/RESULTS.md and prints:
#   tunnel-l2tp: setup X s (xl2tpd Y s), throughput ratio Z (xl2tpd kernel data path: yes|no), recovery R s (xl2tpd Q)
# Exit: 0 every goal met, 77 skipped, else failed (goals "not met" fail after RESULTS.md is written).
set -u
. "$(dirname "$0")/results_lib.sh"
cd "$(dirname "$0")/.." || exit 1
B=${B:-build}
for f in "$B/tunneld/mailtund" "$B/pppd-plugin/mailtun.so" "$B/ctl/mailtunctl"; do
    [ -e "$f" ] || { echo "bench/tunnel_l2tp.sh: $f not built (make $f)"; exit 77; }
done
results=$B/lab-results/l2tp-bench
load=$(cut -d' ' -f1-3 /proc/loadavg)
B=$B LAB_TIMEOUT=${LAB_TIMEOUT:-600} tests/lab/boot.sh bench/lab/l2tp-bench.sh
rc=$?
[ "$rc" = 0 ] || exit "$rc"
timing=$results/timing.txt
get() { sed -n "s/^$1=//p" "$timing" | tail -n 1; }
list() { local c=$1 what=$2 i v out=''; for i in $(seq 1 20); do v=$(get "${c}_${what}_$i"); [ -n "$v" ] && out+="$v "; done; echo "${out% }"; }
mt_setup=$(get mailtun_setup_median) xl_setup=$(get xl2tpd_setup_median)
mt_mbps=$(get mailtun_mbps_median) xl_mbps=$(get xl2tpd_mbps_median)
mt_rec=$(get mailtun_recovery) xl_rec=$(get xl2tpd_recovery) lac_kernel=$(get lac_kernel)
[ -n "$mt_setup" ] && [ -n "$xl_setup" ] && [ -n "$mt_mbps" ] && [ -n "$xl_mbps" ] && [ -n "$mt_rec" ] ||
    { echo "bench/tunnel_l2tp.sh: incomplete results in $timing"; exit 1; }
ratio=$(awk -v a="$mt_mbps" -v b="$xl_mbps" 'BEGIN { printf "%.2f", (b > 0 ? a / b : 0) }')
# PPTP's set-up from the tunnel section of the same file (make bench-tunnel runs it first).
pptp_setup=$(sed -n '/^## tunnel$/,/^## /s/^| set-up, median (s) | \*\*\([0-9.]*\)\*\*.*/\1/p' bench/RESULTS.md | head -n 1)
want=$([ "$lac_kernel" = yes ] && echo 1 || echo 2)
setup_ok=$(awk -v a="$mt_setup" -v b="$xl_setup" 'BEGIN { print (a <= b) ? "met" : "not met" }')
pptp_ok=$(awk -v a="$mt_setup" -v b="${pptp_setup:-0}" 'BEGIN { print (b > 0 && a <= b * 1.1) ? "met" : (b > 0 ? "not met" : "no PPTP figure") }')
rec_ok=$(awk -v r="$mt_rec" 'BEGIN { print (r != "none" && r < 3) ? "met" : "not met" }')
tput_ok=$(awk -v r="$ratio" -v w="$want" 'BEGIN { print (r >= w) ? "met" : "not met" }')
cpu=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1)
section=$(mktemp)
{
    echo "## tunnel-l2tp"
    echo
    echo "Run: $(date -u '+%Y-%m-%d %H:%M UTC'), \`make bench-tunnel\` (bench/tunnel_l2tp.sh -> bench/lab/l2tp-bench.sh in one user-mode-linux boot)."
    echo "Machine: $(nproc) cores, $cpu; load average before the run $load (shared host); guest $(get guest_kernel), one CPU."
    echo
    echo "Method: provider namespace with Debian's xl2tpd as LNS (conf/provider/l2tp/, kernel data path) + pppd (MS-CHAPv2,"
    echo "require-mppe-128); customer namespace with either mailtund (transport = l2tp) + mailtun.so (kernel l2tp_ppp) or"
    echo "Debian's xl2tpd as LAC + pppd, MTU/MRU 1400. Set-up = client started -> the provider's TCP connect to 192.0.2.10:2525"
    echo "is greeted (a try every 20 ms), alternating clients. Throughput = provider -> 192.0.2.10:5001, zeros for 3 s per send,"
    echo "receiver-measured. Recovery = the DSL line gets a new address while up -> the provider reaches 192.0.2.10:2525 again"
    echo "(mailtun: 3 changes in a row, median; xl2tpd: one, as it has no uplink watch and each try waits 45 s)."
    echo
    echo "Where the set-up time went before 2026-12-03 (mailtund's and both pppds' logs): the slow runs spent 3.0 s between"
    echo "\"call handed to pppd\" and \"ppp authenticated\", pppd's LCP restart timer after a first Configure-Request that met no"
    echo "PPPoL2TP session on the other side (the LNS starts its pppd on our ICCN; ICCN went before our plugin had attached). Now"
    echo "ICCN waits for the plugin's CALL_ATTACHED and our pppd listens for the LNS's first LCP frame (listen_time 3 s) before"
    echo "sending its own; recovery after an address change had the same 3 s in it."
    echo
    echo "| | mailtund + mailtun.so (L2TP) | xl2tpd LAC + pppd |"
    echo "|---|---|---|"
    echo "| set-up, median (s) | **$mt_setup** | **$xl_setup** |"
    echo "| set-up, each run (s) | $(list mailtun setup) | $(list xl2tpd setup) |"
    echo "| throughput, median (MB/s) | **$mt_mbps** | **$xl_mbps** |"
    echo "| throughput, each send (MB/s) | $(list mailtun mbps) | $(list xl2tpd mbps) |"
    echo "| recovery after an uplink address change, median (s) | **$mt_rec** | **$xl_rec** |"
    echo "| recovery, each change (s) | $(list mailtun recovery) | $(list xl2tpd recovery) |"
    echo "| mailtund's part: uplink change seen -> its link up (s) | $(list mailtun recovery_mailtund) | |"
    echo "| the provider's pppd in its ip-pre-up hook, replacing the dead old session (s; overlaps the row above, ends after it) | $(list mailtun recovery_provider_hook) | |"
    echo "| kernel data path | yes (l2tp_ppp) | $lac_kernel (its log: \"Using l2tp kernel support\" or not) |"
    echo
    echo "Throughput ratio mailtun / xl2tpd: **$ratio** (goal: >= $want, as xl2tpd's data path here is $([ "$lac_kernel" = yes ] && echo "the kernel's too" || echo "userspace")): **$tput_ok**."
    echo "Set-up no slower than xl2tpd: **$setup_ok**; no slower than mailtun over PPTP (${pptp_setup:-?} s in the tunnel section, 10 % slack): **$pptp_ok**."
    echo "Recovery < 3 s: **$rec_ok**. \"none\" = not reachable within 45 s: xl2tpd has no uplink watch; it keeps its tunnel"
    echo "until HELLO or pppd's LCP echoes fail, and the provider only then frees the session. What mailtun waits for after its"
    echo "own part is the provider kit's hook (conf/provider/ip-pre-up.d/pptpd-replace-session: one ICMP echo to the old session,"
    echo "1 s timeout, then SIGTERM to its pppd); it scales with the host's load, so on a busy host recovery can pass 3 s."
    echo
    echo "Raw values: $timing (key=value), logs in $results/."
} >"$section"
results_replace_section tunnel-l2tp "$section" bench/RESULTS.md
echo "tunnel-l2tp: setup $mt_setup s (xl2tpd $xl_setup s), throughput ratio $ratio (xl2tpd kernel data path: $lac_kernel), recovery $mt_rec s (xl2tpd $xl_rec)"
missed=""
[ "$setup_ok" = met ] || missed+=" set-up no slower than xl2tpd;"
[ "$rec_ok" = met ] || missed+=" recovery < 3 s;"
[ "$tput_ok" = met ] || missed+=" throughput ratio >= $want;"
[ -z "$missed" ] || { echo "bench/tunnel_l2tp.sh: goal not met:$missed"; exit 1; }
