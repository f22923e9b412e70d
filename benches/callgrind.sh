#!/usr/bin/env bash
# Instructions per call of each contender, counted by callgrind: unlike time, the count does not move with the
# machine's load. Each case runs N calls after a warm-up of 1000, collecting only inside the calling thread's
# `measured` function (so start-up, set-up and warm-up are left out), and divides by N. Work other threads do
# (fastrace's collector thread) is not in that figure: the "all threads" column, for sampled calls, counts every
# thread of the whole process for N and for 2N calls and divides the difference by N (start-up, set-up, warm-up and
# the final flush of fastrace's collector cancel out). The plain function's figure is the loop's own cost.
#
#   benches/callgrind.sh                      # every contender, mode and kind
#   benches/callgrind.sh xray-rs fastrace     # some contenders
#   N=2000 benches/callgrind.sh               # fewer calls (faster)
set -euo pipefail
cd "$(dirname "$0")/.."

cargo build --quiet --profile bench -p xray-bench --bin instructions
bin="${CARGO_TARGET_DIR:-target}/release/instructions"
n="${N:-10000}"
contenders=("$@")
[ ${#contenders[@]} -eq 0 ] && contenders=(plain xray-rs tracing fastrace fastrace-1000 opentelemetry xray-lite)

# Prints the instructions collected inside `measured` (or `measured_invocations`) in one run.
count() {
    local dir total
    dir=$(mktemp -d)
    valgrind --tool=callgrind --collect-atstart=no --toggle-collect='*instructions::measured*' \
        --callgrind-out-file="$dir/cg" "$bin" "$@" >/dev/null 2>"$dir/log"
    total=$(awk '/^(summary|totals):/ {print $2; exit}' "$dir/cg")
    rm -rf "$dir"
    echo "${total:-0}"
}

# Prints the instructions of every thread of one whole run.
count_all() {
    local dir total
    dir=$(mktemp -d)
    valgrind --tool=callgrind --callgrind-out-file="$dir/cg" "$bin" "$@" >/dev/null 2>"$dir/log"
    total=$(awk '/^(summary|totals):/ {print $2; exit}' "$dir/cg")
    rm -rf "$dir"
    echo "${total:-0}"
}

printf '%-14s %-6s %-10s %12s %12s\n' contender kind mode 'instr/call' 'all threads'
for contender in "${contenders[@]}"; do
    for kind in sync async; do
        for mode in sampled unsampled no-trace; do
            total=$(count "$contender" "$mode" "$kind" "$n")
            all=-
            if [ "$mode" = sampled ]; then
                once=$(count_all "$contender" "$mode" "$kind" "$n")
                twice=$(count_all "$contender" "$mode" "$kind" $((2 * n)))
                all=$(awk -v a="$once" -v b="$twice" -v n="$n" 'BEGIN { printf "%.1f", (b - a) / n }')
            fi
            awk -v c="$contender" -v k="$kind" -v m="$mode" -v t="$total" -v n="$n" -v a="$all" \
                'BEGIN { printf "%-14s %-6s %-10s %12.1f %12s\n", c, k, m, t / n, a }'
        done
    done
done

# One Lambda invocation: the handler of benches/src/handler.rs, plain and traced (documents written, discarded).
inv=$((n / 10))
printf '\n%-30s %16s\n' 'invocation (handler.rs)' 'instr/invocation'
for kind in plain traced; do
    for mode in sampled unsampled; do
        [ "$kind" = plain ] && [ "$mode" = unsampled ] && continue
        total=$(count invocation "$kind" "$mode" "$inv")
        awk -v k="$kind, $mode" -v t="$total" -v n="$inv" 'BEGIN { printf "%-30s %16.0f\n", k, t / n }'
    done
done

# One SQS message through #[traced_subscribe] (continue mode), against the same async fn plain.
printf '\n%-30s %16s\n' 'queue message (handler.rs)' 'instr/message'
for kind in plain traced; do
    for mode in sampled unsampled; do
        [ "$kind" = plain ] && [ "$mode" = unsampled ] && continue
        total=$(count queue "$kind" "$mode" "$inv")
        awk -v k="$kind, $mode" -v t="$total" -v n="$inv" 'BEGIN { printf "%-30s %16.0f\n", k, t / n }'
    done
done

# One `tracing` span (benches/tracing_layer.rs): the Registry alone, the layer outside a trace, in a sampled trace.
printf '\n%-30s %16s\n' 'tracing span (layer)' 'instr/span'
for case in registry no-trace sampled; do
    total=$(count layer "$case" "$n")
    awk -v k="$case" -v t="$total" -v n="$n" 'BEGIN { printf "%-30s %16.0f\n", k, t / n }'
done
