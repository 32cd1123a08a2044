#!/bin/bash
# demo.sh — `make demo`: boot the lab, run one scenario and tell what it showed.
#
# The story (scenario mail-flow): the provider's real pptpd and Postfix come up; mailtund
# dials and gets the fixed address; a mail sent to the provider's MX is pushed through the
# tunnel to mailrelayd and handed to the inside mail server; the DSL line drops and comes
# back with a new address while mail waits at the provider; mailtund re-dials, mailrelayd's
# ETRN brings the held mail in; every mail arrives once, each push over TLS pinned to the
# customer's key (the provider's Postfix checks the fingerprint). DEMO_SCENARIO picks another
# scenario (e.g. baseline-pptp-linux, Debian's pptp client for comparison).
# Reads the results directory that tests/lab/boot.sh fills.
set -u
here=$(cd "$(dirname "$0")" && pwd)
src=$(cd "$here/../.." && pwd)
scenario=${DEMO_SCENARIO:-mail-flow}
bdir=${B:-build}
case $bdir in /*) ;; *) bdir=$src/$bdir;; esac
results=$bdir/lab-results/$scenario

echo "mailtun demo: lab scenario '$scenario' in user-mode-linux (a kernel with PPP, PPTP, MPPE)"
echo "  provider namespace: Debian pptpd + pppd and Postfix, configured from conf/provider/"
echo "  customer namespace: DSL line 198.51.100.2, mailtund + mailtun.so + mailrelayd, an inside"
echo "  mail server; the tunnel should bring the fixed address 192.0.2.10"
echo "  every push runs over TLS pinned to mailrelayd's own key (mailtunctl tls --policy -> provider's tls_policy)"
echo "booting (about 1-2 minutes) ..."
out=$(B="$bdir" "$here/boot.sh" "$scenario" 2>&1); rc=$?

echo
echo "What happened (from $results/scenario.log):"
# The scenario's own story lines, without the clock prefix.
sed -n 's/^\[+\([0-9.]*\)s\] /  \1s  /p' "$results/scenario.log" 2>/dev/null

if [ -s "$results/timing.txt" ]; then
    echo
    echo "Timing ($results/timing.txt):"
    while IFS='=' read -r key value; do
        case $key in
        setup_seconds)                what="start of the dial -> fixed address up";;
        provider_pppd_launch_seconds) what="  of which: until pptpd launched its pppd (the peer)";;
        ppp_negotiation_seconds)      what="  of which: PPP negotiation (LCP, MS-CHAPv2, CCP, IPCP)";;
        mail_push_seconds)            what="mail queued at the provider -> at the fixed address";;
        first_mail_seconds)           what="mail queued at the provider -> at the inside server";;
        recovery_reachable_seconds)   what="new DSL address -> fixed address reachable again";;
        held_mail_seconds)            what="new DSL address -> mail held at the provider inside (ETRN)";;
        *)                            what=$key;;
        esac
        printf '  %-58s %6s s\n' "$what" "$value"
    done <"$results/timing.txt"
fi

echo
case $rc in
0)  echo "Result: PASS. All logs: $results";;
77) echo "Result: SKIPPED — $(tail -n 1 <<<"$out")";;
*)  echo "Result: FAIL (exit $rc). Details:"; sed 's/^/  /' <<<"$out" | tail -n 40;;
esac
exit $rc
