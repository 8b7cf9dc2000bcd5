#!/usr/bin/env python3
"""The SAML validation table from criterion's estimates of `cargo bench --bench saml`.

For each provider and size: the validation, its floor (SHA-256 of the canonical assertion
and one RSA verification, measured in the same run), the cost beyond the floor, and that
cost per KB of the decoded message. The last line per provider is the least-squares line
through every size of the cost beyond the floor against the KB: its slope is the per-KB cost
with the fixed cost (its intercept) taken out.

Usage: python3 crates/maestrano/benches/saml_table.py [target/criterion]
"""
import json
import os
import re
import sys

root = sys.argv[1] if len(sys.argv) > 1 else "target/criterion"
rows = {}
for group in os.listdir(root):
    m = re.fullmatch(r"saml_(\d+)_attributes", group)
    if not m:
        continue
    for bench in os.listdir(os.path.join(root, group)):
        provider, _, kind = bench.rpartition("_")
        base = os.path.join(root, group, bench, "new")
        try:
            with open(os.path.join(base, "estimates.json")) as f:
                mean = json.load(f)["mean"]["point_estimate"] / 1000.0
            with open(os.path.join(base, "benchmark.json")) as f:
                b64 = json.load(f)["throughput"]["Bytes"]
        except (OSError, KeyError):
            continue
        rows.setdefault((provider, int(m.group(1))), {})[kind] = mean
        # The throughput is the base64 message; the decoded XML is 3/4 of it.
        rows[(provider, int(m.group(1)))]["kb"] = b64 * 3 / 4 / 1024

print("| provider | attributes | XML KB | validate µs | floor µs | ratio | beyond floor µs | µs per KB |")
print("|---|---:|---:|---:|---:|---:|---:|---:|")
for provider in sorted({p for p, _ in rows}):
    sizes = sorted(n for p, n in rows if p == provider)
    for n in sizes:
        r = rows[(provider, n)]
        if "validate" not in r or "floor" not in r:
            continue
        extra = r["validate"] - r["floor"]
        print(f"| {provider} | {n:,} | {r['kb']:,.1f} | {r['validate']:,.1f} | {r['floor']:,.1f} "
              f"| {r['validate'] / r['floor']:.2f}× | {extra:,.1f} | {extra / r['kb']:.2f} |")
    points = [(rows[(provider, n)]["kb"], rows[(provider, n)]["validate"] - rows[(provider, n)]["floor"])
              for n in sizes if {"validate", "floor"} <= rows[(provider, n)].keys()]
    if len(points) >= 2:
        mx = sum(x for x, _ in points) / len(points)
        my = sum(y for _, y in points) / len(points)
        slope = sum((x - mx) * (y - my) for x, y in points) / sum((x - mx) ** 2 for x, _ in points)
        fixed = my - slope * mx
        print(f"| {provider} | fit {sizes[0]}→{sizes[-1]} | | | | | fixed {fixed:,.1f} | {slope:.2f} |")
