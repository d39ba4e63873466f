#!/usr/bin/env bash
# Growth of every path's p50 and p95 from the 1M to the 10M scale run, from the two tables scale.sh wrote into
# docs/benchmarks.md (run `bash tests/bench/scale.sh 1000000` and `bash tests/bench/scale.sh 10000000` first).
# Prints a Markdown table, the largest growth last; exits 1 when any p50 grew more than LIMIT (default 1.5).
set -euo pipefail
cd "$(dirname "$0")/../.."
python3 - "${LIMIT:-1.5}" <<'PY'
import re, sys
limit = float(sys.argv[1])
doc = open("docs/benchmarks.md").read()
def table(events):
    m = re.search(rf"<!-- scale:{events}:start -->(.*?)<!-- scale:{events}:end -->", doc, re.S)
    if not m:
        sys.exit(f"no scale:{events} section in docs/benchmarks.md")
    rows = {}
    for line in m.group(1).splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) >= 3 and cells[0].startswith("`"):
            rows[cells[0]] = (float(cells[1]), float(cells[2]))
    return rows
small, large = table(1000000), table(10000000)
rows = sorted(((large[p][0] / small[p][0], p, small[p], large[p]) for p in small if p in large), key=lambda r: r[0])
print("| path | p50 1M → 10M ms | p50 growth | p95 1M → 10M ms | p95 growth |")
print("|---|---:|---:|---:|---:|")
for growth, path, s, l in rows:
    print(f"| {path} | {s[0]:g} → {l[0]:g} | {growth:.2f}× | {s[1]:g} → {l[1]:g} | {l[1] / s[1]:.2f}× |")
over = [r for r in rows if r[0] > limit]
print(f"\n{len(rows)} paths; p50 growth {rows[0][0]:.2f}–{rows[-1][0]:.2f}×; {len(over)} over {limit}×.")
sys.exit(1 if over else 0)
PY
