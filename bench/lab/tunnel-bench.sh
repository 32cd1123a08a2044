#!/bin/bash
# tunnel-bench.sh — lab benchmark (not part of make check): mailtund + mailtun.so against
# Debian's pptp-linux + pppd, side by side in one guest, same provider (pptpd, MS-CHAPv2,
# MPPE-128), same MTU/MRU (1400).
#
#   B=build tests/lab/boot.sh bench/lab/tunnel-bench.sh      (bench/tunnel.sh does this)
#
# (a) set-up: client started -> the provider's TCP connect to FIXED:2525 is greeted; REPS
#     times each, alternating clients; the tunnel is hung up and the provider's session is
#     gone before the next start.
# (b) throughput: provider -> FIXED:5001, zeros for SEND_S seconds, measured by the receiver
#     (first byte -> EOF); SENDS times per client on one session each, after a 1 s warm-up.
# (c) the same against a provider whose data path is the kernel's too (bench/lab/kpptpd.py:
#     the control connection in Python, the provider's pppd with mailtun.so's kernel PPTP
#     socket and the provider's own pptpd-options), so only the clients' data paths differ.
# Records in <results>/timing.txt: <client>_setup_<i>, <client>_launch_<i> (start -> pptpd
# launched its pppd: the peer's share), <client>_setup_median, <client>_mbps_<i> (MB/s,
# 10^6 bytes), <client>_mbps_median, <client>_mtu, the same with a kgre_ prefix for (c),
# guest_kernel; client = mailtun | pptp.
set -u
. "$LAB_DIR/lib.sh"
. "$LAB_DIR/mailtun_lib.sh"

REPS=5 SENDS=3 SEND_S=3
here=$LAB_SRC/bench/lab
probe=$here/tunnel_bench.py
[ -x "$LAB_BUILD/tunneld/mailtund" ] || lab_skip "mailtund not built ($LAB_BUILD/tunneld/mailtund)"
[ -f "$LAB_BUILD/pppd-plugin/mailtun.so" ] || lab_skip "mailtun.so not built"
command -v pptp >/dev/null || lab_skip "pptp (pptp-linux) not installed"

lab_base_up
lab_provider_pptpd_up
lab_result guest_kernel "$(uname -r)"
read -r pptpd_pid <"$LAB_RUN/pptpd.pid"

# Customer side: greeting listener (set-up) and byte sink (throughput) on the fixed address.
lab_tcp_listen $LAB_NS_CUSTOMER $LAB_FIXED 2525 customer
lab_spawn $LAB_NS_CUSTOMER sink $LAB_PY "$probe" sink $LAB_FIXED 5001 "$LAB_RESULTS/sink.out"
# Provider side: one long-lived reach prober driven through a FIFO.
fifo=$LAB_RUN/reach.fifo reach=$LAB_RESULTS/reach.out
mkfifo "$fifo"; : >"$reach"
lab_spawn $LAB_NS_PROVIDER reach $LAB_PY "$probe" reach "$fifo" $LAB_FIXED 2525 "$reach"
exec {go}<>"$fifo"
mt_config "mtu = 1400"
sed -i 's/^log_level = debug$/log_level = info/' "$MT_CONF"     # what an admin would run
lab_sleep 1           # let the Python processes finish starting (one CPU)

# nlines <file> — number of lines (builtins only).
nlines() { local -a l=(); [ -r "$1" ] && mapfile -t l <"$1"; echo ${#l[@]}; }
# more_lines <file> <n> — true once the file has more than n lines.
more_lines() { [ "$(nlines "$1")" -gt "$2" ]; }
# last_line <file> — the last line.
last_line() { local -a l; mapfile -t l <"$1"; echo "${l[-1]}"; }
mppe_count() { local n; n=$(grep -c 'MPPE 128-bit stateless compression enabled' "$LAB_RESULTS/customer-pppd.log" 2>/dev/null); echo "${n:-0}"; }

client_up() {
    case $1 in
    mailtun) mt_tunnel_up;;
    pptp)    lab_customer_pptp_linux_up mtu 1400 mru 1400;;
    esac
}
client_down() {
    case $1 in
    mailtun) lab_stop mailtund 10 || lab_fail "mailtund did not stop";;
    pptp)    lab_customer_pppd_down || lab_fail "pppd (pptp-linux) did not stop";;
    esac
    # The provider's session must be gone and ppp0 with it: each run starts clean.
    LAB_POLL=0.1 lab_wait 15 "the provider's pptpctrl/pppd to end" sh -c "! pgrep -P $pptpd_pid >/dev/null"
    LAB_POLL=0.1 lab_wait 10 "the customer's ppp0 to go" sh -c "! ip -n $LAB_NS_CUSTOMER link show ppp0 >/dev/null 2>&1"
}

# reach_now <limit-s> — tell the prober to go; wait for its answer; echo the success time.
reach_now() {
    local n; n=$(nlines "$reach")
    echo "go $1" >&$go
    LAB_POLL=0.05 lab_wait $(($1 + 5)) "the reach prober's answer" more_lines "$reach" "$n"
    local r; r=$(last_line "$reach")
    [ "$r" != timeout ] || return 1
    echo "$r"
}

