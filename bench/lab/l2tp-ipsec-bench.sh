#!/bin/bash
# l2tp-ipsec-bench.sh — lab benchmark (not part of make check): L2TP/IPsec behind the carrier
# NAT, mailtund (transport = l2tp-ipsec: it has its charon set up the transport-mode SA over
# VICI, then dials L2TP inside it) against Debian's strongSwan configured with swanctl (a
# transport-mode SA for UDP 1701) + Debian's xl2tpd as LAC + pppd, side by side in one guest,
# same provider as shipped (conf/provider/l2tp-ipsec/swanctl.conf in charon, conf/provider/l2tp/
# in xl2tpd + pppd: MS-CHAPv2, MPPE-128), same identity, key and proposals, MTU/MRU 1400.
#
#   B=build tests/lab/boot.sh bench/lab/l2tp-ipsec-bench.sh   (bench/tunnel_l2tp_ipsec.sh does this)
#
# (a) set-up: client started (mailtund; or swanctl --load-all + --initiate, then xl2tpd) ->
#     the provider's TCP connect to FIXED:2525 is greeted; REPS times each, alternating.
# (b) throughput: provider -> FIXED:5001, zeros for SEND_S s, SENDS sends per client.
# (c) recovery: the DSL line gets a new address (behind the NAT, as in the lab scenario
#     l2tp-ipsec-uplink-change) while the tunnel is up -> the provider reaches FIXED:2525
#     again (limit RECOVER_LIMIT s); REC_REPS times per client (once more for a client that
#     did not recover at all).
# Throughput also once with mailtund's ESP proposal set to AES-128-GCM (mailtun_aes128): what the
# cipher costs in this guest. BENCH_PARTS (default "setup throughput recovery") picks the parts; bench/lab/
# l2tp-ipsec-recovery.sh runs only (c), for make bench-recovery.
# Records in <results>/timing.txt: <client>_setup_<i>, <client>_setup_median, <client>_mbps_<k>,
# <client>_mbps_median, <client>_recovery_<i> (s or "none"), <client>_recovery_median,
# lac_kernel, guest_kernel, ike_proposal, esp_proposal, mailtun_aes128_mbps_<k> and _median,
# mailtun_phase_<step>_<i> (each mailtun recovery in steps: dial, ipsec, l2tp, ppp_auth, ppp_ip,
# provider); client = mailtun | swanctl | mailtun_aes128.
# lab-timeout: 900
set -u
. "$LAB_DIR/lib.sh"
. "$LAB_DIR/nat_lib.sh"
. "$LAB_DIR/ipsec_lib.sh"
. "$LAB_DIR/mailtun_lib.sh"
. "$LAB_SRC/bench/lab/bench_lib.sh"

REPS=${REPS:-3} SENDS=${SENDS:-3} SEND_S=${SEND_S:-3} RECOVER_LIMIT=${RECOVER_LIMIT:-45} REC_REPS=${REC_REPS:-3}
BENCH_PARTS=${BENCH_PARTS:-setup throughput recovery}
MT_LOG=$LAB_RESULTS/mailtund.out
[ -x "$LAB_BUILD/tunneld/mailtund" ] || lab_skip "mailtund not built ($LAB_BUILD/tunneld/mailtund)"
[ -f "$LAB_BUILD/pppd-plugin/mailtun.so" ] || lab_skip "mailtun.so not built"
command -v xl2tpd >/dev/null || lab_skip "xl2tpd not installed"

lab_nat_base_up
lab_ipsec_modules
kit=$LAB_SRC/conf/provider/l2tp-ipsec/swanctl.conf
lab_charon_up $LAB_NS_PROVIDER provider "$kit"
lab_provider_xl2tpd_up
: >"$LAB_RUN/swanctl-empty.conf"
lab_charon_up $LAB_NS_CUSTOMER customer1 "$LAB_RUN/swanctl-empty.conf"
lab_result guest_kernel "$(uname -r)"
read -r lns_pid <"$LAB_RUN/xl2tpd.pid"

