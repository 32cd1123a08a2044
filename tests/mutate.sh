#!/bin/bash
# mutate.sh — prove the suite catches the faults it claims to: apply each mutation patch to a
# scratch copy of the tree, build, run the one test the patch names, and count the outcome.
#
#   tests/mutate.sh                 every tests/mutations/*.patch
#   MUTATIONS="a b" tests/mutate.sh only these (file names, with or without .patch)
#   MUTATE_TIERS="unit host"        only patches whose test is in these tiers (CI's fast set)
#
# A patch (format in tests/mutations/README) starts with "# catches: <tier>/<test>" and
# "# fault: <text>", then a unified diff applied with `patch -p1`. Outcome per patch:
#   caught  the named test failed (non-zero exit, or it ran past MUTATE_TIMEOUT) with the fault
#   missed  the named test passed with the fault in place
#   error   bad header, unknown test, the patch no longer applies, the build failed, the test
#           skipped (exit 77), or the test fails even without the fault (baseline)
# Before any patch, each named test runs once on the unmutated copy and must pass: a test that
# always fails would "catch" everything.
# Closing line: "N caught, N missed, N errors"; exit 0 only when nothing was missed or in error.
#
# The scratch copy lives in build-mutate/tree and is kept between runs: files are synced by
# content at the start (a changed file gets a new mtime), each patch is undone with patch -R
# after its test, so make rebuilds only what a patch touched, and the work tree may be edited
# while a run goes on.
# Logs: build-mutate/logs/<patch>.log. Environment: MUTATE_TIMEOUT (per test run, s, default
# 900), MUTATE_DIR (default build-mutate), LAB_TIMEOUT (passed to lab scenarios).
set -u
cd "$(dirname "$0")/.."
root=$PWD
. tests/mutation_lib.sh
dir=${MUTATE_DIR:-build-mutate}
case $dir in /*) ;; *) dir=$root/$dir;; esac
tree=$dir/tree logs=$dir/logs
limit=${MUTATE_TIMEOUT:-900}
tiers=${MUTATE_TIERS:-unit host lab}
mkdir -p "$tree" "$logs"
exec 9>"$dir/lock"
flock -n 9 || { echo "mutate.sh: another run holds $dir/lock" >&2; exit 2; }

# --- the patches to run ---------------------------------------------------------------------
patches=()
if [ -n "${MUTATIONS:-}" ]; then
    for m in $MUTATIONS; do
        m=${m##*/}; m=${m%.patch}
        [ -f "tests/mutations/$m.patch" ] || { echo "mutate.sh: no mutation tests/mutations/$m.patch" >&2; exit 2; }
        patches+=("tests/mutations/$m.patch")
    done
