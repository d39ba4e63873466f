-- Synthetic plugin telemetry for benchmarking the hub (the demo generator sends no plugins):
-- tool 'meltano', 200 plugins x 4 versions, 300,000 runs over 30 days from 5,000 installations.
-- psql "host=.data/postgres/socket dbname=usage user=postgres" -f tests/bench/hub-data.sql
BEGIN;
INSERT INTO installations (tool, installation_id, first_seen, last_seen)
SELECT 'meltano', 'bench-' || i, now() - interval '60 days', now() FROM generate_series(1, 5000) i
ON CONFLICT DO NOTHING;
WITH r AS (
    INSERT INTO runs (tool, run_key, installation_id, occurred_at, status, tool_version, is_ci, event_count, updated_at, plugins)
    SELECT 'meltano', 'bench-run-' || i, 'bench-' || (1 + (i::bigint * 7919) % 5000),
           now() - (i % 43200) * interval '1 minute',
           CASE WHEN i % 37 = 0 THEN 'failed' ELSE 'succeeded' END, '3.5.0', i % 10 = 0, 1, now(), '[]'::jsonb
    FROM generate_series(1, 300000) i
    RETURNING id, installation_id, occurred_at, status, is_ci, run_key
)
INSERT INTO run_plugins (run_id, tool, name, type, version, status, occurred_at, installation_id, is_ci)
SELECT r.id, 'meltano', 'tap-bench-' || (substr(r.run_key, 11)::int % 200), 'extractors',
       '1.' || (substr(r.run_key, 11)::int % 4) || '.0', r.status, r.occurred_at, r.installation_id, r.is_ci
FROM r;
INSERT INTO run_plugins (run_id, tool, name, type, version, status, occurred_at, installation_id, is_ci)
SELECT id, 'meltano', 'tap-github', 'extractors', '1.4.2', status, occurred_at, installation_id, is_ci FROM runs
WHERE tool = 'meltano' AND run_key LIKE 'bench-run-%' AND substr(run_key, 11)::int % 3 = 0;
COMMIT;
ANALYZE runs; ANALYZE run_plugins;
