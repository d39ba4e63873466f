#!/usr/bin/env bash
# Bulk import on a scratch copy of a bench store, with the CPU each side used over the whole CLI call: the
# `import` CLI (start-up, read, parse, map, encode, send) and the PostgreSQL cluster (every backend, autovacuum's
# included), both including the rollup refresh the CLI runs after the import, which its own rate leaves out. Like batch-cpu.sh for
# the HTTP path: the rate moves between runs on this machine, CPU per 100,000 events is the steadier figure.
#
# Usage: bash tests/bench/import-cpu.sh [store=.data/bench-1000000.pristine] [events=200000]
# APP names another build (an A/B against an older commit built elsewhere); PG_ARGS go to the cluster.
set -euo pipefail
cd "$(dirname "$0")/../.."
source tests/bench/cluster.sh
source_store=${1:-}
source_store=${source_store:-.data/bench-1000000.pristine}
events=${2:-200000}
bench_builds
store=$(bench_scratch "$source_store" import-cpu)
trap 'bench_stop "$store"; rm -rf "$store"' EXIT
# shellcheck disable=SC2086
bench_start "$store" ${PG_ARGS:-}
export Database__LocalFolder=$store
dotnet "$loadgen" file "$store/import.ndjson" "$events" meltano >/dev/null
ticks() { bench_cluster_ticks "$store"; }
hz=$(getconf CLK_TCK)
s0=$(ticks)
out=$( { /usr/bin/time -f "%U %S %e" dotnet "$app" import "$store/import.ndjson" --format native; } 2>&1)
s1=$(ticks)
echo "$out" | grep -E '^Imported'
client=$(echo "$out" | tail -1 | awk '{printf "%.2f", $1 + $2}')
echo "whole CLI call: $(echo "$out" | tail -1 | awk '{print $3}') s"
awk -v s=$((s1 - s0)) -v hz="$hz" -v c="$client" -v n="$events" 'BEGIN {
  f = 100000 / n
  printf "CPU per 100,000 events: import CLI %.2f s (start-up included), PostgreSQL %.2f s\n", c * f, s / hz * f }'
