# root.sh — build, enter and remove a fresh Debian 12 root: what a new user's machine looks like.
#
# Source it from bash (`. tests/fresh/root.sh`), as root. Functions:
#
#   fresh_root_create DIR     DIR (must not exist) becomes a minbase bookworm root built by
#                             mmdebstrap from this machine's Debian apt sources (or $FRESH_SOURCES),
#                             plus what a Debian installer leaves that minbase lacks (/etc/hosts)
#                             and a policy-rc.d that keeps package scripts from starting daemons
#                             in the host's network (a chroot has no init of its own).
#                             The base is cached as a tarball (see FRESH_CACHE below).
#   fresh_root_run DIR CMD... runs CMD inside DIR as root with a clean environment (PATH, HOME,
#                             TERM) in a private mount namespace holding: DIR bound onto itself
#                             (so `/` is a mount point, which `ip netns exec` needs), proc, sysfs,
#                             /dev (bound), its own devpts, tmpfs on /dev/shm (UML's memory file)
#                             and /run. They are unmounted when CMD ends, and because they live in
#                             their own namespace they cannot outlive it nor show on the host.
#                             Returns CMD's exit status.
#   fresh_root_remove DIR     kills what still runs inside DIR, then removes it (never crossing
#                             into another filesystem). Safe to call twice or on a half-made DIR.
#   fresh_root_cleanup_on_exit DIR
#                             removes DIR when the calling script exits, however it exits.
#
# To put files in: write them under DIR (e.g. `git archive HEAD | tar -x -C DIR/root/src`, or
# `cp *.deb DIR/tmp/`) before fresh_root_run.
#
# Environment:
#   FRESH_SOURCES      apt sources for the root (one-line or deb822 file); default the
#                      machine's /etc/apt/sources.list.d/debian.sources, else /etc/apt/sources.list
#   FRESH_CACHE        directory for the base tarball (default /var/cache/mailtun-fresh);
#                      "none" builds a new base every time. Only the minbase from mmdebstrap is
#                      cached, never anything of the project's.
#   FRESH_CACHE_DAYS   a cached base older than this is rebuilt (default 7: security updates)
#
# Needs: mmdebstrap (tests/deps.sh, group packaging), unshare and chroot (util-linux, coreutils), root.

fresh__say() { echo "fresh-root: $*" >&2; }

fresh__sources() {
    if [ -n "${FRESH_SOURCES:-}" ]; then echo "$FRESH_SOURCES"
    elif [ -f /etc/apt/sources.list.d/debian.sources ]; then echo /etc/apt/sources.list.d/debian.sources
    else echo /etc/apt/sources.list
    fi
}

# Print the path of a minbase tarball, building (and caching) it when needed.
fresh__base() {
    local sources cache key tar tmp
    sources=$(fresh__sources)
    [ -r "$sources" ] || { fresh__say "apt sources not readable: $sources"; return 1; }
    command -v mmdebstrap >/dev/null ||
        { fresh__say "mmdebstrap not installed (make deps installs it: tests/deps.sh, group packaging)"; return 1; }
    cache=${FRESH_CACHE:-/var/cache/mailtun-fresh}
    if [ "$cache" = none ]; then
        cache=$(mktemp -d /var/tmp/mailtun-fresh-base.XXXXXX) || return 1
    fi
    mkdir -p "$cache" || return 1
    # The sources' content is part of the key: another mirror or suite is another base.
    key=$(cat "$sources" | sha256sum | cut -c1-12)
    tar=$cache/bookworm-minbase-$key.tar
    if [ -f "$tar" ] && [ -z "$(find "$tar" -mtime +"${FRESH_CACHE_DAYS:-7}")" ]; then
        fresh__say "base: $tar (cached)"
    else
        fresh__say "base: mmdebstrap --variant=minbase bookworm from $sources"
        tmp=$tar.tmp.$$
        mmdebstrap --quiet --variant=minbase bookworm "$tmp" "$sources" || { rm -f "$tmp"; return 1; }
        mv -f "$tmp" "$tar"
    fi
    echo "$tar"
}

