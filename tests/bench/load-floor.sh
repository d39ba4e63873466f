#!/usr/bin/env bash
# What PostgreSQL alone needs to store a bulk load: the server-side floor under `seed-demo`.
#
#   bash tests/bench/load-floor.sh [loaded-store-folder]      (default .data/bench-1000000.pristine)
#
# Takes a store a demo load filled (scale.sh keeps one per size), exports every table the load writes
# (events, event_keys, runs, run_plugins, installations, the rollup tables) as binary COPY files, and then,
# on the same cluster settings LocalPostgres uses, times what the load asks of the server and nothing else:
# for each table, in one transaction, a new table (so wal_level=minimal skips its WAL, as in the load),
# a binary COPY from a server-side file (no client, no network, no encoding) and every index and key the
# real table has, built after the rows; then ANALYZE. It prints each step's wall time and the server's
# CPU seconds for the whole run (the postmaster's children from /proc, parallel index workers included),
# which is what two cores must share with the client's generation and encoding during a real load.
# The store is copied to a scratch folder first and is not changed.
set -euo pipefail
cd "$(dirname "$0")/../.."
store=${1:-.data/bench-1000000.pristine}
[ -d "$store/data" ] || { echo "no store at $store (run tests/bench/scale.sh 1000000 first)" >&2; exit 1; }
. tests/bench/cluster.sh
work=$(bench_scratch "$store" floor)
dump=$work/dump
mkdir -p "$dump"
bench_start "$work"
trap 'bench_stop "$work"; rm -rf "$work"' EXIT
psql() { bench_psql "$work" "$@"; }

tables="events event_keys runs run_plugins installations $(psql -c "SELECT string_agg(tablename, ' ' ORDER BY tablename) FROM pg_tables WHERE schemaname = 'public' AND tablename LIKE 'rollup%' AND tablename NOT IN ('rollup_dirty', 'rollup_month_versions')")"
for t in $tables; do
  psql -c "COPY (SELECT * FROM $t) TO '$dump/$t.bin' (FORMAT binary)"
done
psql -c "CHECKPOINT"
echo "store: $store ($(psql -c "SELECT count(*) FROM events") events, $(psql -c "SELECT count(*) FROM runs") runs, $(psql -c "SELECT count(*) FROM run_plugins") plugin rows)"

ticks() { bench_server_ticks "$work"; }
hz=$(getconf CLK_TCK)
before=$(ticks)
start=$(date +%s.%N)
total_copy=0; total_index=0
for t in $tables; do
  # The events are partitioned; their copy is one plain table with the partitions' indexes (routing rows to
  # partitions only adds to the real load's time, so leaving it out keeps this a floor).
  template=$t; [ "$t" = events ] && template=$(psql -c "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid WHERE i.inhparent = 'events'::regclass ORDER BY pg_relation_size(c.oid) DESC LIMIT 1")
  out=$(psql <<SQL
BEGIN;
CREATE TABLE floor_$t (LIKE $template INCLUDING DEFAULTS);
SELECT clock_timestamp() AS t0 \gset
COPY floor_$t FROM '$dump/$t.bin' (FORMAT binary);
SELECT clock_timestamp() AS t1 \gset
DO \$\$
DECLARE d text;
BEGIN
  FOR d IN SELECT replace(pg_get_indexdef(i.indexrelid), ' ON public.$template ', ' ON floor_$t ')
           FROM pg_index i WHERE i.indrelid = '$template'::regclass
  LOOP
    EXECUTE regexp_replace(d, '^CREATE (UNIQUE )?INDEX \S+', 'CREATE \1INDEX');
  END LOOP;
END \$\$;
SELECT clock_timestamp() AS t2 \gset
COMMIT;
SELECT extract(epoch FROM :'t1'::timestamptz - :'t0'::timestamptz), extract(epoch FROM :'t2'::timestamptz - :'t1'::timestamptz),
       (SELECT count(*) FROM pg_index WHERE indrelid = 'floor_$t'::regclass), (SELECT count(*) FROM floor_$t);
SQL
)
  IFS='|' read -r c i n rows <<<"$(tail -1 <<<"$out")"
  printf '%-28s %9s rows  COPY %6.2f s  %s indexes %6.2f s\n' "$t" "$rows" "$c" "$n" "$i"
  total_copy=$(echo "$total_copy + $c" | bc); total_index=$(echo "$total_index + $i" | bc)
done
loaded=$(date +%s.%N)
mid=$(ticks)
a0=$(date +%s.%N)
psql -c "ANALYZE $(echo $tables | sed 's/\(\S\+\)/floor_\1/g; s/ /, /g')"
a1=$(date +%s.%N)
after=$(ticks)
printf 'COPY %.2f s, indexes %.2f s, ANALYZE %.2f s; wall %.2f s; server CPU %.2f s (%.2f s before the ANALYZE)\n' "$total_copy" "$total_index" \
  "$(echo "$a1 - $a0" | bc)" "$(echo "$loaded - $start + $a1 - $a0" | bc)" "$(echo "($after - $before) / $hz" | bc -l)" "$(echo "($mid - $before) / $hz" | bc -l)"
