# ipsec_lib.sh — strongSwan in the lab (sourced after lib.sh): one charon per namespace.
#
#   lab_ipsec_modules                       xfrm, ESP and the AEAD ciphers, on top of lab_modules
#   lab_charon_up <ns> <name> <swanctl.conf> charon in <ns>, its swanctl.conf loaded
#   lab_swanctl <name> <command> <args...>  swanctl against that charon's VICI socket
#   lab_charon_down <name>                  stop it
#   lab_ipsec_customer_up <ns> <name>       a customer's charon with nothing loaded (mailtund
#                                           loads its key and connection over VICI)
#   lab_ipsec_secret <id>                   the provider kit's pre-shared key for <id>
#   lab_ipsec_psk_file <id> <file>          that key into a root-only file (replaced at once)
#
# Each charon runs in its own mount namespace with a tmpfs on /run (its pid file is fixed at
# /run/charon.pid), with its own strongswan.conf naming its VICI socket
# ($LAB_IPSEC/<name>/charon.vici) and its log (<results>/charon-<name>.log). swanctl.conf takes
# one setting per line. Needs strongswan-charon, strongswan-swanctl and the openssl, gcm and
# curve25519 plugins (libstrongswan-standard-plugins, libstrongswan-extra-plugins).

LAB_IPSEC=/tmp/lab-ipsec                 # sockets: not on /run, which each charon replaces
LAB_CHARON=/usr/lib/ipsec/charon
LAB_IPSEC_KIT=$LAB_SRC/conf/provider/l2tp-ipsec/swanctl.conf   # the provider's, as shipped

lab_ipsec_modules() {
    [ -x "$LAB_CHARON" ] && command -v swanctl >/dev/null ||
        lab_skip "IPsec needs strongSwan (packages strongswan-charon strongswan-swanctl; run tests/deps.sh)"
    # ESP's IV generators take the kernel's default RNG ("stdrng"). In this UML kernel drbg
    # cannot seed itself (jitterentropy fails), so an SA could never be installed ("unable to
    # initialize cryptographic operations"); ansi_cprng, loaded first, becomes stdrng instead.
    modprobe ansi_cprng && modprobe -a xfrm_user xfrm_algo esp4 authenc gcm ctr seqiv echainiv ghash-generic ||
        lab_fail "modprobe of the IPsec modules (ansi_cprng, xfrm_user, esp4, gcm, ...) failed"
}

lab_charon_up() {
    local ns=$1 name=$2 conf=$3 dir=$LAB_IPSEC/$2
    mkdir -p "$dir"
    cat >"$dir/strongswan.conf" <<EOF
charon {
    load_modular = yes
    # one IKE daemon per namespace: no port clash, and no retransmission storm in a slow guest
    retransmit_timeout = 2.0
    retransmit_tries = 4
    plugins {
        include /etc/strongswan.d/charon/*.conf
        vici {
            socket = unix://$dir/charon.vici
        }
    }
    filelog {
        lab {
            path = $LAB_RESULTS/charon-$name.log
            flush_line = yes
            time_format = %H:%M:%S
            time_add_ms = yes
            default = 1
            ike = 2
            cfg = 2
        }
    }
}
EOF
    install -m 600 "$conf" "$dir/swanctl.conf" || lab_fail "cannot install $conf for charon $name"
    # shellcheck disable=SC2016  # expanded by the inner shell
    lab_spawn "$ns" "charon-$name" unshare -m sh -c \
        'mount -t tmpfs tmpfs /run && STRONGSWAN_CONF="$1" exec "$2" --use-syslog no' sh "$dir/strongswan.conf" "$LAB_CHARON"
    LAB_POLL=0.1 lab_wait 20 "charon $name's VICI socket" test -S "$dir/charon.vici"
    lab_swanctl "$name" --load-all --file "$dir/swanctl.conf" >"$LAB_RESULTS/swanctl-load-$name.out" 2>&1 ||
        lab_fail "swanctl --load-all for $name: $(tail -n 3 "$LAB_RESULTS/swanctl-load-$name.out")"
    lab_log "ipsec: charon $name in $ns, $(grep -c 'loaded connection' "$LAB_RESULTS/swanctl-load-$name.out") connection(s) loaded from $conf"
}

# swanctl wants the command first, then its options (--uri among them)
lab_swanctl() { local name=$1 cmd=$2; shift 2; swanctl "$cmd" --uri "unix://$LAB_IPSEC/$name/charon.vici" "$@"; }

lab_charon_down() { lab_stop "charon-$1" 5; }

lab_ipsec_customer_up() {
    : >"$LAB_RUN/swanctl-empty.conf"
    lab_charon_up "$1" "$2" "$LAB_RUN/swanctl-empty.conf"
}

lab_ipsec_secret() {
    awk -v id="$1" '$1 == "id" && $3 == id { f = 1 } f && $1 == "secret" { gsub(/"/, "", $3); print $3; exit }' "$LAB_IPSEC_KIT"
}

lab_ipsec_psk_file() {
    ( umask 077; lab_ipsec_secret "$1" >"$2.new" ) && [ -s "$2.new" ] && mv "$2.new" "$2" ||
        lab_fail "no pre-shared key for $1 in $LAB_IPSEC_KIT"
}
