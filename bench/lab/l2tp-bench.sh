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

REPS=3 SENDS=3 SEND_S=3 RECOVER_LIMIT=45
probe=$LAB_SRC/bench/lab/tunnel_bench.py
[ -x "$LAB_BUILD/tunneld/mailtund" ] || lab_skip "mailtund not built ($LAB_BUILD/tunneld/mailtund)"
[ -f "$LAB_BUILD/pppd-plugin/mailtun.so" ] || lab_skip "mailtun.so not built"
command -v xl2tpd >/dev/null || lab_skip "xl2tpd not installed"

lab_base_up
lab_provider_xl2tpd_up
lab_result guest_kernel "$(uname -r)"
read -r lns_pid <"$LAB_RUN/xl2tpd.pid"

lab_tcp_listen $LAB_NS_CUSTOMER $LAB_FIXED 2525 customer
lab_spawn $LAB_NS_CUSTOMER sink $LAB_PY "$probe" sink $LAB_FIXED 5001 "$LAB_RESULTS/sink.out"
fifo=$LAB_RUN/reach.fifo reach=$LAB_RESULTS/reach.out
mkfifo "$fifo"; : >"$reach"
lab_spawn $LAB_NS_PROVIDER reach $LAB_PY "$probe" reach "$fifo" $LAB_FIXED 2525 "$reach"
exec {go}<>"$fifo"
mt_config "transport = l2tp" "mtu = 1400"
sed -i 's/^log_level = debug$/log_level = info/' "$MT_CONF"

# Debian's xl2tpd as the customer's LAC: dials at start, pppd with the same PPP options.
cat >"$LAB_RUN/lac.conf" <<EOC
[global]
port = 1701
access control = no
[lac provider]
lns = $LAB_PPTP_SERVER
autodial = yes
redial = yes
redial timeout = 1
require authentication = no
name = $LAB_PPTP_USER
pppoptfile = $LAB_RUN/lac.options
length bit = yes
EOC
cat >"$LAB_RUN/lac.options" <<EOC
name $LAB_PPTP_USER
remotename $LAB_PPTP_NAME
noauth
refuse-pap
refuse-chap
refuse-mschap
refuse-eap
require-mppe-128
nobsdcomp
nodeflate
novj
novjccomp
nodefaultroute
noipdefault
noipv6
mtu 1400
mru 1400
lcp-echo-interval 10
lcp-echo-failure 3
logfile $LAB_RESULTS/customer-pppd.log
EOC
lab_sleep 1

nlines() { local -a l=(); [ -r "$1" ] && mapfile -t l <"$1"; echo ${#l[@]}; }
more_lines() { [ "$(nlines "$1")" -gt "$2" ]; }
last_line() { local -a l; mapfile -t l <"$1"; echo "${l[-1]}"; }
mppe_count() { local n; n=$(grep -c 'MPPE 128-bit stateless compression enabled' "$LAB_RESULTS/customer-pppd.log" 2>/dev/null); echo "${n:-0}"; }
median() { sort -n | awk '{ v[NR] = $1 } END { if (NR % 2) print v[(NR + 1) / 2]; else printf "%.2f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

client_up() {
    case $1 in
    mailtun) mt_tunnel_up;;
    xl2tpd)  rm -f "$LAB_RUN/lac-control"
             lab_spawn $LAB_NS_CUSTOMER xl2tpd-lac xl2tpd -D -c "$LAB_RUN/lac.conf" \
                 -p "$LAB_RUN/lac.own.pid" -C "$LAB_RUN/lac-control";;
    esac
}
client_down() {
    case $1 in
    mailtun) lab_stop mailtund 10 || lab_fail "mailtund did not stop";;
    xl2tpd)  lab_stop xl2tpd-lac 10 || lab_fail "xl2tpd (LAC) did not stop"
             pkill -f "$LAB_RUN/lac.options" 2>/dev/null;;
    esac
    LAB_POLL=0.1 lab_wait 20 "the provider's pppd to end" sh -c "! pgrep -P $lns_pid >/dev/null"
    LAB_POLL=0.1 lab_wait 10 "the customer's ppp0 to go" sh -c "! ip -n $LAB_NS_CUSTOMER link show ppp0 >/dev/null 2>&1"
}
reach_now() {
    local n; n=$(nlines "$reach")
    echo "go $1" >&$go
    LAB_POLL=0.05 lab_wait $(($1 + 5)) "the reach prober's answer" more_lines "$reach" "$n"
    local r; r=$(last_line "$reach")
    [ "$r" != timeout ] || return 1
    echo "$r"
}

