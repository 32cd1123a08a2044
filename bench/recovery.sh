#!/bin/bash
# recovery.sh — recovery benchmark: the DSL line's forced disconnect (line cut, back with a new
# address), mailtun against pptp-linux + pppd persist, in one lab run.
#
#   B=build bench/recovery.sh          (make bench-recovery)
#
# Boots the lab once with bench/lab/recovery-bench.sh (user-mode-linux, see tests/lab/README.md):
# new uplink address -> the provider reaches the fixed address over TCP (both clients), and
# -> the first mail the provider held while the line was down is at the inside server
# (mailtun; the provider's Postfix retries hourly, so only ETRN brings it quickly); several
# repetitions, median; mails lost or duplicated; 20 quick flaps in a row. Then a second boot,
# bench/lab/l2tp-ipsec-recovery.sh: a new DSL address behind the carrier NAT -> reachable over
# L2TP/IPsec (mailtund vs Debian's strongSwan + xl2tpd). Writes the "## recovery" section of
# bench/RESULTS.md (other sections are kept) and prints as its last line:
#   recovery: X.XX s to reachable (pptp-linux+persist Y.YY s), first queued mail inside after Z.ZZ s, lost N; L2TP/IPsec A s (strongSwan+xl2tpd B)
# Needs root, linux.uml, pptp-linux, swaks, strongSwan, xl2tpd and the built mailtund, mailtun.so,
# mailrelayd, mailtunctl in $B.
# Exit: 0 done with the goal met and no mail lost, 77 skipped (reason on the last line), else
# failed (a missed goal or a lost mail fails after RESULTS.md is written).
set -u
. "$(dirname "$0")/results_lib.sh"
cd "$(dirname "$0")/.." || exit 1
B=${B:-build}
for f in "$B/tunneld/mailtund" "$B/pppd-plugin/mailtun.so" "$B/mailrelay/mailrelayd" "$B/ctl/mailtunctl"; do
    [ -e "$f" ] || { echo "bench/recovery.sh: $f not built (make $f)"; exit 77; }
done

results=$B/lab-results/recovery-bench
load=$(cut -d' ' -f1-3 /proc/loadavg)       # the host may be shared: say how busy it was
B=$B tests/lab/boot.sh bench/lab/recovery-bench.sh
rc=$?
timing=$results/timing.txt
get() { sed -n "s/^$1=//p" "$timing" 2>/dev/null | tail -n 1; }
# The scenario fails on lost mail only after every figure is recorded: write those, then fail.
if [ "$rc" != 0 ]; then
    [ -n "$(get pptp_reach_median)" ] && [ -n "$(get mailtun_mails_lost)" ] && [ "$(get mailtun_mails_lost)" != 0 ] || exit "$rc"
fi
list() { local key=$1 i v out=''; for i in $(seq 1 20); do v=$(get "${key}_$i"); [ -n "$v" ] && out+="$v "; done; echo "${out% }"; }

# L2TP/IPsec: a second boot, behind the lab's carrier NAT (bench/lab/l2tp-ipsec-recovery.sh),
# mailtund against Debian's strongSwan + xl2tpd.
ipsec_results=$B/lab-results/l2tp-ipsec-recovery
B=$B tests/lab/boot.sh bench/lab/l2tp-ipsec-recovery.sh
ipsec_rc=$?
[ "$ipsec_rc" = 0 ] || [ "$ipsec_rc" = 77 ] || exit "$ipsec_rc"
ipsec_get() { results_get "$ipsec_results/timing.txt" "$1"; }
li_reach=$(ipsec_get mailtun_recovery_median) sw_reach=$(ipsec_get swanctl_recovery_median)
[ "$ipsec_rc" = 77 ] || [ -n "$li_reach" ] || { echo "bench/recovery.sh: incomplete results in $ipsec_results/timing.txt"; exit 1; }

