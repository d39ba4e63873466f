#!/usr/bin/env bash
# Collector throughput under different PostgreSQL settings, on an existing project-local store: for each
# "label=options" argument in turn, restarts the store's cluster with the local cluster's usual settings
# plus those options (a restart checkpoints, so every setting's first run starts cold), starts the app
# (Release build), waits for the rollup cache, then runs the load generator's HTTP batch ingest three
# times (100,000 events in batches of 500, 4 clients) and counts the WAL-triggered checkpoints.
# Usage: bash tests/bench/ingest-settings.sh <store-folder> "A=-c max_wal_size=2GB" "B=-c max_wal_size=8GB" ...
# The store keeps what was ingested: run it on a copy (for example of .data/bench-N.pristine).
set -euo pipefail
cd "$(dirname "$0")/../.."
store=$(realpath "${1:?usage: ingest-settings.sh <store-folder> label=options ...}")
shift
. tests/bench/cluster.sh
app=src/UsageDashboard/bin/Release/net10.0/UsageDashboard.dll
loadgen=tests/UsageDashboard.LoadGen/bin/Release/net10.0/UsageDashboard.LoadGen.dll
dotnet build UsageDashboard.sln -c Release -v q -nologo >/dev/null
for setting in "$@"; do
  label=${setting%%=*}
  extra=${setting#*=}
  bench_stop "$store"
  # shellcheck disable=SC2086 # the options are words
  bench_start "$store" $extra
  before=$(grep -c "checkpoint starting: wal" "$store/postgres.log" || true)
  Database__LocalFolder=$store Demo__SeedLocalDatabase=false Health__RunInBackground=false Urls=http://127.0.0.1:5401 \
    Tools__dbt__WriteKeys__0=dev-dbt-write-key \
    Logging__LogLevel__Default=Warning dotnet "$app" >/dev/null 2>&1 &
  pid=$!
  for _ in $(seq 120); do curl -sf http://127.0.0.1:5401/readyz >/dev/null 2>&1 && break; sleep 1; done
  sleep 25
  for run in 1 2 3; do
    echo "$label run $run (load $(cut -d' ' -f1 /proc/loadavg)): $(dotnet "$loadgen" batch http://127.0.0.1:5401 dev-dbt-write-key 100000 500 4 2>&1 | tail -1)"
  done
  kill "$pid"; wait "$pid" 2>/dev/null || true
  echo "$label: $(( $(grep -c "checkpoint starting: wal" "$store/postgres.log" || true) - before )) WAL-triggered checkpoints"
done
bench_stop "$store"