# ---- (a) set-up ----
declare -A setups
for i in $(seq 1 $REPS); do
    for c in mailtun xl2tpd; do
        [ $((i % 2)) = 0 ] && c=$([ $c = mailtun ] && echo xl2tpd || echo mailtun)
        m0=$(mppe_count)
        t0=$(lab_now)
        client_up $c
        t=$(reach_now 40) || lab_fail "$c: the provider did not reach $LAB_FIXED:2525 within 40 s (rep $i)"
        s=$(lab_elapsed "$t0" "$t")
        lab_result ${c}_setup_$i "$s"
        setups[$c]+="$s "
        [ "$(mppe_count)" -gt "$m0" ] || lab_fail "$c: no MPPE-128 on the customer's pppd (rep $i)"
        lab_log "rep $i $c: fixed address reachable after ${s}s"
        client_down $c
    done
done
for c in mailtun xl2tpd; do
    med=$(tr ' ' '\n' <<<"${setups[$c]}" | grep . | median)
    lab_result ${c}_setup_median "$med"
    lab_log "$c set-up: ${setups[$c]}-> median ${med}s"
done
if grep -q "Using l2tp kernel support" "$LAB_RESULTS/xl2tpd-lac.out"; then lab_result lac_kernel yes; else lab_result lac_kernel no; fi
lab_log "xl2tpd LAC: $(grep -m1 -o 'Using l2tp kernel support\|L2TP kernel support not detected[^"]*\|Not looking for kernel support' "$LAB_RESULTS/xl2tpd-lac.out")"

# ---- (b) throughput, MPPE-128 on; (c) recovery after an uplink address change ----
addr_n=60
for c in mailtun xl2tpd; do
    m0=$(mppe_count)
    client_up $c
    reach_now 40 >/dev/null || lab_fail "$c: tunnel not up for the throughput run"
    [ "$(mppe_count)" -gt "$m0" ] || lab_fail "$c: no MPPE-128 for the throughput run"
    lab_in $LAB_NS_PROVIDER $LAB_PY "$probe" send $LAB_FIXED 5001 1 >/dev/null || lab_fail "$c: warm-up send failed"
    rates=''
    for k in $(seq 1 $SENDS); do
        out=$(lab_in $LAB_NS_PROVIDER $LAB_PY "$probe" send $LAB_FIXED 5001 $SEND_S) || lab_fail "$c: send $k failed: $out"
        r=$(awk -v l="$out" 'BEGIN { split(l, f, /[ =]/); if (f[4] > 0) printf "%.2f", f[2] / f[4] / 1e6 }')
        [ -n "$r" ] || lab_fail "$c: bad sink answer '$out'"
        lab_result ${c}_mbps_$k "$r"
        rates+="$r "
    done
    med=$(tr ' ' '\n' <<<"$rates" | grep . | median)
    lab_result ${c}_mbps_median "$med"
    lab_log "$c throughput: $rates-> median $med MB/s"

    addr_n=$((addr_n + 1))
    t0=$(lab_now)
    lab_uplink_readdress 198.51.100.$addr_n
    if t=$(reach_now $RECOVER_LIMIT); then
        rec=$(lab_elapsed "$t0" "$t")
        lab_log "$c: reachable again ${rec}s after the uplink became 198.51.100.$addr_n"
    else
        rec=none
        lab_log "$c: not reachable within ${RECOVER_LIMIT}s after the uplink became 198.51.100.$addr_n"
    fi
    lab_result ${c}_recovery "$rec"
    client_down $c
done
lab_log "PASS"
exit 0
