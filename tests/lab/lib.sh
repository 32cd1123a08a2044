# lib.sh — shell functions for lab scenarios (sourced; runs inside the UML guest as root).
#
#   . "$LAB_DIR/lib.sh"
#
# Builds the lab's two hosts as network namespaces joined by a veth pair ("the DSL line"),
# starts the provider's real daemons (Debian pptpd + pppd, Postfix) from conf/provider/,
# and offers waits, probes and logging that fail with a clear message. init.sh sets
# LAB_RESULTS (host directory for all logs), LAB_SRC (repository), LAB_DIR (tests/lab).
# Address plan: see tests/lab/README.md and the LAB_* variables below.
# shellcheck disable=SC2034  # the LAB_* variables are for the scenarios that source this

: "${LAB_RESULTS:?LAB_RESULTS not set (run scenarios through tests/lab/boot.sh)}"
: "${LAB_SRC:?LAB_SRC not set}"
LAB_DIR=${LAB_DIR:-$LAB_SRC/tests/lab}
LAB_RUN=/run/lab                         # guest-private state (tmpfs)
LAB_CONF=$LAB_SRC/conf/provider          # the provider's real config files
# make lab PACKAGES=1: the provider's files as mailtun-provider installed them
[ "${LAB_PACKAGES:-}" = 1 ] && LAB_CONF=/usr/share/doc/mailtun-provider/examples
LAB_PY=/usr/bin/python3

# ---- address plan (documentation ranges only) -------------------------------------------
LAB_NS_PROVIDER=provider
LAB_NS_CUSTOMER=customer
LAB_IF_PROVIDER=isp0                     # provider end of the "DSL line" (veth)
LAB_IF_CUSTOMER=dsl0                     # customer's uplink (veth)
LAB_UPLINK_GW=198.51.100.1               # provider side of the DSL line = customer's gateway
LAB_UPLINK_ADDR=198.51.100.2             # customer's dynamic address (lab_uplink_readdress changes it)
LAB_UPLINK_PREFIX=24
LAB_PPTP_SERVER=203.0.113.1              # provider's PPTP server (on the provider's lo)
LAB_PROVIDER_MX=203.0.113.25             # provider's MTA (on the provider's lo)
LAB_PPP_LOCAL=192.0.2.1                  # provider end of the PPP link
LAB_FIXED=192.0.2.10                     # the customer's fixed address (IPCP, pinned in chap-secrets)
LAB_CUSTOMER_DOMAIN=example.net          # routed by the provider MTA to [LAB_FIXED]:25
LAB_PROVIDER_DOMAIN=example.com
# Credentials: the first client line of conf/provider/chap-secrets.
LAB_PPTP_USER=$(awk '!/^[[:space:]]*#/ && NF >= 4 { print $1; exit }' "$LAB_CONF/chap-secrets")
LAB_PPTP_SECRET=$(awk '!/^[[:space:]]*#/ && NF >= 4 { gsub(/"/, "", $3); print $3; exit }' "$LAB_CONF/chap-secrets")
LAB_PPTP_NAME=$(awk '$1 == "name" { print $2; exit }' "$LAB_CONF/pptpd-options")

LAB_T0=${LAB_T0:-$EPOCHREALTIME}
# The guest has one CPU and every fork+exec costs ~50 ms there: a busy poll steals time from
# the daemons it waits for. lab_wait polls every LAB_POLL s; lab_wait_line and lab_listening
# use bash builtins only (no process started).
LAB_POLL=${LAB_POLL:-0.25}
mkdir -p "$LAB_RUN"
# A pipe nobody writes to: "read -t" on it is a sleep without fork+exec.
exec {LAB_SLEEP_FD}<> <(:)

# ---- logging and failing ------------------------------------------------------------------

# lab_now — seconds since the epoch with microseconds (bash's clock, no fork).
lab_now() { echo "$EPOCHREALTIME"; }

# lab_sleep <seconds> — sleep without starting a process.
lab_sleep() { read -r -t "$1" -u "$LAB_SLEEP_FD" _ 2>/dev/null; return 0; }

# lab_elapsed <t0> [t1] — seconds from t0 to t1 (default now), two decimals; t0/t1 as
# printed by lab_now (or date +%s.%N).
lab_elapsed() {
    local a b d
    a=$(lab_us "$1"); b=$(lab_us "${2:-$EPOCHREALTIME}")
    d=$((b - a)); [ $d -lt 0 ] && d=0
    printf '%d.%02d' $((d / 1000000)) $((d % 1000000 / 10000))
}