mt_reach=$(get mailtun_reach_median) pl_reach=$(get pptp_reach_median) mt_mail=$(get mailtun_mail_median)
lost=$(get mailtun_mails_lost) dup=$(get mailtun_mails_duplicated) sent=$(get mailtun_mails_sent)
[ -n "$mt_reach" ] && [ -n "$pl_reach" ] && [ -n "$mt_mail" ] && [ -n "$lost" ] ||
    { echo "bench/recovery.sh: incomplete results in $timing"; exit 1; }
down_med=$(for i in $(seq 1 20); do get mailtun_down_$i; done | sort -n | awk '{ v[NR] = $1 } END { if (NR) print v[int((NR + 1) / 2)] }')
pl_echo=$(grep -c 'No response to 3 echo-requests' "$results/customer-pppd.log" 2>/dev/null)
lcp=$(grep -E '^lcp-' conf/provider/pptpd-options | sed 's/[[:space:]]*#.*//' | paste -sd, - | sed 's/,/, /g')

cpu=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1)
section=$(mktemp)
{
    echo "## recovery"
    echo
    echo "Run: $(date -u '+%Y-%m-%d %H:%M UTC'), \`make bench-recovery\` (bench/recovery.sh -> bench/lab/recovery-bench.sh in one user-mode-linux boot)."
    echo "Machine: $(nproc) cores, $cpu; host kernel $(uname -r), load average before the run $load (the host was shared); guest: user-mode-linux $(get guest_kernel), **one CPU** for both namespaces and every daemon."
    echo
    echo "Method: the DSL line's forced disconnect. Tunnel up, the provider reaches 192.0.2.10:2525; the line is cut"
    echo "(\`ip link set dsl0 down\`); with mailtun one mail is sent to the provider's MX (swaks) and the bench waits until the"
    echo "provider's Postfix has deferred it (it retries hourly here, LAB_POSTFIX_RETRY=slow: only ETRN brings it quickly);"
    echo "then the uplink gets a new address (\`ip addr flush\`, \`addr add 198.51.100.N\`, default route, link up, as"
    echo "mail-flow.sh does). Times are from the moment the line goes up with the new address: to the provider's TCP connect"
    echo "to the fixed address being greeted (one long-lived prober in the provider namespace, a try every 20 ms) and to the"
    echo "held mail's file at the inside server (its mtime). pptp-linux: Debian's \`pptp\` under pppd with \`persist maxfail 0"
    echo "holdoff 5 lcp-echo-interval 10 lcp-echo-failure 3\`, the line down as long as mailtun's median; it has no ETRN client,"
    echo "so its held mail waits for the provider's hourly retry (not measured: n/a). Provider: conf/provider/ as shipped: pptpd"
    echo "with \`delegate\` (the fixed address from chap-secrets), ip-pre-up.d/pptpd-replace-session (a new session of the"
    echo "customer replaces its old one only when that one does not answer one ICMP echo within 1 s), pptpd-options ($lcp);"
    echo "Postfix pins mailrelayd's key (postfix/tls_policy, every push is TLS)."
    echo
    echo "| | mailtund + mailtun.so + mailrelayd | pptp-linux + pppd persist |"
    echo "|---|---|---|"
    echo "| new address -> fixed address reachable, median (s) | **$mt_reach** | **$pl_reach** |"
    echo "| each run (s) | $(list mailtun_reach) | $(list pptp_reach) |"
    echo "| short outage (line down 1 s, provider still holds the old session): new address -> reachable, median (s) | **$(get mailtun_short_reach_median)** | not measured |"
    echo "| each run (s); old session held at line-up | $(list mailtun_short_reach); $(list mailtun_short_oldsession) | |"
    echo "| new address -> first held mail inside, median (s) | **$mt_mail** | n/a (hourly retry) |"
    echo "| each run (s) | $(list mailtun_mail) | |"
    echo "| line down before the new address (s) | $(list mailtun_down) | median of mailtun's |"
    echo "| provider still held the old session at line-up (1 = yes) | $(list mailtun_oldsession) | $(list pptp_oldsession) |"
    echo "| mails sent / lost / duplicated | $sent / **$lost** / $dup | |"
    echo "| $(get flaps) quick flaps in a row (down 1 s, up 2 s, every other a new address): last line-up -> reachable (s) | $(get flaps_reach) | |"
    if [ "$ipsec_rc" = 77 ]; then
        echo "| L2TP/IPsec: skipped ($(tail -n 1 "$ipsec_results/scenario.log" 2>/dev/null)) | | |"
    else
        echo "| L2TP/IPsec behind the carrier NAT (second column: Debian's strongSwan + xl2tpd LAC): new DSL address while up -> reachable, median (s) | **$li_reach** | **$sw_reach** |"
        echo "| each run (s) | $(results_each "$ipsec_results/timing.txt" mailtun_recovery) | $(results_each "$ipsec_results/timing.txt" swanctl_recovery) |"
        steps=''
        for st in dial:dial ipsec:SA l2tp:L2TP ppp_auth:"PPP auth" ppp_ip:IPCP provider:"the provider's side (its replace-session hook's 1 s echo)"; do
            steps+="${st#*:} $(results_each "$ipsec_results/timing.txt" "mailtun_phase_${st%%:*}" | tr ' ' '\n' |
                sort -n | awk '{ v[NR] = $1 } END { print (NR ? v[int((NR + 1) / 2)] : "?") }'), "
        done
        echo "| the same in steps, median of each (s) | ${steps%, } | |"
    fi
    echo
    verdict=$(awk -v m="$mt_reach" 'BEGIN { print (m < 3) ? "met" : "not met" }')
    echo "Goal, under 3 s from the new address to a reachable fixed address: **$verdict** (median $mt_reach s over the runs above;"
    echo "single runs are in the table, the short-outage median is $(get mailtun_short_reach_median) s)."
    if [ "$ipsec_rc" != 77 ]; then
        li_verdict=$(awk -v m="$li_reach" 'BEGIN { print (m != "none" && m < 3) ? "met" : "not met" }')
        echo "The same goal over L2TP/IPsec (transport = l2tp-ipsec, its own boot: bench/lab/l2tp-ipsec-recovery.sh; the address"
        echo "changes behind the carrier NAT while the tunnel is up, without the line-down period; the provider's kits as shipped):"
        echo "**$li_verdict** (median $li_reach s). Debian's strongSwan + xl2tpd, same provider: $sw_reach (\"none\" = not within 45 s)."
    fi
    echo
    echo "**With the provider's liveness check (issue 12).** Every recovery includes it when the provider still"
    echo "holds the old session (row 'old session at line-up'; over L2TP/IPsec always): before the new session"
    echo "takes the address, \`pptpd-replace-session\` sends one ICMP echo through the old session (1 s limit)."
    echo "Its own cost measured outside the guest (\`tests/host/replace_session.sh\`): 1.03 s when the old session"
    echo "is dead, 0.02-0.03 s when it is alive or there is none. Earlier runs: 2.03 s median on a quiet host"
    echo "(load 1.0, 2026-12-02 19:36 UTC; short outage 2.03 s, 20 flaps 2.48 s, pptp-linux + persist 9.98 s);"
    echo "4.70 s with the check and 6.32 s without it, back to back, on a host shared by nine agents (load ~15,"
    echo "2026-12-02 18:17 UTC): under that load the spread was larger than the check."
    echo
    echo "Reading:"
    echo "- mailtund itself is quick: it sees the new address from the kernel and dials from it within a fraction of a"
    echo "  second, and its ETRN at link-up brings the held mail right behind the fixed address (reachable and held mail"
    echo "  differ by about a second; the mail's file time can even come before the prober's success, which shares the one CPU)."
    echo "- The provider replaces the old session: when the line comes back the provider still holds the customer's old,"
    echo "  dead session (row 'old session at line-up'; nothing from the customer can end it, its old address is gone)."
    echo "  pptpd (\`delegate\`) takes the new call, and once the new session has authenticated and got the fixed address,"
    echo "  the provider's pptpd-replace-session hook finds the old session by its route and ends it (here by taking the"
    echo "  address off the old interface: the lab's namespaces share /run, so the old pppd's pid file is not its own)."
    echo "  Recovery is one set-up: TCP 1723 and the call, pptpd starting its pppd, LCP, MS-CHAPv2, CCP, IPCP, the hook."
    echo "  Before the hook (and with pptpd's one-address remoteip pool) pptpd reset every new call until the old session's"
    echo "  LCP echoes failed: 5.68 s median with the line down ~6.5 s and 11.71 s for a 1 s outage (2026-11-28 02:50 UTC run)."
    echo "- The hook's liveness check costs its timeout on every recovery: before it ends the old session it sends one ICMP"
    echo "  echo through it (\`busybox ping -c 1 -W 1\`; the guest has no iputils ping) and a dead session answers nothing, so"
    echo "  the new session waits 1 s more. Without the check: 1.75 s median, runs 1.71-1.80 s (2026-11-28 04:08 UTC run,"
    echo "  host load 0.60). A live old session answers at once, keeps the address, and the new call is refused (lab hijack)."
    echo "- mailtund starts the next pppd while the line is down (log: \"pppd started ahead\"; its plugin waits for the call),"
    echo "  so when the line is back only the dial and the PPP negotiation remain; pppd's own start-up (~1 s in this guest,"
    echo "  where every process start costs tenths of a second) no longer competes for the one CPU with pptpd starting its"
    echo "  pppd. Before that change: 2.79 s and 3.12 s median in two quiet runs (2026-11-28 03:02 and 03:26 UTC)."
    echo "- pptp-linux + persist: how it notices the dead line varies. In $pl_echo of $(list pptp_reach | wc -w) runs only its own LCP echoes ended"
    echo "  the dead session (\"No response to 3 echo-requests\", interval 10 s x 3: 30-40 s, then holdoff); in the others its"
    echo "  \`pptp\` ended sooner (pppd: \"Modem hangup\"; while the line is down it fails at once: \"Network is unreachable\")"
    echo "  and pppd re-dialled after holdoff, its pppd already running when the call came. The median hides that tail: look"
    echo "  at each run. With Debian's default holdoff (30 s) add up to 25 s. It has no ETRN client: mail the provider held"
    echo "  waits for the provider's next retry (an hour here)."
    if [ "$ipsec_rc" != 77 ]; then
        echo "- L2TP/IPsec (its step row): the SA itself is about a tenth of a second (charon over VICI, IKE_SA_INIT and"
        echo "  IKE_AUTH, the SA into the kernel; mailtund does not wait for the old SA's terminate). The largest step is the"
        echo "  provider's, as over PPTP: its replace-session hook gives the old session 1 s to answer an echo, and it cannot"
        echo "  (the provider's charon dropped its SA when the new one authenticated, \`unique = replace\`). Debian's charon"
        echo "  re-establishes its SA by itself after the new address, but xl2tpd's new call got no LCP answer within 45 s"
        echo "  (tunnel-l2tp-ipsec section)."
    fi
    echo "- Single runs vary by seconds (UML timing; the host was shared and its load changed during the run)."
    echo
    echo "Raw values: $timing (key=value), logs in $results/."
} >"$section"

results_replace_section recovery "$section" bench/RESULTS.md

f2() { awk -v v="$1" 'BEGIN { printf "%.2f", v }'; }
echo "recovery: $(f2 "$mt_reach") s to reachable (pptp-linux+persist $(f2 "$pl_reach") s), first queued mail inside after $(f2 "$mt_mail") s, lost $lost; L2TP/IPsec ${li_reach:-skipped} s (strongSwan+xl2tpd ${sw_reach:-skipped})"
missed=""
[ "$verdict" = met ] || missed+=" under 3 s to reachable (median $mt_reach s);"
[ "$lost" = 0 ] || missed+=" $lost mail(s) lost;"
[ "$ipsec_rc" = 77 ] || [ "$li_verdict" = met ] || missed+=" under 3 s to reachable over L2TP/IPsec (median $li_reach s);"
[ -z "$missed" ] || { echo "bench/recovery.sh: goal not met:$missed"; exit 1; }
