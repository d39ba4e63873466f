#!/usr/bin/env bash
# Hostile traffic (issue #29): one client sends malformed bodies of every wire format as fast as they are
# answered while another sends valid single events, against the app on a new empty store, once on a
# cluster with PostgreSQL's default settings (jit on, 128MB shared_buffers: what users run) and once on
# the tuned project-local settings (LocalPostgres). Per setting: the time from the app's start to /readyz
# (its warm-up included), valid single events alone (p50/p99), then the hostile client beside valid single
# events (hostile bodies/s absorbed and the valid events' p50/p99), and the app's resident memory.
#
# Usage: bash tests/bench/hostile.sh [seconds=30] [rps=50] [settings="stock tuned"]
# The rate limits are raised for the run so that the hostile client reaches the parsers and the writer.
set -euo pipefail
cd "$(dirname "$0")/../.."
source tests/bench/cluster.sh
seconds=${1:-30}
rps=${2:-50}
settings=${3:-stock tuned}
port=5417
bench_builds
store=
bench_app_pid=
log=$(mktemp)
cleanup() {
  if [ -n "$bench_app_pid" ]; then kill "$bench_app_pid" 2>/dev/null || true; wait "$bench_app_pid" 2>/dev/null || true; bench_app_pid=; fi
  if [ -n "$store" ]; then bench_stop "$store"; rm -rf "$store"; store=; fi
}
trap cleanup EXIT
for setting in $settings; do
  mkdir -p .data
  store=$(mktemp -d "$PWD/.data/hostile-$setting.XXXXXX")
  mkdir -p "$store/socket"
  chown -R postgres "$store"
  # initdb as LocalPostgres runs it.
  runuser -u postgres -- "$bench_bin/initdb" -D "$store/data" -U postgres -A trust -E UTF8 --locale=C.UTF-8 --lc-collate=C --no-sync >/dev/null
  if [ "$setting" = stock ]; then
    runuser -u postgres -- "$bench_bin/pg_ctl" -D "$store/data" -l "$store/postgres.log" -w \
      -o "-c listen_addresses='' -c unix_socket_directories='$store/socket'" start >/dev/null
  else
    bench_start "$store"
  fi
  show() { runuser -u postgres -- "$bench_bin/psql" -XAtq "host=$store/socket dbname=postgres user=postgres" -c "SHOW $1"; }
  echo "$setting: jit=$(show jit), shared_buffers=$(show shared_buffers)"
  echo "  load average before the app starts: $(cut -d' ' -f1 /proc/loadavg)"
  started=$(date +%s.%N)
  bench_app_start "$store" "$port" "$log" --Ingestion:RateLimit:RequestsPerSecond=100000 --Ingestion:RateLimit:Burst=100000
  echo "  start to /readyz (warm-up included): $(echo "$(date +%s.%N) - $started" | bc | xargs printf '%.1f') s"
  echo "  valid single events alone:"
  dotnet "$loadgen" single "http://127.0.0.1:$port" dev-dbt-write-key "$rps" 20 | head -1 | sed 's/^/    /'
  echo "  hostile client beside valid single events:"
  dotnet "$loadgen" hostile "http://127.0.0.1:$port" "$seconds" | sed 's/^/    /' &
  hostile_pid=$!
  dotnet "$loadgen" single "http://127.0.0.1:$port" dev-dbt-write-key "$rps" "$seconds" | head -1 | sed 's/^/    /'
  wait "$hostile_pid" || echo "    the hostile client saw a 5xx"
  echo "  app memory: $(awk '/VmRSS|VmHWM/ {printf "%s %d MB  ", $1, $2 / 1024}' "/proc/$bench_app_pid/status")"
  cleanup
done
