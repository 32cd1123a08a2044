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