median() { sort -n | awk '{ v[NR] = $1 } END { if (NR % 2) print v[(NR + 1) / 2]; else printf "%.2f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

# ---- (a) set-up time ----
declare -A setups
for i in $(seq 1 $REPS); do
    for c in mailtun pptp; do
        [ $((i % 2)) = 0 ] && c=$([ $c = mailtun ] && echo pptp || echo mailtun)   # alternate who goes first
        m0=$(mppe_count); l0=$(nlines "$LAB_RESULTS/provider-pppd-launch.log")
        t0=$(lab_now)
        client_up $c
        t=$(reach_now 30) || lab_fail "$c: the provider did not reach $LAB_FIXED:2525 within 30 s (rep $i)"
        s=$(lab_elapsed "$t0" "$t")
        lab_result ${c}_setup_$i "$s"
        setups[$c]+="$s "
        if [ "$(nlines "$LAB_RESULTS/provider-pppd-launch.log")" -gt "$l0" ]; then
            read -r tl _ <<<"$(last_line "$LAB_RESULTS/provider-pppd-launch.log")"
            lab_result ${c}_launch_$i "$(lab_elapsed "$t0" "$tl")"
        fi
        [ "$(mppe_count)" -gt "$m0" ] || lab_fail "$c: no MPPE-128 on the customer's pppd (rep $i)"
        lab_log "rep $i $c: fixed address reachable after ${s}s"
        client_down $c
    done
done
for c in mailtun pptp; do
    med=$(tr ' ' '\n' <<<"${setups[$c]}" | grep . | median)
    lab_result ${c}_setup_median "$med"
    lab_log "$c set-up: ${setups[$c]}-> median ${med}s"
done

# ---- (b) throughput, MPPE-128 on ----
# throughput <key-prefix> <what> — both clients, one session each, SENDS sends of SEND_S s.
throughput() {
    local pre=$1 what=$2 c m0 k out r rates med
    for c in mailtun pptp; do
        m0=$(mppe_count)
        client_up $c
        reach_now 30 >/dev/null || lab_fail "$c: tunnel not up for the throughput run ($what)"
        [ "$(mppe_count)" -gt "$m0" ] || lab_fail "$c: no MPPE-128 for the throughput run ($what)"
        lab_result ${pre}${c}_mtu "$(ip -n $LAB_NS_CUSTOMER -o link show ppp0 | sed -n 's/.* mtu \([0-9]*\) .*/\1/p')"
        # One uncounted second first: TCP's window and the guest's page cache warm up.
        lab_in $LAB_NS_PROVIDER $LAB_PY "$probe" send $LAB_FIXED 5001 1 >/dev/null || lab_fail "$c: warm-up send failed ($what)"
        rates=''
        for k in $(seq 1 $SENDS); do
            out=$(lab_in $LAB_NS_PROVIDER $LAB_PY "$probe" send $LAB_FIXED 5001 $SEND_S) ||
                lab_fail "$c: send $k failed ($what): $out"
            r=$(awk -v l="$out" 'BEGIN { split(l, f, /[ =]/); if (f[4] > 0) printf "%.2f", f[2] / f[4] / 1e6 }')
            [ -n "$r" ] || lab_fail "$c: bad sink answer '$out' ($what)"
            lab_result ${pre}${c}_mbps_$k "$r"
            rates+="$r "
            lab_log "$c throughput $k ($what): $out -> $r MB/s"
        done
        med=$(tr ' ' '\n' <<<"$rates" | grep . | median)
        lab_result ${pre}${c}_mbps_median "$med"
        lab_log "$c throughput ($what): $rates-> median $med MB/s"
        client_down $c
    done
}
throughput "" "provider pptpd"

# ---- (c) throughput against a provider with kernel GRE (bench/lab/kpptpd.py) ----
# pptpd copies every packet through userspace for both clients; with the kernel's PPTP
# module on the provider side too, what differs between the clients is their own data path.
lab_stop pptpd 5
lab_spawn $LAB_NS_PROVIDER kpptpd $LAB_PY "$here/kpptpd.py" --listen $LAB_PPTP_SERVER \
    --plugin "$LAB_BUILD/pppd-plugin/mailtun.so" --run-dir "$LAB_RUN" --pppd-log "$LAB_RESULTS/kprovider-pppd.log"
pptpd_pid=$LAB_PID      # client_down waits for this server's pppd children to end
LAB_POLL=0.05 lab_wait 10 "kpptpd listening on $LAB_PPTP_SERVER:1723" lab_listening $LAB_NS_PROVIDER $LAB_PPTP_SERVER 1723
lab_log "provider: kpptpd.py (control connection) + pppd with mailtun.so (kernel GRE) + /etc/ppp/pptpd-options"
throughput "kgre_" "provider with kernel GRE"
grep -q "MPPE 128-bit stateless compression enabled" "$LAB_RESULTS/kprovider-pppd.log" ||
    lab_fail "the kernel-GRE provider's pppd did not run MPPE-128"
lab_log "PASS"
exit 0
