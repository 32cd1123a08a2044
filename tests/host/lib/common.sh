# common.sh — the scaffolding every host test (and bench/relay.sh) shares; sourced first:
#
#     . "$(dirname "$0")/lib/common.sh"            a test in tests/host/
#     . "$ROOT/tests/host/lib/common.sh"           anything else
#
# Sets ROOT (the source tree), B (the build directory, made absolute), RELAYD, TUNNELD, CTL.
#
#   skip REASON             exit 77; the reason is the last line, as tests/run.sh wants it
#   need_root WHY           skip unless root
#   need_cmd CMD...         skip naming the first command that is missing
#   need_relayd WHY [CMD...]  a test running mailrelayd: skip unless root (WHY), the user nobody
#                           (mailrelayd drops to it) and the CMDs; exit 1 if mailrelayd is not built
#   need_sink               SINK: Postfix's smtp-sink (for sink_start); skip if it is missing
#   make_work NAME          $work: a new directory /tmp/NAME.XXXXXX, mode 755 (the daemons drop to
#                           nobody), removed on exit unless KEEP=1
#   pids+=(PID)             killed (SIGKILL) on exit
#   at_exit CMD...          run on exit, before the pids are killed, in the order added
#   fail MSG                prints "FAIL: MSG", then calls fail_context if the test defines it
#                           (default: the last 30 lines of $work/relayd.log), exits 1
#   ok MSG                  prints "ok: MSG"
#   wait_for SECS WHAT CMD...   polls CMD every 0.1 s; fail names WHAT after SECS
#   free_port               a port no socket uses now, below the kernel's ephemeral range (so no
#                           outgoing connection can take it before our server binds it), and
#                           claimed for this test (a directory under /tmp/mailtun-ports) so two
#                           tests running at once never get the same one; released on exit
#   port_open PORT [HOST]   true while something accepts on HOST (127.0.0.1):PORT
#   sink_start DUMP PORT [opts]  Postfix's smtp-sink ($SINK) on 127.0.0.1:PORT dumping each mail
#                           into DUMP (log: $work/sink.log), SINK_PID set, killed on exit;
#   sink_stop               kill it now
#   write_relay_conf [DIR] <<EOC   DIR/mailtun.conf (DIR: $work) for mailrelayd, path in $CONF:
#                           [relay] listening on 127.0.0.1:$P as mx.test for example.net, user
#                           nobody, spool, tls_dir and both sockets in DIR; then the lines on
#                           stdin. Those before their first [section] join [relay], and a key
#                           set there replaces its default (the parser refuses a key set twice)
#   start_relayd CONF [LOG] mailrelayd -f -c CONF in the background (log: $work/relayd.log),
#                           RPID set and added to pids; with $P set, waits until it listens there

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../../.." && pwd)
B=${B:-build}
case $B in /*) ;; *) B=$ROOT/$B;; esac
RELAYD=$B/mailrelay/mailrelayd
TUNNELD=$B/tunneld/mailtund
CTL=$B/ctl/mailtunctl

skip() { echo "skip: $*"; exit 77; }
need_root() { [ "$(id -u)" = 0 ] || skip "needs root ($*)"; }
need_cmd() {
    local c
    for c in "$@"; do command -v "$c" >/dev/null 2>&1 || skip "$c missing (run tests/deps.sh)"; done
}

need_relayd() {
    need_root "$1"; shift
    need_cmd "$@"
    id nobody >/dev/null 2>&1 || skip "no user nobody (mailrelayd drops to it)"
    [ -x "$RELAYD" ] || { echo "mailrelayd not built in $B"; exit 1; }
}
need_sink() {
    SINK=$(command -v smtp-sink || ls /usr/sbin/smtp-sink /usr/lib/postfix/sbin/smtp-sink 2>/dev/null | head -n 1)
    [ -n "$SINK" ] || skip "smtp-sink (postfix) missing (run tests/deps.sh)"
}

pids=()
_exit_hooks=()
at_exit() { _exit_hooks+=("$*"); }
_common_cleanup() {
    local h p
    for h in "${_exit_hooks[@]}"; do eval "$h"; done
    for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null; done
    wait 2>/dev/null
    grep -lx "$$" /tmp/mailtun-ports/*/owner 2>/dev/null | xargs -r dirname | xargs -r rm -rf
    [ -n "${work:-}" ] && [ "${KEEP:-0}" != 1 ] && rm -rf "$work"
    return 0
}
trap _common_cleanup EXIT
trap 'exit 1' INT TERM HUP

