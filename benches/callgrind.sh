#!/usr/bin/env bash
# Instructions per call of each contender, counted by callgrind: unlike time, the count does not move with the
# machine's load. Each case runs twice (N1 and N2 calls after the same warm-up) and the difference in the calling
# thread's instructions is divided by N2 - N1, so start-up, set-up and warm-up cancel out. Other threads (fastrace's
# collector) are shown apart.
#
#   benches/callgrind.sh                      # every contender, mode and kind
#   benches/callgrind.sh xray-rs fastrace     # some contenders
#   N1=1000 N2=5000 benches/callgrind.sh      # fewer calls (faster)
set -euo pipefail
cd "$(dirname "$0")/.."

cargo build --quiet --profile bench -p xray-bench --bin instructions
bin="${CARGO_TARGET_DIR:-target}/release/instructions"
n1="${N1:-2000}"
n2="${N2:-12000}"
contenders=("$@")
[ ${#contenders[@]} -eq 0 ] && contenders=(plain xray-rs tracing fastrace opentelemetry xray-lite)

# Prints "<calling thread's instructions> <other threads' instructions>" for one run.
count() {
    local dir
    dir=$(mktemp -d)
    valgrind --tool=callgrind --separate-threads=yes --callgrind-out-file="$dir/cg" "$bin" "$@" >/dev/null 2>"$dir/log"
    local main=0 other=0 file n
    for file in "$dir"/cg-*; do
        n=$(awk '/^(summary|totals):/ {print $2; exit}' "$file")
        if [[ "$file" == *-01 ]]; then main=$((main + n)); else other=$((other + n)); fi
    done
    rm -rf "$dir"
    echo "$main $other"
}

printf '%-14s %-6s %-10s %12s %14s\n' contender kind mode 'instr/call' 'other threads'
for contender in "${contenders[@]}"; do
    for kind in sync async; do
        for mode in sampled unsampled no-trace; do
            read -r m1 o1 < <(count "$contender" "$mode" "$kind" "$n1")
            read -r m2 o2 < <(count "$contender" "$mode" "$kind" "$n2")
            awk -v c="$contender" -v k="$kind" -v m="$mode" -v a="$m1" -v b="$m2" -v x="$o1" -v y="$o2" \
                -v n="$((n2 - n1))" 'BEGIN { printf "%-14s %-6s %-10s %12.0f %14.0f\n", c, k, m, (b - a) / n, (y - x) / n }'
        done
    done
done
