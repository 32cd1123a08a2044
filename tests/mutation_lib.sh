# mutation_lib.sh — the rules of a tests/mutations/*.patch, in one place for tests/mutate.sh
# (which runs them) and tests/host/mutations_apply.sh (which checks they still apply).
# Format: tests/mutations/README. Sourced; paths are relative to the project's root.

# mutation_test PATCH — its "tier/test" from line 1, or nothing.
mutation_test() {
    sed -n '1s/^# catches: *\(\(unit\|host\|lab\)\/[A-Za-z0-9_.-]*\) *$/\1/p' "$1"
}

# mutation_test_file TIER/TEST — the file that must exist for it.
mutation_test_file() {
    case $1 in
    unit/*) echo "tests/unit/${1#unit/}.c";;
    host/*) echo "tests/host/${1#host/}.sh";;
    lab/*)  echo "tests/lab/scenarios/${1#lab/}.sh";;
    esac
}

# mutation_header_problem PATCH — prints what is wrong with its two header lines or the test
# they name, and fails; silent and true when they are right.
mutation_header_problem() {
    local t
    t=$(mutation_test "$1")
    [ -n "$t" ] || { echo "line 1 is not '# catches: unit|host|lab/<test>'"; return 1; }
    sed -n 2p "$1" | grep -q '^# fault: ..*' || { echo "line 2 is not '# fault: <what the fault is>'"; return 1; }
    [ -f "$(mutation_test_file "$t")" ] || { echo "names $t, but $(mutation_test_file "$t") does not exist"; return 1; }
}

# mutation_patch DIR PATCH [patch options] — patch(1) as every mutation is applied: exact context
# (--fuzz=0), never reversed or asked about; --dry-run only checks.
mutation_patch() {
    local dir=$1 p=$2; shift 2
    (cd "$dir" && patch -p1 --batch --forward --fuzz=0 "$@" <"$p")
}