make_work() {
    work=$(mktemp -d "/tmp/$1.XXXXXX") || { echo "cannot create a work directory"; exit 1; }
    chmod 755 "$work"
}

fail() {
    echo "FAIL: $*"
    if declare -F fail_context >/dev/null; then
        fail_context
    elif [ -f "${work:-/nonexistent}/relayd.log" ]; then
        echo "--- mailrelayd log (last 30 lines)"; tail -n 30 "$work/relayd.log"
    fi
    exit 1
}
ok() { echo "ok: $*"; }

wait_for() {
    local secs=$1 what=$2; shift 2
    local end=$((SECONDS + secs))
    until "$@" >/dev/null 2>&1; do
        [ $SECONDS -ge $end ] && fail "timeout after ${secs}s waiting for: $what"
        sleep 0.1
    done
}

# A claim is a directory naming its owner (the test's shell, $$ even in a subshell); a claim
# whose owner is gone (a test killed hard) is taken over.
_claim_port() {
    local d=/tmp/mailtun-ports/$1 owner
    if ! mkdir "$d" 2>/dev/null; then
        owner=$(cat "$d/owner" 2>/dev/null)
        [ -n "$owner" ] && kill -0 "$owner" 2>/dev/null && return 1
    fi
    echo "$$" >"$d/owner"
}
free_port() {
    local p lo
    lo=$(cut -f1 /proc/sys/net/ipv4/ip_local_port_range 2>/dev/null)
    lo=${lo:-32768}
    mkdir -p /tmp/mailtun-ports
    for _ in $(seq 200); do
        p=$((lo - 12000 + RANDOM % 12000))
        ss -Hatun "sport = :$p" 2>/dev/null | grep -q . && continue
        _claim_port "$p" || continue
        echo "$p"; return 0
    done
    echo "free_port: no free port found" >&2; echo 0
}

port_open() { timeout 2 bash -c "exec 3<>/dev/tcp/${2:-127.0.0.1}/$1" 2>/dev/null; }

write_relay_conf() {
    local dir=${1:-$work} line key d
    local -a extra
    local -A given=()
    mapfile -t extra
    for line in "${extra[@]}"; do
        case $line in '['*) break;; esac
        key=${line%%=*}
        key=${key%"${key##*[! ]}"}
        [ -z "$key" ] || given[$key]=1
    done
    CONF=$dir/mailtun.conf
    {
        echo "[relay]"
        for d in "listen = 127.0.0.1:${P:-}" "hostname = mx.test" "domains = example.net" \
                 "spool = $dir/spool" "tls_dir = $dir/tls" "user = nobody" \
                 "control_socket = $dir/relayd.sock" "mailtund_socket = $dir/mailtund.sock"; do
            [ -n "${given[${d%% = *}]:-}" ] || echo "$d"
        done
        printf '%s\n' "${extra[@]}"
    } >"$CONF"
}

start_relayd() {
    "$RELAYD" -f -c "$1" >>"${2:-$work/relayd.log}" 2>&1 &
    RPID=$!; pids+=("$RPID")
    [ -z "${P:-}" ] || wait_for 10 "mailrelayd listening on $P" port_open "$P"
}

SINK_PID=
at_exit '[ -n "$SINK_PID" ] && kill -9 "$SINK_PID" 2>/dev/null'
sink_start() {
    local dump=$1 port=$2; shift 2
    mkdir -p "$dump"; chmod 777 "$dump"
    "$SINK" -u nobody -d "$dump/%M." "$@" "127.0.0.1:$port" 16 >>"$work/sink.log" 2>&1 &
    SINK_PID=$!
    wait_for 5 "smtp-sink on port $port" port_open "$port"
}
sink_stop() { kill -9 "$SINK_PID" 2>/dev/null; wait "$SINK_PID" 2>/dev/null; SINK_PID=; }
