#!/bin/bash
# relay.sh — relay benchmark: mailrelayd vs Postfix 3.7 as a relay, side by side in one run.
#
#   B=build bench/relay.sh           (make bench-relay)
#   N=2000 REPS=3 SESSIONS=20 SIZE=10240 WARMUP=200   (environment, these are the defaults)
#
# On loopback only. Each relay gets the same load from Postfix's smtp-source (SESSIONS
# parallel sessions, N messages of SIZE bytes, one fixed sender, one recipient in the relayed
# domain example.net) and relays everything to its own smtp-sink. Both answer 250 only
# after the message is on disk with fsync (Postfix: cleanup fsyncs the queue file before
# smtpd answers, always; mailrelayd: one message file (data + envelope trailer) fdatasync,
# rename, directory fsync).
#   Postfix:    a private instance (tests/host/lib/postfix_instance.sh: own config, queue, log;
#               master.cf without chroot), relay_domains = example.net, transport_maps sends
#               example.net to [127.0.0.1]:<sink>; everything else Postfix's defaults.
#   mailrelayd: listen on loopback, domains = example.net, [inside] server = the sink,
#               every other key at its default except max_sessions_per_client (200: the
#               load comes from one address, and smtp-source opens a connection per message).
# Runs alternate Postfix / mailrelayd, REPS times each after a WARMUP run each; the medians
# count. Measured (bench/relay_run.py): accepted/s (smtp-source wall time), relayed/s end to
# end (smtp-source start -> the sink counted the last message), CPU seconds of the relay
# (all Postfix processes vs mailrelayd), peak RSS (Postfix: sum over its processes). Then the
# RSS of each with 100 idle sessions (connected, EHLO done). Load average before and after
# every run is recorded: the host may be shared. Writes the "## relay" section of
# bench/RESULTS.md (bench/relay_notes.md is its hand-written reading) and prints as its
# last line:
#   relay: mailrelayd N/s, postfix M/s end to end, ratio R.RR, rss K MB at 100 sessions
# Exit: 0 done and both goals met, 77 skipped (reason on the last line), else failed
# (also when a goal printed in RESULTS.md is "not met" or a mail was lost). Cleans up on every exit.
set -u
. "$(dirname "$0")/results_lib.sh"
. "$(dirname "$0")/../tests/host/lib/common.sh"
cd "$ROOT"
N=${N:-2000} REPS=${REPS:-3} SESSIONS=${SESSIONS:-20} SIZE=${SIZE:-10240} WARMUP=${WARMUP:-200}
IDLE=${IDLE:-100}
RUN="python3 $ROOT/bench/relay_run.py"
source "$ROOT/tests/host/lib/postfix_instance.sh"

[ "$(id -u)" = 0 ] || { echo "skip: needs root (Postfix and mailrelayd)"; exit 77; }
SOURCE=$(command -v smtp-source || ls /usr/lib/postfix/sbin/smtp-source 2>/dev/null)
SINK=$(command -v smtp-sink || ls /usr/lib/postfix/sbin/smtp-sink 2>/dev/null)
[ -n "$SOURCE" ] && [ -n "$SINK" ] || { echo "skip: smtp-source/smtp-sink missing (package postfix)"; exit 77; }
for t in python3 postfix postconf; do
    command -v $t >/dev/null || { echo "skip: $t missing"; exit 77; }
done
id postfix >/dev/null 2>&1 && getent group postdrop >/dev/null || { echo "skip: postfix user/postdrop group missing"; exit 77; }
id nobody >/dev/null 2>&1 || { echo "skip: no user nobody"; exit 77; }
[ -x "$RELAYD" ] || { echo "bench/relay.sh: mailrelayd not built in $B"; exit 1; }

make_work bench-relay
PF=$work/postfix
at_exit 'pf_stop "${PF:-}"'
trap 'exit 130' INT TERM
fail_context() {
    echo "--- Postfix log (last 10 lines)"; tail -n 10 "$PF/maillog" 2>/dev/null
    echo "--- mailrelayd log (last 10 lines)"; tail -n 10 "$work/relayd.log" 2>/dev/null
}

P=$(free_port) PFP=$(free_port) SINK_R=$(free_port) SINK_P=$(free_port)

# --- the two sinks (the relays' next hop) ---------------------------------------------------
for s in R P; do
    port=SINK_$s
    "$SINK" -u nobody -c "127.0.0.1:${!port}" 256 >"$work/sink-$s.log" 2>&1 &
    pids+=("$!")
    wait_for 10 "smtp-sink on ${!port}" port_open "${!port}"
done

# --- mailrelayd -----------------------------------------------------------------------------
cat >"$work/mailtun.conf" <<EOC
[relay]
listen = 127.0.0.1:$P
hostname = mx.example.net
domains = example.net
spool = $work/spool
tls_dir = $work/tls
user = nobody
max_sessions_per_client = 200
control_socket = $work/relayd.sock
mailtund_socket = $work/mailtund.sock

