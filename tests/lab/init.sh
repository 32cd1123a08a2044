#!/bin/bash
# init.sh — PID 1 of the lab guest (user-mode-linux); started by boot.sh as init=<this file>.
#
# Builds a private, writable root (overlay: host / read-only below, tmpfs above), mounts the
# host's results directory read-write through hostfs, makes pppd safe to run (no Debian
# /etc/ppp/options defaults, no host ip-up.d hooks), runs one scenario in a chroot under a
# timeout, writes its exit code to <results>/exit-code and powers the guest off.
#
# Kernel command-line keys it reads (set by boot.sh):
#   mailtun_scenario=<name>   scenario to run: <src>/tests/lab/scenarios/<name>.sh
#   mailtun_results=<dir>     host directory for every log (same path inside the guest)
#   mailtun_src=<dir>         the repository (visible read-only at the same path)
#   mailtun_timeout=<s>       guest-side limit for the scenario (host side has its own)
#   mailtun_packages=<dir>    optional: dpkg -i its mailtun and mailtun-provider .debs into the
#                             overlay first (log: <results>/packages.log); scenarios get LAB_PACKAGES=1
#
# PID 1 must never return: the EXIT trap powers off whatever happens.
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
umask 022

# shellcheck disable=SC2317  # called by the EXIT trap
halt_guest() {
    sync
    exec busybox poweroff -f
}
trap halt_guest EXIT

say() { echo "lab-init: $*"; }

mount -t proc proc /proc || { say "cannot mount /proc"; exit 1; }

