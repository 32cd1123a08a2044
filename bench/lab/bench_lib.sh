# bench_lib.sh — what the L2TP lab benchmarks share (sourced after tests/lab/lib.sh and
# mailtun_lib.sh; runs in the guest): the reach prober, the throughput sink and sends, Debian's
# xl2tpd as the comparison LAC, the set-up loop and the recovery measurement.
#
#   bench_probes_up                       reach prober (provider ns) + throughput sink (customer ns)
#   bench_reach_now <limit-s>             epoch time the provider's connect to FIXED:2525 is greeted
#   bench_lac_conf <lac.conf> <options>   Debian's xl2tpd as LAC (port 1701, autodial) + its pppd options
#   bench_lac_up / bench_lac_down         start / stop that xl2tpd (and its pppd)
#   bench_setups <reps> <client...>       set-up times, alternating; needs client_up/client_down <client>
#   bench_throughput <client>             SENDS sends of SEND_S s of zeros, MB/s each and median
#   bench_recovery <client> <n>           the uplink becomes 198.51.100.<n> -> reachable again (s, or none)
#   bench_median                          median of the numbers on stdin
#
# Each records key=value in <results>/timing.txt (lab_result). The caller sets REPS, SENDS,
# SEND_S, RECOVER_LIMIT and provides client_up/client_down; clients are named in the keys
# (<client>_setup_<i>, <client>_mbps_<k>, <client>_recovery_<i>).

BENCH_PROBE=$LAB_SRC/bench/lab/tunnel_bench.py