# lab_us <seconds.fraction> — the same time in integer microseconds.
lab_us() {
    local s=${1%%.*} f=${1#*.}000000
    [ "$s" = "$1" ] && f=000000
    echo $((10#$s * 1000000 + 10#${f:0:6}))
}

# lab_log <message...> — one line on the scenario log, time since the scenario started.
lab_log() { echo "[+$(lab_elapsed "$LAB_T0")s] $*"; }

# lab_fail <message...> — log "FAIL: message" and end the scenario with exit 1.
lab_fail() { lab_log "FAIL: $*"; exit 1; }

# lab_skip <reason...> — end the scenario as skipped (exit 77); the reason is the last line.
lab_skip() { lab_log "SKIP: $*"; exit 77; }

# lab_wait <timeout-s> <description> <command...> — run command every $LAB_POLL s until it
# succeeds; fail the scenario with "timeout after Ns waiting for <description>". For checks
# made of builtins only, poll faster: LAB_POLL=0.05 lab_wait ...
lab_wait() {
    local limit=$1 what=$2; shift 2
    local deadline=$(( ${EPOCHREALTIME/./} + $(lab_us "$limit") ))    # EPOCHREALTIME has 6 decimals
    while ! "$@" >/dev/null 2>&1; do
        [ "${EPOCHREALTIME/./}" -ge $deadline ] && lab_fail "timeout after ${limit}s waiting for $what"
        lab_sleep "$LAB_POLL"
    done
}

# lab_wait_line <timeout-s> <description> <file> <pattern> — wait (builtins only, every
# 0.05 s) until a line of <file> matches the bash glob <pattern>; the line is left in
# LAB_LINE. Fails the scenario on timeout.
lab_wait_line() {
    local limit=$1 what=$2 file=$3 pat=$4 line
    local deadline=$(( ${EPOCHREALTIME/./} + $(lab_us "$limit") ))
    local -a lines
    while :; do
        if [ -r "$file" ]; then
            mapfile -t lines <"$file"
            for line in "${lines[@]}"; do
                # shellcheck disable=SC2053
                [[ $line == $pat ]] && { LAB_LINE=$line; return 0; }
            done
        fi
        [ "${EPOCHREALTIME/./}" -ge $deadline ] && lab_fail "timeout after ${limit}s waiting for $what"
        lab_sleep 0.05
    done
}

# lab_wait_ip_up <timeout-s> <local-address> — wait until a pppd reports IPCP up with that
# local address (init.sh's log-only /etc/ppp/ip-up writes <results>/ppp-hooks.log lines
# "<time> ip-up if=.. tty=.. speed=.. local=.. remote=.. ipparam=.."). Sets LAB_IP_UP_TIME
# (when pppd ran ip-up, seconds since the epoch), LAB_IP_UP_IF and LAB_IP_UP_PEER.
lab_wait_ip_up() {
    lab_wait_line "$1" "IPCP up with local address $2 (ip-up hook)" "$LAB_RESULTS/ppp-hooks.log" "* ip-up * local=$2 *"
    local -a f
    local kv
    read -r -a f <<<"$LAB_LINE"
    LAB_IP_UP_TIME=${f[0]} LAB_IP_UP_IF='' LAB_IP_UP_PEER=''
    for kv in "${f[@]}"; do
        case $kv in if=*) LAB_IP_UP_IF=${kv#if=};; remote=*) LAB_IP_UP_PEER=${kv#remote=};; esac
    done
}

# lab_gone <pid> — true once the process no longer exists.
lab_gone() { ! kill -0 "$1" 2>/dev/null; }

# lab_grep_dir <dir> <pattern> — true if a line of a file in <dir> matches the bash glob
# (builtins only; for polling mail sinks).
lab_grep_dir() {
    local f line
    local -a lines
    for f in "$1"/*; do
        [ -f "$f" ] || continue
        mapfile -t lines <"$f"
        # shellcheck disable=SC2053  # $2 is a glob on purpose
        for line in "${lines[@]}"; do [[ $line == $2 ]] && return 0; done
    done
    return 1
}

# lab_in <customer|provider> <command...> — run a command in one of the lab's hosts.
lab_in() { local ns=$1; shift; ip netns exec "$ns" "$@"; }

# lab_spawn <ns> <name> <command...> — start a daemon in <ns> in the background, output
# appended to <results>/<name>.out; its pid (the command itself: ip netns exec execs it)
# goes to $LAB_RUN/<name>.pid and LAB_PID. Never background lab_in itself: $! would be a
# subshell, and a signal to it would not reach the daemon.
lab_spawn() {
    local ns=$1 name=$2; shift 2
    ip netns exec "$ns" "$@" >>"$LAB_RESULTS/$name.out" 2>&1 </dev/null &
    LAB_PID=$!
    echo $LAB_PID >"$LAB_RUN/$name.pid"
}

# lab_stop <name> [timeout-s] — SIGTERM the daemon lab_spawn started as <name>, wait for it
# to exit (default 5 s), then SIGKILL.
lab_stop() {
    local pid; read -r pid <"$LAB_RUN/$1.pid" 2>/dev/null || return 0
    kill -TERM "$pid" 2>/dev/null || return 0
    local deadline=$(( ${EPOCHREALTIME/./} + $(lab_us "${2:-5}") ))
    while ! lab_gone "$pid"; do
        if [ "${EPOCHREALTIME/./}" -ge $deadline ]; then
            lab_log "$1 (pid $pid) ignored SIGTERM; SIGKILL"; kill -KILL "$pid" 2>/dev/null; return 1
        fi
        lab_sleep 0.05
    done
}

# ---- kernel and network -------------------------------------------------------------------

# lab_modules — load PPP/PPTP/MPPE/GRE/veth; make sure /dev/ppp exists.
lab_modules() {
    modprobe -a ppp_generic ppp_async ppp_mppe pppox gre pptp veth ||
        lab_fail "modprobe of the PPP/PPTP modules failed (is /lib/modules/$(uname -r) linked?)"
    [ -c /dev/ppp ] || mknod -m 600 /dev/ppp c 108 0 || lab_fail "no /dev/ppp and mknod failed"
}

# lab_syslog_up — busybox syslogd writing to <results>/syslog.log (pptpd and pptp log only
# to syslog). Timestamps are whole seconds.
lab_syslog_up() {
    [ -S /dev/log ] && return 0
    busybox syslogd -n -S -O "$LAB_RESULTS/syslog.log" </dev/null >/dev/null 2>&1 &
    echo $! >"$LAB_RUN/syslogd.pid"
    LAB_POLL=0.05 lab_wait 5 "syslogd's /dev/log" test -S /dev/log
}

# lab_net_up — namespaces "provider" and "customer" joined by a veth pair (the DSL line):
# customer dsl0 198.51.100.2/24, default route via 198.51.100.1 (provider isp0);
# provider lo carries the PPTP server 203.0.113.1, the MTA 203.0.113.25 and the PPP local 192.0.2.1.
lab_net_up() {
    local ns
    for ns in $LAB_NS_PROVIDER $LAB_NS_CUSTOMER; do
        ip netns add $ns || lab_fail "ip netns add $ns"
        ip -n $ns link set lo up
        # an idle process inside, so /proc/<pid>/net shows this namespace (lab_listening)
        ip netns exec $ns sleep infinity </dev/null >/dev/null 2>&1 &
        echo $! >"$LAB_RUN/ns-$ns.pid"
    done
    ip link add $LAB_IF_CUSTOMER netns $LAB_NS_CUSTOMER type veth peer name $LAB_IF_PROVIDER netns $LAB_NS_PROVIDER ||
        lab_fail "cannot create the veth pair"
    ip -n $LAB_NS_PROVIDER addr add $LAB_UPLINK_GW/$LAB_UPLINK_PREFIX dev $LAB_IF_PROVIDER
    ip -n $LAB_NS_PROVIDER addr add $LAB_PPTP_SERVER/32 dev lo
    ip -n $LAB_NS_PROVIDER addr add $LAB_PROVIDER_MX/32 dev lo
    # The PPP local address also lives on lo, as on a provider's router: services (Postfix)
    # can listen on it before any tunnel is up; pppd puts it on each ppp link as well.
    ip -n $LAB_NS_PROVIDER addr add $LAB_PPP_LOCAL/32 dev lo
    ip -n $LAB_NS_PROVIDER link set $LAB_IF_PROVIDER up
    ip -n $LAB_NS_CUSTOMER addr add $LAB_UPLINK_ADDR/$LAB_UPLINK_PREFIX dev $LAB_IF_CUSTOMER
    ip -n $LAB_NS_CUSTOMER link set $LAB_IF_CUSTOMER up
    ip -n $LAB_NS_CUSTOMER route add default via $LAB_UPLINK_GW dev $LAB_IF_CUSTOMER ||
        lab_fail "cannot add the customer's default route"
    lab_in $LAB_NS_PROVIDER sysctl -qw net.ipv4.ip_forward=1
    lab_wait 5 "customer reaching the PPTP server $LAB_PPTP_SERVER" \
        lab_in $LAB_NS_CUSTOMER busybox ping -c 1 -W 1 $LAB_PPTP_SERVER
    lab_log "net: customer $LAB_IF_CUSTOMER $LAB_UPLINK_ADDR/$LAB_UPLINK_PREFIX via $LAB_UPLINK_GW reaches PPTP server $LAB_PPTP_SERVER"
}

# lab_uplink_down / lab_uplink_up — pull / plug the customer's DSL line (the veth, customer
# side); lab_uplink_up restores the default route via the gateway.
lab_uplink_down() { ip -n $LAB_NS_CUSTOMER link set $LAB_IF_CUSTOMER down; }
lab_uplink_up() {
    ip -n $LAB_NS_CUSTOMER link set $LAB_IF_CUSTOMER up
    ip -n $LAB_NS_CUSTOMER route replace default via $LAB_UPLINK_GW dev $LAB_IF_CUSTOMER
}

# lab_uplink_readdress <address> — the DSL provider hands out a new dynamic address
# (198.51.100.0/24): the old one goes, the new one comes, the default route is restored.
lab_uplink_readdress() {
    ip -n $LAB_NS_CUSTOMER addr flush dev $LAB_IF_CUSTOMER
    ip -n $LAB_NS_CUSTOMER addr add "$1/$LAB_UPLINK_PREFIX" dev $LAB_IF_CUSTOMER ||
        lab_fail "cannot put $1 on $LAB_IF_CUSTOMER"
    ip -n $LAB_NS_CUSTOMER route replace default via $LAB_UPLINK_GW dev $LAB_IF_CUSTOMER
    LAB_UPLINK_ADDR=$1
}

# lab_base_up — modules, syslog, namespaces: what every scenario needs first.
lab_base_up() {
    lab_modules; lab_log "kernel: PPP, PPTP, MPPE, GRE, veth modules loaded"
    lab_syslog_up; lab_net_up
}

# ---- provider ---------------------------------------------------------------------------

# lab_provider_pptpd_up — Debian's pptpd in the provider namespace with conf/provider/
# installed where a provider would put it (/etc/pptpd.conf, /etc/ppp/pptpd-options,
# /etc/ppp/chap-secrets, /etc/ppp/ip-pre-up.d/ — the guest's /etc is a private overlay). The lab only appends
# logging to pptpd-options (pppd log: <results>/provider-pppd.log) and starts pppd through
# a wrapper that records when pptpd launched it (<results>/provider-pppd-launch.log).
lab_provider_pptpd_up() {
    install -m 644 "$LAB_CONF/pptpd.conf" /etc/pptpd.conf || lab_fail "cannot install $LAB_CONF/pptpd.conf"
    install -m 600 "$LAB_CONF/chap-secrets" /etc/ppp/chap-secrets || lab_fail "cannot install $LAB_CONF/chap-secrets"
    if [ "${LAB_PACKAGES:-}" = 1 ]; then        # the hook as mailtun-provider installed it
        [ -x /etc/ppp/ip-pre-up.d/pptpd-replace-session ] || lab_fail "mailtun-provider did not install its hook"
    else
        install -m 755 "$LAB_CONF/ip-pre-up.d/pptpd-replace-session" /etc/ppp/ip-pre-up.d/ ||
            lab_fail "cannot install $LAB_CONF/ip-pre-up.d/pptpd-replace-session"
    fi
    { cat "$LAB_CONF/pptpd-options"
      echo "# lab additions"
      echo "logfile $LAB_RESULTS/provider-pppd.log"
      echo "debug"
      echo "noipv6          # the lab kernel has no IPv6"
    } >/etc/ppp/pptpd-options
    cat >"$LAB_RUN/provider-pppd" <<EOF
#!/bin/sh
echo "\$(date +%s.%N) pppd \$*" >>$LAB_RESULTS/provider-pppd-launch.log
exec /usr/sbin/pppd "\$@"
EOF
    chmod 755 "$LAB_RUN/provider-pppd"
    lab_spawn $LAB_NS_PROVIDER pptpd pptpd --fg --debug --conf /etc/pptpd.conf \
        --ppp "$LAB_RUN/provider-pppd" --pidfile "$LAB_RUN/pptpd.pidfile"
    LAB_POLL=0.05 lab_wait 10 "pptpd listening on $LAB_PPTP_SERVER:1723" lab_listening $LAB_NS_PROVIDER $LAB_PPTP_SERVER 1723
    lab_log "provider: pptpd on $LAB_PPTP_SERVER:1723 (${LAB_CONF#"$LAB_SRC"/}/pptpd.conf), pppd log provider-pppd.log"
}

# lab_l2tp_modules — the kernel's L2TP data path (l2tp_core, l2tp_ppp; this kernel has no
# separate l2tp_netlink module), for xl2tpd's kernel mode and mailtund's tunnel.
lab_l2tp_modules() {
    modprobe -a l2tp_core l2tp_ppp || lab_fail "modprobe l2tp_core l2tp_ppp failed"
}

# lab_provider_xl2tpd_up — Debian's xl2tpd as the provider's LNS in the provider namespace
# with conf/provider/l2tp/ installed where a provider would put it (/etc/xl2tpd/xl2tpd.conf,
# /etc/ppp/options.xl2tpd, /etc/ppp/chap-secrets, the replace hook in /etc/ppp/ip-pre-up.d/).
# The lab only appends logging to options.xl2tpd (pppd log: <results>/provider-pppd.log) and
# gives xl2tpd its own pid and control files; its log is xl2tpd.out.
lab_provider_xl2tpd_up() {
    lab_l2tp_modules
    mkdir -p /etc/xl2tpd /var/run/xl2tpd
    install -m 644 "$LAB_CONF/l2tp/xl2tpd.conf" /etc/xl2tpd/xl2tpd.conf || lab_fail "cannot install $LAB_CONF/l2tp/xl2tpd.conf"
    lab_provider_l2tp_ppp
    command -v xl2tpd >/dev/null || lab_skip "xl2tpd is not installed (tests/deps.sh)"
    local started; started=$(grep -c 'Listening on IP address' "$LAB_RESULTS/xl2tpd.out" 2>/dev/null)
    rm -f "$LAB_RUN/l2tp-control"
    lab_spawn $LAB_NS_PROVIDER xl2tpd xl2tpd -D -c /etc/xl2tpd/xl2tpd.conf -p "$LAB_RUN/xl2tpd.own.pid" \
        -C "$LAB_RUN/l2tp-control"
    lab_wait 10 "xl2tpd listening" eval '[ "$(grep -c "Listening on IP address" "$LAB_RESULTS/xl2tpd.out")" -gt "${started:-0}" ]'
    lab_log "provider: xl2tpd on $LAB_PPTP_SERVER:1701 (${LAB_CONF#"$LAB_SRC"/}/l2tp/xl2tpd.conf), pppd log provider-pppd.log"
}

# lab_provider_l2tp_ppp — the PPP side of the provider's L2TP server: chap-secrets, the replace
# hook and /etc/ppp/options.xl2tpd (+ logging to provider-pppd.log), for xl2tpd's pppd or a
# scripted LNS's (peers/fake_lns.py --pppd).
lab_provider_l2tp_ppp() {
    install -m 600 "$LAB_CONF/chap-secrets" /etc/ppp/chap-secrets || lab_fail "cannot install $LAB_CONF/chap-secrets"
    if [ "${LAB_PACKAGES:-}" != 1 ]; then
        install -m 755 "$LAB_CONF/ip-pre-up.d/pptpd-replace-session" /etc/ppp/ip-pre-up.d/ ||
            lab_fail "cannot install $LAB_CONF/ip-pre-up.d/pptpd-replace-session"
    fi
    { cat "$LAB_CONF/l2tp/options.xl2tpd"
      echo "# lab additions"
      echo "logfile $LAB_RESULTS/provider-pppd.log"
      echo "debug"
      echo "noipv6          # the lab kernel has no IPv6"
    } >/etc/ppp/options.xl2tpd
}

# lab_provider_up — the provider's tunnel server for $MT_TRANSPORT (pptp: pptpd, the default;
# l2tp: xl2tpd), so one scenario can run over either (the l2tp-* wrappers set it). Sets
# LAB_PROVIDER_DAEMON (its lab_spawn name) and LAB_PROVIDER_PPP_OPTIONS (its pppd options file).
lab_provider_up() {
    if [ "${MT_TRANSPORT:-pptp}" = l2tp ]; then
        LAB_PROVIDER_DAEMON=xl2tpd LAB_PROVIDER_PPP_OPTIONS=/etc/ppp/options.xl2tpd
        lab_provider_xl2tpd_up
    else
        LAB_PROVIDER_DAEMON=pptpd LAB_PROVIDER_PPP_OPTIONS=/etc/ppp/pptpd-options
        lab_provider_pptpd_up
    fi
}
# lab_provider_listening — the provider's tunnel server takes calls (TCP 1723 for pptpd; for
# xl2tpd, whose UDP socket lab_listening cannot see, its process being there).
lab_provider_listening() {
    if [ "${MT_TRANSPORT:-pptp}" = l2tp ]; then
        local pid; read -r pid <"$LAB_RUN/xl2tpd.pid" 2>/dev/null && ! lab_gone "$pid"
    else
        lab_listening $LAB_NS_PROVIDER $LAB_PPTP_SERVER 1723
    fi
}

# lab_provider_postfix_up — the provider MTA: a Postfix instance in the provider namespace,
# config dir $LAB_RUN/provider-postfix (paths templated), listening on 203.0.113.25 and
# 192.0.2.1, relaying example.net through conf/provider/postfix's transport map to
# [192.0.2.10]:25. Log: <results>/provider-postfix.log (maillog_file; no syslog needed).
lab_provider_postfix_up() {
    local d=$LAB_RUN/provider-postfix
    [ "${LAB_POSTFIX_RETRY:-}" = slow ] && LAB_POSTFIX_RETRY_S=3600
    mkdir -p "$d/spool" "$d/data"
    chown postfix "$d/data"
    cat >"$d/main.cf" <<EOF
# lab: the instance's own paths and addresses
compatibility_level = 3.6
queue_directory = $d/spool
data_directory = $d/data
mail_owner = postfix
setgid_group = postdrop
myhostname = mx.$LAB_PROVIDER_DOMAIN
mydomain = $LAB_PROVIDER_DOMAIN
mydestination = localhost
inet_interfaces = $LAB_PROVIDER_MX, $LAB_PPP_LOCAL
inet_protocols = ipv4
alias_maps =
alias_database =
smtp_dns_support_level = disabled
maillog_file_prefixes = $LAB_RESULTS
maillog_file = $LAB_RESULTS/provider-postfix.log
smtpd_banner = \$myhostname ESMTP provider-lab
# quick retries: a lab run lasts seconds (LAB_POSTFIX_RETRY=slow: a real provider's hour,
# so that only ETRN can bring held mail over quickly)
queue_run_delay = ${LAB_POSTFIX_RETRY_S:-2}s
minimal_backoff_time = ${LAB_POSTFIX_RETRY_S:-2}s
maximal_backoff_time = $(( ${LAB_POSTFIX_RETRY_S:-2} * 2 ))s

# SMTP AUTH for relaying customers (the kit's main.cf enables it): Cyrus SASL with a sasldb
# in the instance's directory (Debian's Postfix reads /etc/postfix/sasl/smtpd.conf)
cyrus_sasl_config_path = $d/sasl

# ---- conf/provider/postfix/main.cf ----
EOF
    # the provider's own certificate for its smtpd (the kit names Debian's snakeoil pair)
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 \
        -subj "/CN=mx.$LAB_PROVIDER_DOMAIN" -keyout "$d/smtpd.key" -out "$d/smtpd.crt" \
        >"$LAB_RESULTS/provider-openssl.log" 2>&1 || lab_fail "cannot make the provider's smtpd certificate"
    mkdir -p "$d/sasl"
    printf 'pwcheck_method: auxprop\nauxprop_plugin: sasldb\nsasldb_path: %s\nmech_list: PLAIN LOGIN\n' \
        "$d/sasldb2" >"$d/sasl/smtpd.conf"
    sed -e "s|/etc/postfix/|$d/|g" -e "s|/etc/ssl/certs/ssl-cert-snakeoil.pem|$d/smtpd.crt|" \
        -e "s|/etc/ssl/private/ssl-cert-snakeoil.key|$d/smtpd.key|" "$LAB_CONF/postfix/main.cf" >>"$d/main.cf"
    cp /usr/share/postfix/master.cf.dist "$d/master.cf"
    postconf -c "$d" -F '*/*/chroot = n'
    { echo "# ---- conf/provider/postfix/master.cf ----"; cat "$LAB_CONF/postfix/master.cf"; } >>"$d/master.cf"
    # LAB_POSTFIX_TUNNEL_TLS: another TLS level for the tunnel transport (the baseline's
    # customer is no mailtun and has no TLS)
    [ -n "${LAB_POSTFIX_TUNNEL_TLS:-}" ] && postconf -c "$d" -P "tunnel/unix/smtp_tls_security_level=$LAB_POSTFIX_TUNNEL_TLS"
    cp "$LAB_CONF/postfix/transport" "$LAB_CONF/postfix/tls_policy" "$LAB_CONF/postfix/tunnel_pool.cidr" "$d/"
    lab_in $LAB_NS_PROVIDER postmap -c "$d" "hash:$d/transport" "hash:$d/tls_policy" ||
        lab_fail "postmap of the provider transport/tls_policy maps failed"
    # What "postfix start" would do, without its minutes of shell checks under UML:
    # the queue directories, then the master daemon (-w: return once it is ready).
    local q=$d/spool
    mkdir -p $q/incoming $q/active $q/deferred $q/bounce $q/defer $q/trace $q/flush $q/hold \
        $q/corrupt $q/saved $q/private $q/public $q/maildrop $q/pid
    chown postfix $q/incoming $q/active $q/deferred $q/bounce $q/defer $q/trace $q/flush $q/hold \
        $q/corrupt $q/saved $q/private $q/public $q/maildrop
    chgrp postdrop $q/public $q/maildrop
    chmod 700 $q/incoming $q/active $q/deferred $q/bounce $q/defer $q/trace $q/flush $q/hold \
        $q/corrupt $q/saved $q/private
    chmod 710 $q/public; chmod 730 $q/maildrop
    lab_in $LAB_NS_PROVIDER /usr/lib/postfix/sbin/master -c "$d" -w >>"$LAB_RESULTS/provider-postfix-start.log" 2>&1 ||
        lab_fail "provider Postfix did not start: $(tail -n 3 "$LAB_RESULTS/provider-postfix.log" "$LAB_RESULTS/provider-postfix-start.log" 2>/dev/null)"
    LAB_POLL=0.05 lab_wait 15 "provider Postfix on $LAB_PROVIDER_MX:25" lab_listening $LAB_NS_PROVIDER $LAB_PROVIDER_MX 25
    lab_log "provider: Postfix (config $d) on $LAB_PROVIDER_MX:25 and $LAB_PPP_LOCAL:25, log provider-postfix.log"
}

# lab_provider_pin LINE — the provider's half of the fingerprint hand-over (conf/provider/README.md):
# append the customer's `mailtunctl tls --policy` line to tls_policy and postmap it.
lab_provider_pin() {
    local d=$LAB_RUN/provider-postfix
    echo "$1" >>"$d/tls_policy"
    lab_in $LAB_NS_PROVIDER postmap -c "$d" "hash:$d/tls_policy" || lab_fail "postmap of tls_policy failed"
}

# lab_provider_sasl_user USER@DOMAIN PASSWORD — an SMTP AUTH account at the provider (relaying).
lab_provider_sasl_user() {
    local d=$LAB_RUN/provider-postfix
    printf '%s' "$2" | saslpasswd2 -c -p -f "$d/sasldb2" -u "${1#*@}" "${1%@*}" || lab_fail "saslpasswd2 for $1"
    chown postfix "$d/sasldb2"; chmod 600 "$d/sasldb2"
}

# lab_provider_verified_pushes — true when every delivery to the fixed address went over a TLS
# session whose key matched the pin: each smtp process that logged status=sent for
# [LAB_FIXED] logged "Verified TLS connection established to" it first. Prints the counts.
lab_provider_verified_pushes() {
    awk -v fixed="$LAB_FIXED" '
        { pid = $5; sub(/:$/, "", pid) }
        index($0, "Verified TLS connection established to " fixed "[" fixed "]") { v[pid] = 1; nv++ }
        index($0, "relay=" fixed "[" fixed "]") && /status=sent/ { ns++; if (!(pid in v)) bad++ }
        END { printf "%d pushes, %d verified TLS sessions, %d without\n", ns, nv, bad; exit !(ns > 0 && bad == 0) }
    ' "$LAB_RESULTS/provider-postfix.log"
}

# lab_provider_postfix_queue — print the provider Postfix queue (postqueue -p).
lab_provider_postfix_queue() { postqueue -c "$LAB_RUN/provider-postfix" -p; }

# ---- customer (comparison peer) ------------------------------------------------------------

# lab_customer_pptp_linux_up [extra pppd options...] — dial the provider from the customer
# namespace with Debian's pptp (pptp-linux) client under pppd (nodetach, in the background):
# MS-CHAPv2, require-mppe-128, noauth. pppd's log: <results>/customer-pppd.log; its pid:
# $LAB_RUN/customer-pppd.pid. Returns at once; wait for the address with lab_wait_ip_up.
lab_customer_pptp_linux_up() {
    lab_spawn $LAB_NS_CUSTOMER customer-pppd pppd nodetach \
        pty "pptp $LAB_PPTP_SERVER --nolaunchpppd --loglevel 1" \
        name "$LAB_PPTP_USER" remotename "$LAB_PPTP_NAME" \
        noauth refuse-pap refuse-chap refuse-mschap refuse-eap require-mppe-128 \
        nobsdcomp nodeflate novj novjccomp nodefaultroute noipdefault noipv6 \
        lcp-echo-interval 10 lcp-echo-failure 3 ipparam pptp-linux \
        logfile "$LAB_RESULTS/customer-pppd.log" debug "$@"
}

# lab_customer_pppd_down — hang up: SIGTERM the customer's pppd, wait up to 5 s for it.
lab_customer_pppd_down() { lab_stop customer-pppd 5; }

# lab_ifaddr <ns> <ifname> — print the interface's IPv4 address (empty if none).
lab_ifaddr() {
    ip -n "$1" -4 -o addr show dev "$2" 2>/dev/null | awk '{ sub(/\/.*/, "", $4); print $4; exit }'
}

# lab_has_addr <ns> <ifname> <address> — true if the interface has that IPv4 address.
lab_has_addr() { [ "$(lab_ifaddr "$1" "$2")" = "$3" ]; }

# lab_listening <ns> <addr> <port> — true if a TCP socket listens on addr:port in <ns>
# (reads /proc/<anchor>/net/tcp of a process living in that namespace: no exec).
lab_listening() {
    local pid a b c d want local_addr st
    read -r pid <"$LAB_RUN/ns-$1.pid" 2>/dev/null || return 1
    IFS=. read -r a b c d <<<"$2"
    printf -v want '%02X%02X%02X%02X:%04X' "$d" "$c" "$b" "$a" "$3"
    while read -r _ local_addr _ st _; do
        [ "$local_addr" = "$want" ] && [ "$st" = 0A ] && return 0
    done <"/proc/$pid/net/tcp"
    return 1
}

# ---- TCP listener and probe ----------------------------------------------------------------

# lab_tcp_listen <ns> <addr> <port> <name> — start tests/lab/tcp.py as a listener in <ns>
# (greets "lab-listener <name>", logs accepted peers to <results>/tcp-<name>.out). The
# address may appear later (IP_FREEBIND). Returns once the socket is listening.
lab_tcp_listen() {
    local ns=$1 addr=$2 port=$3 name=$4
    rm -f "$LAB_RUN/tcp-$name.ready"
    lab_spawn "$ns" "tcp-$name" $LAB_PY "$LAB_DIR/tcp.py" listen "$addr" "$port" "$name" "$LAB_RUN/tcp-$name.ready"
    LAB_POLL=0.05 lab_wait 5 "TCP listener $name on $addr:$port" test -e "$LAB_RUN/tcp-$name.ready"
}

# lab_tcp_probe <ns> <addr> <port> [timeout-s] — connect from <ns>; print the greeting;
# true if one arrived.
lab_tcp_probe() { lab_in "$1" $LAB_PY "$LAB_DIR/tcp.py" probe "$2" "$3" "${4:-3}"; }

# lab_reach_loop <ns> <addr> <port> <limit-s> — from <ns>, connect to a lab_tcp_listen
# listener every 0.2 s (0.5 s connect timeout) until it greets; prints the epoch time of
# success, fails (status 1) after <limit-s>. One Python process: a fork per try would slow
# the guest's one CPU.
lab_reach_loop() {
    lab_in "$1" $LAB_PY - "$2" "$3" "$4" <<'PY'
import socket, sys, time
addr, port, limit = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
end = time.time() + limit
while time.time() < end:
    try:
        with socket.create_connection((addr, port), timeout=0.5) as s:
            s.settimeout(2)
            if s.recv(100).startswith(b"lab-listener"):
                print(f"{time.time():.6f}"); sys.exit(0)
    except OSError:
        time.sleep(0.2)
sys.exit(1)
PY
}

# ---- results --------------------------------------------------------------------------------

# lab_result <key> <value> — append key=value to <results>/timing.txt (read by demo.sh, bench).
lab_result() { echo "$1=$2" >>"$LAB_RESULTS/timing.txt"; }
