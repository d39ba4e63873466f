#!/usr/bin/env bash
# HTTP batch ingest on a scratch copy of a bench store, with the CPU each party used: the app, the
# PostgreSQL cluster (every backend, the refresher's and autovacuum's included) and the load generator.
# The rate alone moves by 20 % between runs on this machine (a rollup refresh pass lands in the measured
# window or not); CPU per 100,000 events is the steadier figure. Used for the collector sections of
# docs/benchmarks.md.
#
# Usage: bash tests/bench/batch-cpu.sh [store=.data/bench-1000000.pristine] [events=100000] [warm-up events=20000]
# APP and LOADGEN name other builds (for an A/B against an older commit built elsewhere); APP_ARGS are
# passed to the app (e.g. --hostBuilder:reloadConfigOnChange=true for the content-root watcher), PG_ARGS
# to the cluster after LocalPostgres's settings (e.g. "-c synchronous_commit=off" for the setting it had).
# REFRESH=1 also reports what the rollup refresher's statements took (pg_stat_statements) for the measured
# events, waiting 12 s after them so a pass can fold them: e.g. `REFRESH=1 bash tests/bench/batch-cpu.sh
# "" 1000` for a small pass into a day the warm-up filled. STATEMENTS=1 lists the statements that took the most
# execution time during the measured events (pg_stat_statements, ms per 100,000 events), refresher's included.
# SPREAD is how far back the generated runs start (the load generator's spread: 30d, the default, is a
# backfill's spread over 30 days of slices and index ranges; 1h is live traffic).
set -euo pipefail
cd "$(dirname "$0")/../.."
source tests/bench/cluster.sh
source_store=${1:-}
source_store=${source_store:-.data/bench-1000000.pristine}
events=${2:-100000}
warm=${3:-20000}
port=5412
spread=${SPREAD:-30d}
bench_builds
store=$(bench_scratch "$source_store" batch-cpu)
bench_app_pid=
log=$(mktemp)
cleanup() {
  if [ -n "$bench_app_pid" ]; then kill "$bench_app_pid" 2>/dev/null || true; wait "$bench_app_pid" 2>/dev/null || true; fi
  bench_stop "$store"; rm -rf "$store"
}
trap cleanup EXIT
if [ -n "${REFRESH:-}${STATEMENTS:-}" ]; then
  # shellcheck disable=SC2086
  bench_start "$store" -c shared_preload_libraries=pg_stat_statements ${PG_ARGS:-}
  bench_psql "$store" -c "CREATE EXTENSION IF NOT EXISTS pg_stat_statements"
else
  # shellcheck disable=SC2086
  bench_start "$store" ${PG_ARGS:-}
fi
# shellcheck disable=SC2086
bench_app_start "$store" "$port" "$log" ${APP_ARGS:-}
if [ "$warm" -gt 0 ]; then dotnet "$loadgen" batch "http://127.0.0.1:$port" dev-dbt-write-key "$warm" 500 4 "$spread" >/dev/null; fi
# Let the refresher fold the warm-up's runs, so the measured window starts from a quiet server.
sleep 12
ticks() { bench_cluster_ticks "$store"; }
hz=$(getconf CLK_TCK)
[ -n "${REFRESH:-}${STATEMENTS:-}" ] && bench_psql "$store" -c "SELECT pg_stat_statements_reset()" >/dev/null
s0=$(ticks); a0=$(awk '{print $14 + $15}' "/proc/$bench_app_pid/stat")
out=$( { /usr/bin/time -f "%U %S" dotnet "$loadgen" batch "http://127.0.0.1:$port" dev-dbt-write-key "$events" 500 4 "$spread"; } 2>&1)
a1=$(awk '{print $14 + $15}' "/proc/$bench_app_pid/stat"); s1=$(ticks)
echo "$out" | grep '^batch:'
lg=$(echo "$out" | tail -1 | awk '{printf "%.2f", $1 + $2}')
awk -v a=$((a1 - a0)) -v s=$((s1 - s0)) -v hz="$hz" -v lg="$lg" -v n="$events" 'BEGIN {
  f = 100000 / n
  printf "CPU per 100,000 events: app %.2f s, PostgreSQL %.2f s, load generator %.2f s\n", a / hz * f, s / hz * f, lg * f }'
if [ -n "${REFRESH:-}" ]; then
  sleep 12
  # The refresher's statements: its fold and rebuild scripts, their difference writes and month merges.
  bench_psql "$store" -c "SELECT 'rollup refresh: ' || round(sum(total_exec_time)) || ' ms of statements, '
      || coalesce(sum(rows) FILTER (WHERE query LIKE '%INSERT INTO fold_runs%'), 0) || ' new runs folded, '
      || coalesce(sum(rows) FILTER (WHERE query LIKE '%INSERT INTO fold_command_durations%'), 0) || ' histogram rows merged'
    FROM pg_stat_statements
    WHERE query ~ '(fold_|refresh_|rollup_fold_slices|rollup_slices|WITH old AS MATERIALIZED|WITH written AS|rollup_marks)'"
fi
if [ -n "${STATEMENTS:-}" ]; then
  bench_psql "$store" -F ' | ' -c "SELECT round(total_exec_time * 100000 / $events) AS ms, calls, rows,
      left(regexp_replace(query, '\\s+', ' ', 'g'), 110)
    FROM pg_stat_statements ORDER BY total_exec_time DESC LIMIT ${STATEMENTS_TOP:-14}"
fi
