#!/usr/bin/env bash
# Measures warm server-side latency of dashboard pages and insights APIs over HTTP.
# Usage: tests/bench/pages.sh [base-url] [requests-per-url]
# Start the app first (dotnet run --project src/UsageDashboard -c Release); it must already hold data.
# Pages need a signed-in user: BENCH_TOKEN holds a personal API token with the admin scope (tokens create ... --scope admin prints one).
set -euo pipefail
auth=()
if [ -n "${BENCH_TOKEN:-}" ]; then auth=(-H "Authorization: Bearer $BENCH_TOKEN"); fi
base=${1:-http://127.0.0.1:5000}
n=${2:-40}
paths=(
  "/"
  "/?range=7d"
  "/?range=90d"
  "/?tool=dbt&range=90d"
  "/?tool=meltano&env=ci&range=30d"
  "/api/insights/overview?range=90d"
  "/api/insights/commands?range=90d"
)
extra=${BENCH_EXTRA_PATHS:-}
for p in $extra; do paths+=("$p"); done

printf '| path | requests | p50 ms | p95 ms | max ms |\n|---|---:|---:|---:|---:|\n'
for path in "${paths[@]}"; do
  # warm-up: plans cached, pages in shared buffers
  for _ in 1 2 3; do curl -s -o /dev/null "${auth[@]}" "$base$path"; done
  times=$(for _ in $(seq "$n"); do curl -s -o /dev/null "${auth[@]}" -w '%{time_total}\n' "$base$path"; done | sort -n)
  p50=$(awk -v n="$n" 'NR==int((n+1)*0.50){printf "%.1f", $1*1000}' <<<"$times")
  p95=$(awk -v n="$n" 'NR==int(n*0.95+0.5){printf "%.1f", $1*1000}' <<<"$times")
  max=$(tail -1 <<<"$times" | awk '{printf "%.1f", $1*1000}')
  printf '| `%s` | %s | %s | %s | %s |\n' "$path" "$n" "$p50" "$p95" "$max"
done
