#!/bin/sh
# Runs every built libFuzzer target for a bounded time on its seed corpus.
#   fuzz/run.sh BUILD_FUZZ_DIR SECONDS
# Prints TAP-like progress and fails on the first crash, leak or timeout.
set -u
dir=$1
secs=${2:-8}
status=0
n=0
total=0
for f in "$dir"/fuzz_*; do [ -x "$f" ] && total=$((total + 1)); done
echo "1..$total"
for f in "$dir"/fuzz_*; do
    [ -x "$f" ] || continue
    n=$((n + 1))
    name=$(basename "$f")
    seeds="fuzz/corpus/$name"
    work=$(mktemp -d)
    mkdir -p fuzz/artifacts
    if [ -d "$seeds" ]; then cp -r "$seeds"/. "$work"/ 2>/dev/null; fi
    if "$f" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 -print_final_stats=0 \
         -artifact_prefix=fuzz/artifacts/"$name"- "$work" >"$work.log" 2>&1; then
        execs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$work.log" | grep -o '[0-9]*$')
        runs=$(grep -Eo '#[0-9]+' "$work.log" | tail -n 1)
        echo "ok $n - $name ${secs}s ${runs:-} runs"
    else
        echo "not ok $n - $name"
        tail -n 40 "$work.log" | sed 's/^/# /'
        status=1
    fi
    rm -rf "$work" "$work.log"
done
echo "# fuzz: $total targets run for ${secs}s each"
exit $status
