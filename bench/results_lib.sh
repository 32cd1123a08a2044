# results_lib.sh — sourced by the bench scripts: writing their section of bench/RESULTS.md.

# results_replace_section NAME SECTION-FILE RESULTS-FILE — replaces "## NAME" (up to the next
# "## " heading) with the section file's text, keeps every other section, appends the
# section if it is new; creates the results file with its heading if missing. Removes the
# section file.
results_replace_section() {
    local name=$1 section=$2 file=$3
    [ -f "$file" ] || printf '# Benchmark results\n\nEach section is written by its bench script (`make bench-<name>`).\n\n' >"$file"
    awk -v sec="$section" -v head="## $name" '
        function dump(  l) { while ((getline l < sec) > 0) print l; close(sec); print "" }
        /^## / { if (skip) skip = 0; if ($0 == head) { dump(); skip = 1; done = 1; next } }
        !skip { print }
        END { if (!done) dump() }' "$file" >"$file.tmp" && mv "$file.tmp" "$file"
    rm -f "$section"
}

# results_get TIMING KEY — the last value of KEY=... in a lab bench's timing.txt.
results_get() { sed -n "s/^$2=//p" "$1" 2>/dev/null | tail -n 1; }

# results_each TIMING PREFIX — the values of PREFIX_1 .. PREFIX_20, space-separated.
results_each() {
    local i v out=''
    for i in $(seq 1 20); do v=$(results_get "$1" "$2_$i"); [ -n "$v" ] && out+="$v "; done
    echo "${out% }"
}

# results_machine — "N cores, CPU model; host kernel K" for a section's Machine line.
results_machine() {
    echo "$(nproc) cores, $(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1); host kernel $(uname -r)"
}
