#!/usr/bin/env bash
# Warm p50/p95 of every page and API the standing targets name (the Meltano plugin page, /features, the property API
# and the runtime-filtered views among them) against a store already loaded with N demo events, for the 1M/10M pair
# in docs/benchmarks.md ("Pages at 1M and 10M events"). Load each store first (outside the repository):
#   Database__LocalFolder=<store folder> dotnet src/UsageDashboard/bin/Release/net10.0/UsageDashboard.dll seed-demo --events N --days 90
#   Database__LocalFolder=<store folder> dotnet src/UsageDashboard/bin/Release/net10.0/UsageDashboard.dll retention
# Usage: bash tests/bench/page-pair.sh <store folder> [port=5471] [requests=20] [warm-ups=30]
# Prints "path status p50 p95" lines, with the load average at start and end and the app's peak memory.
set -u
cd "$(dirname "$0")/../.."
export Database__LocalFolder=$1
app=src/UsageDashboard/bin/Release/net10.0/UsageDashboard.dll
base=http://127.0.0.1:${2:-5471}
n=${3:-20}
# Past the JIT's tiering (see scale.sh): a page's own code runs once per request.
warm=${4:-30}
echo 'Bench-Passw0rd-1' | dotnet "$app" users add --email bench@localhost --role viewer --password-stdin >/dev/null 2>&1 || true
token=$(dotnet "$app" tokens create --email bench@localhost --name "bench-$(date +%s)" --scope admin | tail -1)
log=$(mktemp)
env Demo__SeedLocalDatabase=false Health__RunInBackground=false Urls="$base" Logging__LogLevel__Default=Warning \
  Logging__LogLevel__UsageDashboard.Rollups.RollupCacheSyncService=Information dotnet "$app" >"$log" 2>&1 &
pid=$!
for _ in $(seq 180); do curl -sf "$base/readyz" >/dev/null 2>&1 && break; sleep 1; done
sleep 10
for _ in $(seq 120); do grep -q "Rollup cache:" "$log" && break; sleep 1; done
paths=(
  "/" "/?range=7d" "/?range=90d" "/?tool=dbt&range=90d" "/?tool=meltano&env=ci&range=30d"
  "/api/insights/overview?range=90d" "/api/insights/commands?range=90d"
  "/installations?range=90d" "/commands?range=90d" "/plugins?range=90d"
  "/plugins/tap-github?tool=meltano" "/api/insights/plugins/tap-github?tool=meltano" "/api/insights/plugins/tap-github?tool=meltano&format=csv"
  "/plugins/tap-postgres?tool=meltano&range=90d"
  "/environments?range=90d" "/features?tool=dbt&range=90d" "/features?tool=meltano&range=30d"
  "/api/insights/properties?tool=dbt&key=materialization&range=90d"
  "/?range=90d&runtime=python&runtimeVersion=3.11" "/commands?range=90d&runtimeVersion=3.11"
  "/plugins/tap-github?tool=meltano&runtimeVersion=3.11" "/environments?runtime=python&runtimeVersion=3.12" "/?tool=jetty&environment=dev"
)
echo "# $(date -u +'%Y-%m-%d %H:%M') UTC store=$1 n=$n warm=$warm load-start=$(cut -d' ' -f1-3 /proc/loadavg)"
for path in "${paths[@]}"; do
  code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 300 -H "Authorization: Bearer $token" "$base$path")
  for _ in $(seq 2 "$warm"); do curl -s -o /dev/null --max-time 300 -H "Authorization: Bearer $token" "$base$path"; done
  times=$(for _ in $(seq "$n"); do curl -s -o /dev/null --max-time 300 -H "Authorization: Bearer $token" -w '%{time_total}\n' "$base$path"; done | sort -n)
  p50=$(awk -v n="$n" 'NR==int((n+1)*0.50){printf "%.1f", $1*1000}' <<<"$times")
  p95=$(awk -v n="$n" 'NR==int(n*0.95+0.5){printf "%.1f", $1*1000}' <<<"$times")
  echo "$path $code $p50 $p95"
done
echo "# load-end=$(cut -d' ' -f1-3 /proc/loadavg) VmHWM=$(awk '/VmHWM/{printf "%.0f MB", $2/1024}' "/proc/$pid/status")"
kill "$pid"
wait "$pid" 2>/dev/null || true
