#!/bin/bash
# demo.sh — `make demo`: boot the lab, run one scenario and tell what it showed.
#
# Until mailtund exists the demo runs the baseline (Debian's pptp client as the customer):
# the provider's real pptpd and Postfix, the dial, the fixed address, a TCP connection and a
# mail pushed to the fixed address, and how long the tunnel took. DEMO_SCENARIO picks another
# scenario. Reads the results directory that tests/lab/boot.sh fills.
set -u
here=$(cd "$(dirname "$0")" && pwd)
src=$(cd "$here/../.." && pwd)
scenario=${DEMO_SCENARIO:-baseline-pptp-linux}
bdir=${B:-build}
case $bdir in /*) ;; *) bdir=$src/$bdir;; esac
results=$bdir/lab-results/$scenario

echo "mailtun demo: lab scenario '$scenario' in user-mode-linux (a kernel with PPP, PPTP, MPPE)"
echo "  provider namespace: Debian pptpd + pppd and Postfix, configured from conf/provider/"
echo "  customer namespace: DSL line 198.51.100.2 -> dials 203.0.113.1, should get fixed 192.0.2.10"
echo "booting (about 20-40 s) ..."
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
        setup_seconds)                what="dial -> fixed address up";;
        provider_pppd_launch_seconds) what="  of which: until pptpd launched its pppd (the peer)";;
        ppp_negotiation_seconds)      what="  of which: PPP negotiation (LCP, MS-CHAPv2, CCP, IPCP)";;
        mail_push_seconds)            what="mail queued at the provider -> at the fixed address";;
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
