#!/usr/bin/env python3
"""Prints the criterion results of the last `cargo bench -p xray-bench` as markdown tables: each contender's median
per call, its ratio to the plain function and xray-rs's ratio to it, all from the same run.

    python3 benches/table.py [target/criterion]
"""
import json
import pathlib
import sys

root = pathlib.Path(sys.argv[1] if len(sys.argv) > 1 else "target/criterion")
groups = {}
for bench in sorted(root.glob("**/new/benchmark.json")):
    meta = json.loads(bench.read_text())
    estimates = json.loads((bench.parent / "estimates.json").read_text())
    group = meta["group_id"]
    groups.setdefault(group, {})[meta["function_id"] or meta["value_str"]] = estimates["median"]["point_estimate"]


def ns(value):
    return f"{value / 1000:.2f} us" if value >= 1000 else f"{value:.1f} ns"


for group, results in groups.items():
    plain = results.get("plain") or results.get("plain handler")
    ours = results.get("xray-rs")
    print(f"\n### {group}\n")
    print("| contender | median | minus plain | x plain | xray-rs / it |")
    print("|---|---:|---:|---:|---:|")
    for name, value in results.items():
        over = f"{value - plain:+.1f} ns" if plain else ""
        ratio = f"{value / plain:.2f}" if plain else ""
        vs = f"{ours / value:.2f}" if ours and name != "xray-rs" else ""
        print(f"| {name} | {ns(value)} | {over} | {ratio} | {vs} |")
