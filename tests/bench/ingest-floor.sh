#!/usr/bin/env bash
# What storing imported events costs at the least: the floor under `import` (issue #3's 50,000 events/s).
#
#   bash tests/bench/ingest-floor.sh [loaded-store-folder] [events]   (default .data/bench-1000000.pristine 200000)
#
# 1. Copies the store to a scratch folder and imports the load generator's file of N native events through
#    the real CLI (`import`), as scale.sh does, timing the CLI's CPU (user + system).
# 2. Times the CLI on a one-line file too: the difference is the client's CPU for N events (read, parse,
#    map, encode, send), without start-up.
# 3. Moves the rows the import stored (events, event_keys, runs, run_plugins) into plain tables, deletes
#    them from the store, vacuums and checkpoints, reads the tables once so they are cached, and then
#    times plain INSERT ... SELECT of those rows back into the indexed tables, rollup triggers off, in one
#    transaction: the server's part with no idempotency check, no run derivation, no upserts, no rollup
#    marks. Prints its wall time and the server's CPU (postmaster's children, from /proc).
# Client CPU plus server CPU is the least two cores spend per N events; N / (that / 2) bounds the rate.
set -euo pipefail
cd "$(dirname "$0")/../.."
store=${1:-.data/bench-1000000.pristine}
events=${2:-200000}
[ -d "$store/data" ] || { echo "no store at $store (run tests/bench/scale.sh 1000000 first)" >&2; exit 1; }
app=src/UsageDashboard/bin/Release/net10.0/UsageDashboard.dll
loadgen=tests/UsageDashboard.LoadGen/bin/Release/net10.0/UsageDashboard.LoadGen.dll
[ -f "$app" ] && [ -f "$loadgen" ] || { echo "build Release first: dotnet build UsageDashboard.sln -c Release" >&2; exit 1; }
. tests/bench/cluster.sh
work=$(bench_scratch "$store" ingest-floor)
trap 'bench_stop "$work"; rm -rf "$work"' EXIT
export Database__LocalFolder=$work
# Started here, so every CLI call below reuses it (a cluster the CLI started itself would be stopped again
# when it exits). Autovacuum is off so that no worker's CPU (set off by the deletes and inserts below)
# lands in the floor's count.
bench_start "$work" -c autovacuum=off
psql() { bench_psql "$work" "$@"; }
cpu() { /usr/bin/time -f '%U %S' -o "$work/time" "$@" >"$work/out" 2>&1; awk '{print $1 + $2}' "$work/time"; }

dotnet "$loadgen" file "$work/import.ndjson" "$events" meltano >/dev/null
head -1 "$work/import.ndjson" | sed 's/"eventId":"[^"]*"/"eventId":"00000000-0000-4000-8000-000000000001"/' >"$work/one.ndjson"
one=$(cpu dotnet "$app" import "$work/one.ndjson" --format native)
full=$(cpu dotnet "$app" import "$work/import.ndjson" --format native)
line=$(grep -E '^Imported' "$work/out" || true)
echo "import: $line"
echo "client CPU: $full s for the file, $one s for one line: $(echo "$full - $one" | bc) s for $events events"

psql <<'SQL'
CREATE TABLE s_events AS SELECT * FROM events WHERE source = 'native' AND event_id <> '00000000-0000-4000-8000-000000000001';
CREATE TABLE s_keys AS SELECT k.* FROM event_keys k JOIN s_events e USING (tool, event_id);
CREATE TABLE s_runs AS SELECT r.* FROM runs r WHERE (r.tool, r.run_key) IN (SELECT tool, run_key FROM s_events);
CREATE TABLE s_plugins AS SELECT p.* FROM run_plugins p WHERE p.run_id IN (SELECT id FROM s_runs);
SET session_replication_role = replica;
DELETE FROM run_plugins WHERE run_id IN (SELECT id FROM s_runs);
DELETE FROM runs WHERE id IN (SELECT id FROM s_runs);
DELETE FROM events e USING s_events s WHERE e.tool = s.tool AND e.event_id = s.event_id AND e.occurred_at = s.occurred_at;
DELETE FROM event_keys k USING s_keys s WHERE k.tool = s.tool AND k.event_id = s.event_id;
SQL
psql -c "VACUUM ANALYZE events, event_keys, runs, run_plugins" -c "CHECKPOINT"
echo "rows: $(psql -c "SELECT format('%s events, %s keys, %s runs, %s plugin rows', (SELECT count(*) FROM s_events), (SELECT count(*) FROM s_keys), (SELECT count(*) FROM s_runs), (SELECT count(*) FROM s_plugins))")"
# Cached, as in a store that is being written to.
psql -c "SELECT count(*) FROM events" -c "SELECT count(*) FROM event_keys" -c "SELECT count(*) FROM runs" -c "SELECT count(*) FROM run_plugins" \
  -c "SELECT count(*) FROM s_events" -c "SELECT count(*) FROM s_keys" -c "SELECT count(*) FROM s_runs" -c "SELECT count(*) FROM s_plugins" >/dev/null

ticks() { bench_server_ticks "$work"; }
hz=$(getconf CLK_TCK)
before=$(ticks)
timings=$(psql <<'SQL'
BEGIN;
SET LOCAL session_replication_role = replica;
SELECT clock_timestamp() AS t0 \gset
INSERT INTO event_keys SELECT * FROM s_keys;
SELECT clock_timestamp() AS t1 \gset
INSERT INTO events SELECT * FROM s_events;
SELECT clock_timestamp() AS t2 \gset
INSERT INTO runs OVERRIDING SYSTEM VALUE SELECT * FROM s_runs;
SELECT clock_timestamp() AS t3 \gset
INSERT INTO run_plugins SELECT * FROM s_plugins;
SELECT clock_timestamp() AS t4 \gset
COMMIT;
SELECT format('keys %s s, events %s s, runs %s s, run plugins %s s, with commit %s s',
  round(extract(epoch FROM :'t1'::timestamptz - :'t0'::timestamptz), 2), round(extract(epoch FROM :'t2'::timestamptz - :'t1'::timestamptz), 2),
  round(extract(epoch FROM :'t3'::timestamptz - :'t2'::timestamptz), 2), round(extract(epoch FROM :'t4'::timestamptz - :'t3'::timestamptz), 2),
  round(extract(epoch FROM clock_timestamp() - :'t0'::timestamptz), 2));
SQL
)
after=$(ticks)
server=$(echo "($after - $before) / $hz" | bc -l)
echo "server floor: $(tail -1 <<<"$timings"); server CPU $(printf '%.2f' "$server") s"
printf 'least CPU for %s events: %.2f s (client) + %.2f s (server) = %.2f s: at most %.0f events/s on 2 cores\n' "$events" \
  "$(echo "$full - $one" | bc)" "$server" "$(echo "$full - $one + $server" | bc)" "$(echo "$events / (($full - $one + $server) / 2)" | bc -l)"
