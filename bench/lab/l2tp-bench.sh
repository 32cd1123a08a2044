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
#     reaches FIXED:2525 again (limit RECOVER_LIMIT s), once per client.
# Records in <results>/timing.txt: <client>_setup_<i>, <client>_setup_median,
# <client>_mbps_<i>, <client>_mbps_median, <client>_recovery (s or "none"),
# lac_kernel (yes/no: the LAC's log says "Using l2tp kernel support"), guest_kernel;
# client = mailtun | xl2tpd.
set -u
. "$LAB_DIR/lib.sh"
. "$LAB_DIR/mailtun_lib.sh"
. "$LAB_SRC/bench/lab/bench_lib.sh"

REPS=${REPS:-3} SENDS=${SENDS:-3} SEND_S=${SEND_S:-3} RECOVER_LIMIT=${RECOVER_LIMIT:-45}
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
    addr_n=$((addr_n + 1))
    lab_result ${c}_recovery "$(bench_recovery $c $addr_n)"
    client_down $c
done
lab_log "PASS"
exit 0