[inside]
server = 127.0.0.1:$SINK_R
EOC
"$RELAYD" -f -c "$work/mailtun.conf" >"$work/relayd.log" 2>&1 &
RPID=$!; pids+=("$RPID")
wait_for 10 "mailrelayd listening" port_open "$P"

# --- Postfix --------------------------------------------------------------------------------
pf_instance "$PF" "$PFP" "relay_domains = example.net" \
    "transport_maps = inline:{ example.net=smtp:[127.0.0.1]:$SINK_P }"
PF_VERSION=$(postconf -c "$PF" -h mail_version)
PMPID=$(tr -d ' ' <"$PF/queue/pid/master.pid")
[ -n "$PMPID" ] && kill -0 "$PMPID" || fail "no Postfix master pid"

# measure KIND N -> one key=value line
measure() {
    if [ "$1" = postfix ]; then
        $RUN run --kind postfix --pid "$PMPID" --port "$PFP" --queue "$PF/queue/incoming" --queue "$PF/queue/active" \
            --sink-log "$work/sink-P.log" --source "$SOURCE" --n "$2" --sessions "$SESSIONS" --size "$SIZE"
    else
        $RUN run --kind mailrelayd --pid "$RPID" --port "$P" --queue "$work/spool/queue" \
            --sink-log "$work/sink-R.log" --source "$SOURCE" --n "$2" --sessions "$SESSIONS" --size "$SIZE"
    fi
}
pf_queue_empty() {   # Postfix's queue: nothing in incoming, active or deferred
    [ -z "$(find "$PF/queue/incoming" "$PF/queue/active" "$PF/queue/deferred" -type f 2>/dev/null | head -n 1)" ]
}

echo "bench: Postfix $PF_VERSION on $PFP, mailrelayd on $P; N=$N x $SIZE bytes, $SESSIONS sessions, $REPS runs each"
for k in postfix mailrelayd; do
    measure $k "$WARMUP" >/dev/null || fail "warm-up run of $k"
done
wait_for 60 "Postfix queue empty after warm-up" pf_queue_empty
declare -A res
for r in $(seq 1 "$REPS"); do
    for k in postfix mailrelayd; do
        [ $k = postfix ] && wait_for 60 "Postfix queue empty" pf_queue_empty
        sync    # dirty pages of the previous run are not this run's cost
        line=$(measure $k "$N") || fail "run $r of $k"
        res[$k,$r]=$line
        echo "run $r $k: $line"
    done
done

# --- idle sessions ----------------------------------------------------------------------------
idle_r=$($RUN idle --kind mailrelayd --pid "$RPID" --port "$P" --n "$IDLE") || fail "idle sessions on mailrelayd"
echo "idle mailrelayd: $idle_r"
idle_p=$($RUN idle --kind postfix --pid "$PMPID" --port "$PFP" --n "$IDLE") || fail "idle sessions on Postfix"
echo "idle postfix: $idle_p"
grep -q "AddressSanitizer\|LeakSanitizer\|runtime error:" "$work/relayd.log" && fail "sanitizer report in mailrelayd's log"