id=customer1@example.net
psk=$(awk -v id="$id" '$1 == "id" && $3 == id { f = 1 } f && $1 == "secret" { gsub(/"/, "", $3); print $3; exit }' "$kit")
[ -n "$psk" ] || lab_fail "no secret for $id in $kit"
( umask 077; echo "$psk" >"$LAB_RUN/ipsec.psk" )
# Both clients offer what mailtund offers by default (its [tunnel] ipsec_*proposals).
ike=$(sed -n 's/^;ipsec_proposals = //p' "$LAB_SRC/conf/mailtun.conf")
esp=$(sed -n 's/^;ipsec_esp_proposals = //p' "$LAB_SRC/conf/mailtun.conf")
[ -n "$ike" ] && [ -n "$esp" ] || lab_fail "no default ipsec_proposals / ipsec_esp_proposals in conf/mailtun.conf"

bench_probes_up
mt_config "transport = l2tp-ipsec" "mtu = 1400" "ipsec_socket = unix://$LAB_IPSEC/customer1/charon.vici" \
    "ipsec_id = $id" "ipsec_remote_id = vpn.example.com" "ipsec_psk_file = $LAB_RUN/ipsec.psk"
sed -i 's/^log_level = debug$/log_level = info/' "$MT_CONF"
bench_lac_conf "$LAB_RUN/lac.conf" "$LAB_RUN/lac.options"

# The comparison client as a Debian admin sets it up: a swanctl.conf for the SA that protects
# xl2tpd's UDP 1701, initiated by swanctl; DPD restarts it; no MOBIKE (the kit's advice).
lac_swanctl=$LAB_RUN/swanctl-lac.conf
cat >"$lac_swanctl" <<EOF
connections {
    lac {
        version = 2
        remote_addrs = $LAB_PPTP_SERVER
        proposals = $ike
        dpd_delay = 10s
        mobike = no
        keyingtries = 0
        local {
            auth = psk
            id = $id
        }
        remote {
            auth = psk
            id = vpn.example.com
        }
        children {
            l2tp {
                mode = transport
                local_ts = dynamic[udp/1701]
                remote_ts = dynamic[udp/1701]
                esp_proposals = $esp
                dpd_action = restart
            }
        }
    }
}
secrets {
    ike-lac {
        id = $id
        secret = "$psk"
    }
}
EOF
chmod 600 "$lac_swanctl"
lab_result ike_proposal "$ike"; lab_result esp_proposal "$esp"
lab_sleep 1

client_up() {
    case $1 in
    mailtun) mt_tunnel_up;;
    mailtun_aes128)
             echo "ipsec_esp_proposals = aes128gcm16-curve25519" >>"$MT_CONF"
             mt_tunnel_up;;
    swanctl) lab_swanctl customer1 --load-all --file "$lac_swanctl" >>"$LAB_RESULTS/swanctl-lac.out" 2>&1 ||
                 lab_fail "swanctl --load-all of the LAC's SA failed (swanctl-lac.out)"
             lab_swanctl customer1 --initiate --child l2tp --timeout 30 >>"$LAB_RESULTS/swanctl-lac.out" 2>&1 ||
                 lab_fail "swanctl --initiate of the LAC's SA failed (swanctl-lac.out)"
             bench_lac_up;;
    esac
}
client_down() {
    case $1 in
    mailtun*) lab_stop mailtund 10 || lab_fail "mailtund did not stop"
             sed -i '/^ipsec_esp_proposals = /d' "$MT_CONF";;
    swanctl) bench_lac_down
             lab_swanctl customer1 --terminate --ike lac --force --timeout 5 >>"$LAB_RESULTS/swanctl-lac.out" 2>&1
             lab_swanctl customer1 --unload-conn --name lac >>"$LAB_RESULTS/swanctl-lac.out" 2>&1;;
    esac
    LAB_POLL=0.1 lab_wait 20 "the provider's pppd to end" sh -c "! pgrep -P $lns_pid >/dev/null"
    LAB_POLL=0.1 lab_wait 10 "the customer's ppp0 to go" sh -c "! ip -n $LAB_NS_CUSTOMER link show ppp0 >/dev/null 2>&1"
    # the next client starts from the customer's first address
    [ "$(lab_ifaddr $LAB_NS_CUSTOMER $LAB_IF_CUSTOMER)" = 198.51.100.2 ] || lab_uplink_readdress 198.51.100.2
}
part() { [[ " $BENCH_PARTS " == *" $1 "* ]]; }