scenario='' results='' src='' limit=90 packages=''
for kv in $(cat /proc/cmdline); do
    case $kv in
    mailtun_scenario=*) scenario=${kv#*=};;
    mailtun_results=*)  results=${kv#*=};;
    mailtun_src=*)      src=${kv#*=};;
    mailtun_timeout=*)  limit=${kv#*=};;
    mailtun_packages=*) packages=${kv#*=};;
    esac
done
if [ -z "$scenario" ] || [ -z "$results" ] || [ -z "$src" ]; then
    say "missing mailtun_scenario/mailtun_results/mailtun_src on the kernel command line"
    exit 1
fi

kver=$(uname -r)
mods=/usr/lib/uml/modules/$kver
new=/mnt/root

# 1-2: private writable root: overlay of the read-only host / and a tmpfs.
mount -t tmpfs -o mode=755 tmpfs /mnt || { say "tmpfs on /mnt failed"; exit 1; }
mkdir -p /mnt/upper /mnt/work $new
insmod "$mods/kernel/fs/overlayfs/overlay.ko" || { say "insmod overlay.ko failed"; exit 1; }
mount -t overlay overlay -o "lowerdir=/,upperdir=/mnt/upper,workdir=/mnt/work" $new ||
    { say "overlay mount failed"; exit 1; }

# 3: kernel file systems inside the new root.
mount -t proc proc $new/proc
mount -t sysfs sysfs $new/sys
mount -t devtmpfs devtmpfs $new/dev
mkdir -p $new/dev/pts $new/dev/shm
ln -sfn /proc/self/fd $new/dev/fd           # devtmpfs lacks these; bash's <(...) needs /dev/fd
ln -sfn /proc/self/fd/0 $new/dev/stdin
ln -sfn /proc/self/fd/1 $new/dev/stdout
ln -sfn /proc/self/fd/2 $new/dev/stderr
mount -t devpts -o ptmxmode=666,mode=620 devpts $new/dev/pts
mount -t tmpfs -o mode=1777 tmpfs $new/dev/shm
mount -t tmpfs -o mode=755 tmpfs $new/run
mkdir -p $new/run/lock $new/run/lab

# 4: modprobe finds the UML modules.
mkdir -p $new/usr/lib/modules
ln -sfn "$mods" "$new/usr/lib/modules/$kver"

# 5: results, read-write on the real host, at the same path as on the host.
mkdir -p "$new$results"
mount -t hostfs -o "$results" none "$new$results" || { say "hostfs mount of $results failed"; exit 1; }
# Guest daemons that drop privileges (smtp-sink as nobody) write below results: its parents
# must be searchable even when the tree lives in root's 0700 home (/root/mailtun, as in a
# fresh root). Only the overlay's copies change, never the host's directories.
p=$results
while p=$(dirname "$p") && [ "$p" != / ]; do chmod o+x "$new$p"; done

# pppd in the guest: Debian's /etc/ppp/options says auth/lock/crtscts/modem, and
# /etc/ppp/ip-up.d holds host hooks (Postfix's among them). Replace both in the overlay;
# the ip-up/ip-down scripts only log, so scenarios can see when each end had IPCP up.
cat >$new/etc/ppp/options <<'EOF'
# lab: Debian's defaults (auth, lock, crtscts, modem) blanked; every pppd gets its options explicitly.
EOF
rm -rf $new/etc/ppp/ip-up.d/* $new/etc/ppp/ip-down.d/* $new/etc/ppp/ip-pre-up.d/* \
       $new/etc/ppp/ipv6-up.d/* $new/etc/ppp/ipv6-down.d/*
# Like Debian's, each hook then runs its .d drop-ins (empty unless a scenario installs one,
# as lab_provider_pptpd_up does with conf/provider's).
for hook in ip-up ip-down ip-pre-up; do
    cat >$new/etc/ppp/$hook <<EOF
#!/bin/sh
# lab: logging hook (pppd passes: ifname tty speed local remote ipparam)
echo "\$(date +%s.%N) $hook if=\$1 tty=\$2 speed=\$3 local=\$4 remote=\$5 ipparam=\$6" >>$results/ppp-hooks.log
# the drop-ins, without run-parts' extra process: every fork is dear in this guest
for f in /etc/ppp/$hook.d/*; do [ -x "\$f" ] && PATH=/usr/sbin:/usr/bin:/sbin:/bin "\$f" "\$@"; done
exit 0
EOF
    chmod 755 $new/etc/ppp/$hook
done
: >$new/etc/ppp/chap-secrets
: >$new/etc/ppp/pap-secrets

# make lab PACKAGES=1: the packages go into the overlay as an admin installs them (their
# postinst makes the mailtun user and the spool); without systemd in the guest nothing starts.
if [ -n "$packages" ]; then
    if ! chroot $new /usr/bin/env -i PATH="$PATH" DEBIAN_FRONTEND=noninteractive \
            dpkg -i "$packages"/mailtun_*.deb "$packages"/mailtun-provider_*.deb >"$new$results/packages.log" 2>&1; then
        say "FAIL dpkg -i of the packages in $packages (see $results/packages.log)"
        echo 1 >"$new$results/exit-code"; sync; exit 1
    fi
    say "installed $(cd "$packages" && echo mailtun_*.deb mailtun-provider_*.deb)"
fi

# 6: run the scenario in the new root, bounded; always leave an exit code behind.
read -r up _ </proc/uptime
say "scenario $scenario (limit ${limit}s), guest up ${up}s"
chroot $new /usr/bin/env -i PATH="$PATH" HOME=/root TERM=dumb LANG=C.UTF-8 \
    LAB_SCENARIO="$scenario" LAB_RESULTS="$results" LAB_SRC="$src" LAB_DIR="$src/tests/lab" \
    LAB_PACKAGES="${packages:+1}" \
    /usr/bin/timeout -k 3 "$limit" /bin/bash "$src/tests/lab/scenarios/$scenario.sh" \
    >"$new$results/scenario.log" 2>&1 </dev/null &
runner=$!
# Echo the log on the console without a pipe: a daemon the scenario leaves running would
# hold a pipe open and keep us waiting for the timeout.
tail -n +1 -f --pid=$runner "$new$results/scenario.log" 2>/dev/null &
wait $runner
rc=$?
sleep 0.2
case $rc in 124|137) echo "lab-init: FAIL scenario cut by the guest timeout after ${limit}s (exit $rc)" |
    tee -a "$new$results/scenario.log";; esac
read -r up _ </proc/uptime
say "scenario $scenario exit $rc, guest up ${up}s"

# Let daemons write their last log lines, then keep the kernel's view for debugging.
kill -TERM -1 2>/dev/null
sleep 0.3
dmesg >"$new$results/dmesg.log" 2>&1
echo $rc >"$new$results/exit-code"
sync
exit 0