else
    for p in tests/mutations/*.patch; do [ -f "$p" ] && patches+=("$p"); done
fi
[ ${#patches[@]} -gt 0 ] || { echo "mutate.sh: no mutation patches in tests/mutations/" >&2; exit 2; }

# --- scratch tree ---------------------------------------------------------------------------
# Copy every tracked and untracked-not-ignored file whose content differs; delete the rest.
sync_tree() {
    local list f
    list=$(git ls-files -co --exclude-standard | sort) || return 1
    while IFS= read -r f; do
        [ -f "$f" ] || continue                      # deleted in the work tree, not yet in git
        if ! cmp -s "$f" "$tree/$f" 2>/dev/null; then
            mkdir -p "$tree/$(dirname "$f")" && cp -P "$f" "$tree/$f" || return 1
            [ -x "$f" ] && chmod +x "$tree/$f"
        fi
    done <<<"$list"
    # Files not in the source any more (a moved .c would still be compiled by the wildcards).
    comm -13 <(printf '%s\n' "$list") \
        <(cd "$tree" && find . \( -path ./build -o -path './build-*' \) -prune -o \( -type f -o -type l \) -print \
            | sed 's|^\./||' | sort) | (cd "$tree" && xargs -r -d '\n' rm -f)
}

build_for() {            # tier/test log -> build what that test needs in the scratch tree
    local what=all
    case $1 in unit/*) what=build/tests/unit/${1#unit/};; esac
    make -C "$tree" -j2 B=build "$what" >>"$2" 2>&1
}

run_test() {             # tier/test log -> the test's exit code
    local rc
    case $1 in
    unit/*) (cd "$tree" && timeout "$limit" "build/tests/unit/${1#unit/}") >>"$2" 2>&1;;
    host/*) (cd "$tree" && B=build timeout "$limit" bash "tests/host/${1#host/}.sh") >>"$2" 2>&1;;
    lab/*)  (cd "$tree" && B=build timeout "$limit" tests/lab/boot.sh "${1#lab/}") >>"$2" 2>&1;;
    esac
    rc=$?
    [ $rc = 124 ] && echo "mutate.sh: timed out after $limit s" >>"$2"
    return $rc
}

caught=0 missed=0 errors=0
problems=()
err() { errors=$((errors + 1)); problems+=("$1"); echo "ERROR $1"; }

echo "mutate: syncing $tree"
sync_tree || { echo "mutate.sh: cannot copy the tree to $tree" >&2; exit 2; }

# --- check headers, pick by tier, baseline each named test once ------------------------------
declare -A test_of baseline
todo=()
for p in "${patches[@]}"; do
    name=$(basename "$p" .patch)
    why=$(mutation_header_problem "$p") || { err "$name: $why"; continue; }
    t=$(mutation_test "$p")
    [[ " $tiers " == *" ${t%%/*} "* ]] || continue
    test_of[$name]=$t
    todo+=("$p")
done

t0=$SECONDS
for p in "${todo[@]}"; do
    t=${test_of[$(basename "$p" .patch)]}
    [ -n "${baseline[$t]:-}" ] && continue
    log=$logs/baseline-${t//\//-}.log; : >"$log"
    if ! build_for "$t" "$log"; then baseline[$t]="the unmutated tree does not build (see $log)"
    else
        run_test "$t" "$log"; rc=$?
        case $rc in
        0)  baseline[$t]=ok;;
        77) baseline[$t]="skips without any mutation: $(tail -n 1 "$log")";;
        *)  baseline[$t]="fails without any mutation (exit $rc, see $log)";;
        esac
    fi
    echo "baseline $t: ${baseline[$t]}"
done

# --- each mutation ----------------------------------------------------------------------------
for p in "${todo[@]}"; do
    name=$(basename "$p" .patch) t=${test_of[$(basename "$p" .patch)]}
    [ "${baseline[$t]}" = ok ] || { err "$name: $t ${baseline[$t]}"; continue; }
    log=$logs/$name.log
    printf '# %s\n' "$name" "$(sed -n 2p "$p")" >"$log"
    if ! mutation_patch "$tree" "$root/$p" --dry-run >>"$log" 2>&1; then
        err "$name: the patch no longer applies to the tree (update it; see $log)"; continue
    fi
    mutation_patch "$tree" "$root/$p" --no-backup-if-mismatch >>"$log" 2>&1
    t1=$SECONDS
    if ! build_for "$t" "$log"; then
        err "$name: the mutated tree does not build (see $log)"
    else
        run_test "$t" "$log"; rc=$?
        case $rc in
        0)  missed=$((missed + 1)); problems+=("$name: MISSED by $t")
            echo "MISSED $name: $t passed with the fault ($(sed -n '2s/^# fault: //p' "$p"))";;
        77) err "$name: $t skipped, so it cannot judge the fault: $(tail -n 1 "$log")";;
        *)  caught=$((caught + 1)); echo "caught $name by $t (exit $rc, $((SECONDS - t1)) s)";;
        esac
    fi
    # Undo from the patch itself (not from the work tree, which may be edited meanwhile);
    # the new mtimes make the next build recompile what it touched.
    (cd "$tree" && patch -p1 -R --batch --fuzz=0 --no-backup-if-mismatch <"$root/$p") >>"$log" 2>&1 ||
        sync_tree || { err "$name: cannot restore the scratch tree"; break; }
done

[ ${#problems[@]} -gt 0 ] && printf 'problem: %s\n' "${problems[@]}"
echo "mutate: $((SECONDS - t0)) s; logs in $logs"
echo "$caught caught, $missed missed, $errors errors"
[ "$missed" = 0 ] && [ "$errors" = 0 ]