# --- results --------------------------------------------------------------------------------
# val KIND REP KEY; list KIND KEY [scale]; med KIND KEY (median over the runs)
val() { sed -n "s/.*\<$3=\([^ ]*\).*/\1/p" <<<"${res[$1,$2]}"; }
rate() {  # KIND REP KEY -> messages per second
    awk -v n="$(val "$1" "$2" n)" -v s="$(val "$1" "$2" "$3")" 'BEGIN { printf "%.0f", (s > 0 ? n / s : 0) }'
}
series() {  # KIND what -> space separated per run
    local k=$1 w=$2 r out=''
    for r in $(seq 1 "$REPS"); do
        case $w in
        acc) out+="$(rate "$k" "$r" accept_s) ";;
        e2e) out+="$(rate "$k" "$r" e2e_s) ";;
        cpu) out+="$(val "$k" "$r" cpu_s) ";;
        cpumsg) out+="$(awk -v c="$(val "$k" "$r" cpu_s)" -v n="$(val "$k" "$r" n)" 'BEGIN { printf "%.0f", c * 1e6 / n }') ";;
        rss) out+="$(awk -v v="$(val "$k" "$r" rss_kb)" 'BEGIN { printf "%.1f", v / 1024 }') ";;
        pss) out+="$(awk -v v="$(val "$k" "$r" pss_kb)" 'BEGIN { printf "%.1f", v / 1024 }') ";;
        load) out+="$(val "$k" "$r" load_before)/$(val "$k" "$r" load_after) ";;
        esac
    done
    echo "${out% }"
}
median() { tr ' ' '\n' <<<"$1" | grep . | sort -g | awk '{ v[NR] = $1 } END { if (NR % 2) print v[(NR + 1) / 2]; else printf "%g\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
spread() { tr ' ' '\n' <<<"$1" | grep . | sort -g | awk 'NR == 1 { lo = $1 } { hi = $1 } END { print lo "–" hi }'; }
cell() { local s; s=$(series "$1" "$2"); echo "**$(median "$s")** ($(spread "$s"))"; }
kv() { sed -n "s/.*\<$2=\([^ ]*\).*/\1/p" <<<"$1"; }
mb() { awk -v v="$1" 'BEGIN { printf "%.1f", v / 1024 }'; }

r_e2e=$(median "$(series mailrelayd e2e)") p_e2e=$(median "$(series postfix e2e)")
ratio=$(awk -v a="$r_e2e" -v b="$p_e2e" 'BEGIN { printf "%.2f", (b > 0 ? a / b : 0) }')
idle_mb=$(mb "$(kv "$idle_r" rss_kb)")
cpu=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1)
fs=$(df -T "$work" | awk 'NR == 2 { print $2 }')
section=$(mktemp)
{
    echo "## relay"
    echo
    echo "Run: $(date -u '+%Y-%m-%d %H:%M UTC'), \`make bench-relay\` (bench/relay.sh, bench/relay_run.py), mailrelayd $(git -C "$ROOT" describe --always --dirty 2>/dev/null || echo '?')."
    echo "Machine: $(nproc) cores, $cpu; kernel $(uname -r); spools on $fs; Postfix $PF_VERSION. The host was shared with other work: load average (1 min) before/after each run is in the table."
    echo
    echo "Method: loopback only. smtp-source -s $SESSIONS -m $N -l $SIZE (a new connection per message, one sender,"
    echo "one recipient in example.net) into the relay, which relays to its own smtp-sink (the sink's -c counter tells"
    echo "when the last message arrived). Postfix: private instance, relay_domains = example.net, transport_maps to the"
    echo "sink, all else default (its cleanup fsyncs every queue file before smtpd answers 250). mailrelayd: defaults"
    echo "(\`[inside] connections\` = 4) except max_sessions_per_client = 200; 250 only after the message file (data with"
    echo "its envelope as trailer) is fdatasync'ed and renamed and the directory fsync'ed (group commit). After one warm-up run of $WARMUP messages each, $REPS runs each,"
    echo "alternating; **median** (min–max). End to end = smtp-source start -> last message at the sink. CPU = all"
    echo "Postfix processes (master + children, reaped ones via the master's cutime/cstime) vs the mailrelayd process,"
    echo "from the run's start until its queue was empty again. RSS = peak during the run, Postfix summed over its"
    echo "processes (shared pages counted in each; PSS splits them)."
    echo
    echo "| | mailrelayd | Postfix $PF_VERSION |"
    echo "|---|---|---|"
    echo "| relayed end to end (mails/s) | $(cell mailrelayd e2e) | $(cell postfix e2e) |"
    echo "| accepted (mails/s, smtp-source wall time) | $(cell mailrelayd acc) | $(cell postfix acc) |"
    echo "| relay CPU (s per run of $N) | $(cell mailrelayd cpu) | $(cell postfix cpu) |"
    echo "| relay CPU per mail (µs) | $(cell mailrelayd cpumsg) | $(cell postfix cpumsg) |"
    echo "| peak RSS during the run (MB) | $(cell mailrelayd rss) | $(cell postfix rss) |"
    echo "| peak PSS during the run (MB) | $(cell mailrelayd pss) | $(cell postfix pss) |"
    echo "| RSS with $IDLE idle sessions (MB) | **$idle_mb** | $(mb "$(kv "$idle_p" rss_kb)") ($(kv "$idle_p" procs) processes; PSS $(mb "$(kv "$idle_p" pss_kb)")) |"
    echo "| load average before/after each run | $(series mailrelayd load) | $(series postfix load) |"
    echo
    echo "End-to-end ratio mailrelayd / Postfix: **$ratio** (goal ≥ 3); mailrelayd RSS with $IDLE sessions **$idle_mb MB** (goal < 10)."
    echo
    [ -f "$ROOT/bench/relay_notes.md" ] && cat "$ROOT/bench/relay_notes.md"
} >"$section"

results_replace_section relay "$section" "$ROOT/bench/RESULTS.md"

echo "relay: mailrelayd $r_e2e/s, postfix $p_e2e/s end to end, ratio $ratio, rss $idle_mb MB at $IDLE sessions"
# A goal not met is a failed run (the figures are in RESULTS.md all the same). A lost mail
# already failed the run above (relay_run.py exits 1).
missed=$(awk -v r="$ratio" -v m="$idle_mb" 'BEGIN {
    if (r < 3) printf " end-to-end ratio %s < 3;", r
    if (m >= 10) printf " idle RSS %s MB >= 10;", m }')
[ -z "$missed" ] || { echo "bench/relay.sh: goal not met:$missed"; exit 1; }
