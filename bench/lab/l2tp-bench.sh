#!/bin/bash
# l2tp-bench.sh — lab benchmark (not part of make check): mailtund (transport = l2tp) +
# mailtun.so against Debian's xl2tpd as LAC + pppd, side by side in one guest, same provider
# (xl2tpd as LNS in kernel mode, conf/provider/l2tp/, MS-CHAPv2, MPPE-128), MTU/MRU 1400.
#
#   B=build tests/lab/boot.sh bench/lab/l2tp-bench.sh      (bench/tunnel_l2tp.sh does this)
#
# (a) set-up: client started -> the provider's TCP connect to FIXED:2525 is greeted; REPS
#     times each, alternating; the provider's session gone before the next start.
# (b) throughput: provider -> FIXED:5001, zeros for SEND_S s, SENDS sends per client.
# (c) recovery: the DSL line gets a new address while the tunnel is up -> the provider
#     reaches FIXED:2525 again (limit RECOVER_LIMIT s): RECOVERIES times in a row for
#     mailtun, once for xl2tpd (it has no uplink watch: each try waits out the limit).
# Records in <results>/timing.txt: <client>_setup_<i>, <client>_setup_median,
# <client>_mbps_<i>, <client>_mbps_median, <client>_recovery_<k>, <client>_recovery (their
# median, s; "none" if any was not reached),
# lac_kernel (yes/no: the LAC's log says "Using l2tp kernel support"), guest_kernel;
# client = mailtun | xl2tpd.
set -u
. "$LAB_DIR/lib.sh"
. "$LAB_DIR/mailtun_lib.sh"
. "$LAB_SRC/bench/lab/bench_lib.sh"

REPS=${REPS:-5} SENDS=${SENDS:-3} SEND_S=${SEND_S:-3} RECOVER_LIMIT=${RECOVER_LIMIT:-45}
RECOVERIES=${RECOVERIES:-3}
[ -x "$LAB_BUILD/tunneld/mailtund" ] || lab_skip "mailtund not built ($LAB_BUILD/tunneld/mailtund)"
[ -f "$LAB_BUILD/pppd-plugin/mailtun.so" ] || lab_skip "mailtun.so not built"
command -v xl2tpd >/dev/null || lab_skip "xl2tpd not installed"

lab_base_up
lab_provider_xl2tpd_up
lab_result guest_kernel "$(uname -r)"
read -r lns_pid <"$LAB_RUN/xl2tpd.pid"

bench_probes_up
mt_config "transport = l2tp" "mtu = 1400"
sed -i 's/^log_level = debug$/log_level = info/' "$MT_CONF"
bench_lac_conf "$LAB_RUN/lac.conf" "$LAB_RUN/lac.options"
lab_sleep 1

client_up() {
    case $1 in
    mailtun) mt_tunnel_up;;
    xl2tpd)  bench_lac_up;;
    esac
}
client_down() {
    case $1 in
    mailtun) lab_stop mailtund 10 || lab_fail "mailtund did not stop";;
    xl2tpd)  bench_lac_down;;
    esac
    LAB_POLL=0.1 lab_wait 20 "the provider's pppd to end" sh -c "! pgrep -P $lns_pid >/dev/null"
    LAB_POLL=0.1 lab_wait 10 "the customer's ppp0 to go" sh -c "! ip -n $LAB_NS_CUSTOMER link show ppp0 >/dev/null 2>&1"
}

# recovery_parts <epoch> <k> — where recovery k went, from the daemons' own clocks: mailtund
# (its "uplink change" line -> its "link up" line) and the provider's pppd between ip-pre-up and
# ip-up (conf/provider/ip-pre-up.d's session-replacement hook asks the old session, dead with
# the old address, for one ICMP echo within 1 s and then ends it).
recovery_parts() {
    local e0=$1 k=$2 d t rest e ch='' up='' p
    while read -r d t rest; do
        e=$(date -d "$d $t" +%s.%N) || continue
        [ "$(lab_us "$e")" -ge "$(lab_us "$e0")" ] || continue
        case $rest in
        *"uplink change"*) [ -n "$ch" ] || ch=$e;;
        *"notice: link up"*) [ -n "$ch" ] && [ -z "$up" ] && up=$e;;
        esac
    done < <(grep -E 'info: uplink change|notice: link up' "$LAB_RESULTS/mailtund.out")
    [ -n "$ch" ] && [ -n "$up" ] && lab_result mailtun_recovery_mailtund_$k "$(lab_elapsed "$ch" "$up")"
    p=$(awk -v e0="$e0" '$1 > e0 && / local=192\.0\.2\.1 / {
            if ($2 == "ip-pre-up" && !pre) pre = $1; else if ($2 == "ip-up" && pre) { printf "%.2f", $1 - pre; exit } }' \
        "$LAB_RESULTS/ppp-hooks.log")
    [ -n "$p" ] && lab_result mailtun_recovery_provider_hook_$k "$p"
}

# ---- (a) set-up ----
bench_setups $REPS mailtun xl2tpd
lab_result lac_kernel "$(bench_lac_kernel)"
lab_log "xl2tpd LAC: $(grep -m1 -o 'Using l2tp kernel support\|L2TP kernel support not detected[^"]*\|Not looking for kernel support' "$LAB_RESULTS/xl2tpd-lac.out")"

# ---- (b) throughput, MPPE-128 on; (c) recovery after an uplink address change ----
addr_n=60
for c in mailtun xl2tpd; do
    m0=$(bench_mppe_count)
    client_up $c
    bench_reach_now 40 >/dev/null || lab_fail "$c: tunnel not up for the throughput run"
    [ "$(bench_mppe_count)" -gt "$m0" ] || lab_fail "$c: no MPPE-128 for the throughput run"
    bench_throughput $c
    recs=''
    for k in $(seq 1 $([ $c = mailtun ] && echo "$RECOVERIES" || echo 1)); do
        addr_n=$((addr_n + 1))
        e0=$(lab_now)
        rec=$(bench_recovery $c $addr_n)
        lab_result ${c}_recovery_$k "$rec"
        [ $c != mailtun ] || recovery_parts "$e0" "$k"
        recs+="$rec "
        [ "$rec" != none ] || break
        lab_sleep 2             # the new session settles (its ip-up hooks) before the next change
    done
    if [[ "$recs" == *none* ]]; then rec=none; else rec=$(tr ' ' '\n' <<<"$recs" | grep . | bench_median); fi
    lab_result ${c}_recovery "$rec"
    client_down $c
done
lab_log "PASS"
exit 0