bench_nlines() { local -a l=(); [ -r "$1" ] && mapfile -t l <"$1"; echo ${#l[@]}; }
bench_more_lines() { [ "$(bench_nlines "$1")" -gt "$2" ]; }
bench_last_line() { local -a l; mapfile -t l <"$1"; echo "${l[-1]}"; }
bench_median() { sort -n | awk '{ v[NR] = $1 } END { if (!NR) print "?"; else if (NR % 2) print v[(NR + 1) / 2]; else printf "%.2f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
bench_mppe_count() { local n; n=$(grep -c 'MPPE 128-bit stateless compression enabled' "$LAB_RESULTS/customer-pppd.log" 2>/dev/null); echo "${n:-0}"; }

# One long-lived prober in the provider namespace (a Python start inside a measurement would
# cost the guest's one CPU ~0.5 s) and the throughput sink on the fixed address.
bench_probes_up() {
    lab_tcp_listen $LAB_NS_CUSTOMER $LAB_FIXED 2525 customer
    lab_spawn $LAB_NS_CUSTOMER sink $LAB_PY "$BENCH_PROBE" sink $LAB_FIXED 5001 "$LAB_RESULTS/sink.out"
    local fifo=$LAB_RUN/reach.fifo
    BENCH_REACH=$LAB_RESULTS/reach.out
    mkfifo "$fifo"; : >"$BENCH_REACH"
    lab_spawn $LAB_NS_PROVIDER reach $LAB_PY "$BENCH_PROBE" reach "$fifo" $LAB_FIXED 2525 "$BENCH_REACH"
    exec {BENCH_GO}<>"$fifo"
}

bench_reach_now() {
    local n; n=$(bench_nlines "$BENCH_REACH")
    echo "go $1" >&"$BENCH_GO"
    LAB_POLL=0.05 lab_wait $(($1 + 5)) "the reach prober's answer" bench_more_lines "$BENCH_REACH" "$n"
    local r; r=$(bench_last_line "$BENCH_REACH")
    [ "$r" != timeout ] || return 1
    echo "$r"
}

# Debian's xl2tpd as the customer's LAC: dials at start, pppd with the same PPP options as
# mailtund's (MS-CHAPv2 offered by the LNS, MPPE-128, MTU/MRU 1400).
bench_lac_conf() {
    cat >"$1" <<EOC
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
pppoptfile = $2
length bit = yes
EOC
    cat >"$2" <<EOC
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
    BENCH_LAC_CONF=$1 BENCH_LAC_OPTIONS=$2
}
bench_lac_up() {
    rm -f "$LAB_RUN/lac-control"
    lab_spawn $LAB_NS_CUSTOMER xl2tpd-lac xl2tpd -D -c "$BENCH_LAC_CONF" -p "$LAB_RUN/lac.own.pid" -C "$LAB_RUN/lac-control"
}
bench_lac_down() {
    lab_stop xl2tpd-lac 10 || lab_fail "xl2tpd (LAC) did not stop"
    pkill -f "$BENCH_LAC_OPTIONS" 2>/dev/null
    return 0
}
# yes/no: the LAC's log says it uses the kernel's L2TP data path.
bench_lac_kernel() { grep -q "Using l2tp kernel support" "$LAB_RESULTS/xl2tpd-lac.out" && echo yes || echo no; }

# bench_setups <reps> <client...> — client started -> the provider's connect to FIXED:2525 is
# greeted; the clients alternate (the order flips every other rep); client_down leaves no
# session at the provider before the next start.
bench_setups() {
    local reps=$1 i c k t0 t s m0; shift
    local -a order
    declare -A all
    for i in $(seq 1 "$reps"); do
        order=("$@")
        [ $((i % 2)) = 0 ] && { order=(); for ((k = $#; k >= 1; k--)); do order+=("${!k}"); done; }
        for c in "${order[@]}"; do
            m0=$(bench_mppe_count)
            t0=$(lab_now)
            client_up "$c"
            t=$(bench_reach_now 40) || lab_fail "$c: the provider did not reach $LAB_FIXED:2525 within 40 s (rep $i)"
            s=$(lab_elapsed "$t0" "$t")
            lab_result "${c}_setup_$i" "$s"
            all[$c]+="$s "
            [ "$(bench_mppe_count)" -gt "$m0" ] || lab_fail "$c: no MPPE-128 on the customer's pppd (rep $i)"
            lab_log "rep $i $c: fixed address reachable after ${s}s"
            client_down "$c"
        done
    done
    for c in "$@"; do
        lab_result "${c}_setup_median" "$(tr ' ' '\n' <<<"${all[$c]}" | grep . | bench_median)"
        lab_log "$c set-up: ${all[$c]}-> median $(tr ' ' '\n' <<<"${all[$c]}" | grep . | bench_median)s"
    done
}

# bench_throughput <client> — the tunnel is up; provider -> FIXED:5001 (MPPE-128 on).
bench_throughput() {
    local c=$1 k out r rates=''
    lab_in $LAB_NS_PROVIDER $LAB_PY "$BENCH_PROBE" send $LAB_FIXED 5001 1 >/dev/null || lab_fail "$c: warm-up send failed"
    for k in $(seq 1 "$SENDS"); do
        out=$(lab_in $LAB_NS_PROVIDER $LAB_PY "$BENCH_PROBE" send $LAB_FIXED 5001 "$SEND_S") || lab_fail "$c: send $k failed: $out"
        r=$(awk -v l="$out" 'BEGIN { split(l, f, /[ =]/); if (f[4] > 0) printf "%.2f", f[2] / f[4] / 1e6 }')
        [ -n "$r" ] || lab_fail "$c: bad sink answer '$out'"
        lab_result "${c}_mbps_$k" "$r"
        rates+="$r "
    done
    lab_result "${c}_mbps_median" "$(tr ' ' '\n' <<<"$rates" | grep . | bench_median)"
    lab_log "$c throughput: $rates-> median $(tr ' ' '\n' <<<"$rates" | grep . | bench_median) MB/s"
}

# bench_recovery <client> <n> — while the tunnel is up the DSL line gets 198.51.100.<n>
# (lab_uplink_readdress); prints the seconds until the provider reaches FIXED:2525 again, or
# "none" after RECOVER_LIMIT s. The prober's epoch time of success is left in
# $LAB_RUN/reach-at (bench_reach_at reads it).
bench_recovery() {
    local c=$1 t0 t rec
    t0=$(lab_now)
    lab_uplink_readdress "198.51.100.$2"
    if t=$(bench_reach_now "$RECOVER_LIMIT"); then
        echo "$t" >"$LAB_RUN/reach-at"
        rec=$(lab_elapsed "$t0" "$t")
        lab_log "$c: reachable again ${rec}s after the uplink became 198.51.100.$2" >&2
    else
        rec=none
        lab_log "$c: not reachable within ${RECOVER_LIMIT}s after the uplink became 198.51.100.$2" >&2
    fi
    echo "$rec"
}
bench_reach_at() { local t; read -r t <"$LAB_RUN/reach-at" 2>/dev/null; echo "$t"; }