fresh_root_create() {
    local dir=${1:?fresh_root_create DIR} base
    [ "$(id -u)" = 0 ] || { fresh__say "needs root (chroot, mounts)"; return 1; }
    [ -e "$dir" ] && { fresh__say "$dir exists; refusing to build a root over it"; return 1; }
    base=$(fresh__base) || return 1
    mkdir -p "$dir" && tar -C "$dir" --numeric-owner -xpf "$base" || return 1
    # What the Debian installer writes and minbase (no netbase) does not have.
    [ -e "$dir/etc/hosts" ] || printf '127.0.0.1\tlocalhost\n::1\t\tlocalhost ip6-localhost ip6-loopback\n' >"$dir/etc/hosts"
    cp -L /etc/resolv.conf "$dir/etc/resolv.conf"
    # Package scripts would start pptpd, postfix, ... in the host's network namespace and
    # leave them running: on a real machine init owns them, here nothing would.
    printf '#!/bin/sh\n# fresh root: no daemons from package scripts (tests/fresh/root.sh)\nexit 101\n' \
        >"$dir/usr/sbin/policy-rc.d"
    chmod 755 "$dir/usr/sbin/policy-rc.d"
}

fresh_root_run() {
    local dir=${1:?fresh_root_run DIR CMD...}; shift
    dir=$(realpath "$dir") || return 1
    [ -x "$dir/bin/sh" ] || { fresh__say "$dir is not a root (no /bin/sh)"; return 1; }
    # shellcheck disable=SC2016
    unshare --mount --propagation private -- /bin/bash -c '
        d=$1; shift
        undo() {
            for m in run dev/shm dev/ptmx dev/pts dev sys proc ""; do
                mountpoint -q "$d/$m" && umount -l "$d/$m"
            done
        }
        trap undo EXIT
        set -e
        mount --bind "$d" "$d"
        mount -t proc proc "$d/proc"
        mount -t sysfs sysfs "$d/sys"
        mount --bind /dev "$d/dev"
        mount -t devpts -o newinstance,ptmxmode=0666,mode=0620,gid=5 devpts "$d/dev/pts"
        mount --bind "$d/dev/pts/ptmx" "$d/dev/ptmx"
        mount -t tmpfs -o mode=1777 tmpfs "$d/dev/shm"
        mount -t tmpfs -o mode=0755 tmpfs "$d/run"
        set +e
        chroot "$d" /usr/bin/env -i PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
            HOME=/root TERM="${TERM:-dumb}" "$@"
    ' fresh-root "$dir" "$@"
}

fresh_root_remove() {
    local dir=${1:?fresh_root_remove DIR} p n
    [ -d "$dir" ] || return 0
    dir=$(realpath "$dir")
    # Whatever the run left behind (a postfix master, a UML guest) runs with DIR as its root.
    for n in TERM KILL; do
        for p in /proc/[0-9]*; do
            [ "$(readlink "$p/root" 2>/dev/null)" = "$dir" ] && kill -s "$n" "${p#/proc/}" 2>/dev/null
        done
        [ "$n" = TERM ] && sleep 1
    done
    # Mounts only exist inside fresh_root_run's namespace; refuse if the host shows one anyway.
    if findmnt -rn -o TARGET | grep -q "^$dir\(/\|$\)"; then
        fresh__say "something is mounted under $dir on the host; not removing it"; return 1
    fi
    rm -rf --one-file-system "$dir"
}

fresh_root_cleanup_on_exit() {
    local dir=${1:?fresh_root_cleanup_on_exit DIR}
    # shellcheck disable=SC2064
    trap "fresh_root_remove '$dir'" EXIT
    trap 'exit 130' INT
    trap 'exit 143' TERM
}
