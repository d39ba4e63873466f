#!/usr/bin/env bash
# Single-event requests (issue #3: p99 <= 25 ms at 300 requests/s) against the app started fresh on a
# scratch copy of a bench store, run several times back to back from the start, so the first seconds
# after a start are measured as well as a warm app. The load generator prints p99 per 5 s of each run.
#
# Usage: bash tests/bench/single.sh [store=.data/bench-1000000.pristine] [rps=300] [seconds=30] [runs=2]
# APP and LOADGEN name other builds (an A/B against an older commit built elsewhere), APP_ARGS are passed
# to the app, PG_ARGS to the cluster after LocalPostgres's settings; KEEP_LOGS=<prefix> keeps the server's
# and the app's logs as <prefix>.postgres.log and <prefix>.app.log.
set -euo pipefail
cd "$(dirname "$0")/../.."
source tests/bench/cluster.sh
source_store=${1:-}
source_store=${source_store:-.data/bench-1000000.pristine}
rps=${2:-300}
seconds=${3:-30}
runs=${4:-2}
port=5413
bench_builds
store=$(bench_scratch "$source_store" single)
bench_app_pid=
log=$(mktemp)
cleanup() {
  if [ -n "$bench_app_pid" ]; then kill "$bench_app_pid" 2>/dev/null || true; wait "$bench_app_pid" 2>/dev/null || true; fi
  bench_stop "$store"
  if [ -n "${KEEP_LOGS:-}" ]; then cp "$store/postgres.log" "$KEEP_LOGS.postgres.log"; cp "$log" "$KEEP_LOGS.app.log"; fi
  rm -rf "$store"
}
trap cleanup EXIT
# shellcheck disable=SC2086
bench_start "$store" ${PG_ARGS:-}
# shellcheck disable=SC2086
bench_app_start "$store" "$port" "$log" ${APP_ARGS:-}
echo "load average at the start: $(cut -d' ' -f1 /proc/loadavg)"
for run in $(seq "$runs"); do
  echo "run $run:"
  dotnet "$loadgen" single "http://127.0.0.1:$port" dev-dbt-write-key "$rps" "$seconds" | sed 's/^/  /'
done