# phases <i> <new-address> <reach-epoch> — where mailtund's recovery i went, from its log
# (the first line of each step after the one that saw the new address), the last step up to
# the prober's success: mailtun_phase_<step>_<i> in seconds.
log_epoch() { local d t; read -r d t _ <<<"$1"; date -d "$d $t" +%s.%N; }
phases() {
    local i=$1 addr=$2 t_reach=$3 line step prev t
    local -a steps=("ipsec dial conn=:dial" "ipsec up conn=:ipsec" "call handed to pppd:l2tp"
                    "ppp authenticated:ppp_auth" "tunnel state ppp -> up:ppp_ip")
    line=$(grep -m1 "uplink change .*now=\"present up addr=$addr\"" "$MT_LOG") || return 0
    prev=$(log_epoch "$line")
    for step in "${steps[@]}"; do
        line=$(awk -v a="now=\"present up addr=$addr\"" -v p="${step%%:*}" 'index($0, a) { f = 1 } f && index($0, p) { print; exit }' "$MT_LOG")
        [ -n "$line" ] || return 0
        t=$(log_epoch "$line")
        lab_result "mailtun_phase_${step##*:}_$i" "$(lab_elapsed "$prev" "$t")"
        prev=$t
    done
    # the rest is the provider's: its pppd's IPCP, its replace-session hook (one echo to the old
    # session, 1 s), the route (its ip-up hook runs after the route, so it is no mark)
    lab_result "mailtun_phase_provider_$i" "$(lab_elapsed "$prev" "$t_reach")"
}

# ---- what ESP costs: mailtund once more with AES-128-GCM (the provider kit accepts it) ----
if part throughput; then
    client_up mailtun_aes128
    bench_reach_now 40 >/dev/null || lab_fail "mailtun with AES-128-GCM: tunnel not up"
    grep -q "selected proposal: ESP:AES_GCM_16_128" "$LAB_RESULTS/charon-customer1.log" || lab_fail "the SA did not use AES-128-GCM"
    bench_throughput mailtun_aes128
    client_down mailtun_aes128
fi

# ---- (a) set-up ----
if part setup; then
    bench_setups "$REPS" mailtun swanctl
fi

# ---- (b) throughput (MPPE-128 inside ESP); (c) recovery after a new DSL address ----
addr_n=60
for c in mailtun swanctl; do
    m0=$(bench_mppe_count)
    client_up $c
    bench_reach_now 40 >/dev/null || lab_fail "$c: tunnel not up"
    [ "$(bench_mppe_count)" -gt "$m0" ] || lab_fail "$c: no MPPE-128"
    part throughput && bench_throughput $c
    if part recovery; then
        recs=''
        for i in $(seq 1 "$REC_REPS"); do
            addr_n=$((addr_n + 1))
            r=$(bench_recovery $c $addr_n)
            lab_result ${c}_recovery_$i "$r"
            [ $c = mailtun ] && [ "$r" != none ] && phases "$i" 198.51.100.$addr_n "$(bench_reach_at)"
            recs+="$r "
            # a client that did not come back at all is not waited for again
            [ "$r" = none ] && [ "$i" -ge 2 ] && break
            [ "$r" = none ] || LAB_POLL=0.2 lab_wait 10 "ppp0 up before the next change" \
                ip -n $LAB_NS_CUSTOMER link show ppp0
        done
        # "none" counts as slower than any time
        lab_result ${c}_recovery_median "$(tr ' ' '\n' <<<"$recs" | grep . | sed 's/^none$/999999/' | bench_median |
            awk '{ print ($1 >= 99999) ? "none" : $1 }')"
        lab_log "$c recovery: $recs"
    fi
    client_down $c
done
lab_result lac_kernel "$(bench_lac_kernel)"
lab_log "PASS"
exit 0
