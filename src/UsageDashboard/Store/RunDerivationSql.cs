namespace UsageDashboard.Store;

/// <summary>
/// The one place runs are derived from events. A run is a pure function of all the events that share
/// its (tool, run_key), recomputed whenever one of them arrives, so arrival order, an end before its
/// start, and re-sent events cannot change the result. Statements read the keys to refresh from the
/// temp table <c>affected_runs(tool, run_key)</c>; parameters: <c>@now</c>, <c>@abort_before</c>.
/// </summary>
internal static class RunDerivationSql
{
    public const string CreateAffected = """
        CREATE TEMP TABLE IF NOT EXISTS affected_runs (tool text NOT NULL, run_key text NOT NULL, PRIMARY KEY (tool, run_key)) ON COMMIT DELETE ROWS;
        """;

    public const string UpsertRuns = """
        INSERT INTO runs AS r (tool, run_key, installation_id, user_id, occurred_at, started_at, ended_at, command, status,
                               duration_ms, tool_version, os_name, os_version, runtime_name, runtime_version, environment,
                               is_ci, error_type, event_count, plugins, updated_at)
        SELECT g.tool, g.run_key, g.installation_id, g.user_id,
               coalesce(g.started_at, g.first_at), g.started_at, g.ended_at, g.command,
               CASE WHEN g.final_status IS NOT NULL THEN g.final_status
                    WHEN g.started_at IS NOT NULL AND g.started_at < @abort_before THEN 'aborted'
                    WHEN g.started_at IS NOT NULL THEN 'running'
                    ELSE 'unknown' END,
               coalesce(g.duration_ms,
                        CASE WHEN g.started_at IS NOT NULL AND g.ended_at IS NOT NULL
                             THEN (extract(epoch FROM g.ended_at - g.started_at) * 1000)::bigint END),
               g.tool_version, g.os_name, g.os_version, g.runtime_name, g.runtime_version, g.environment,
               g.is_ci, g.error_type, g.event_count, '[]'::jsonb, @now
        FROM (
            SELECT e.tool, e.run_key,
                   (array_agg(e.installation_id ORDER BY e.occurred_at, e.id))[1] AS installation_id,
                   (array_agg(e.user_id ORDER BY e.occurred_at, e.id) FILTER (WHERE e.user_id IS NOT NULL))[1] AS user_id,
                   min(e.occurred_at) AS first_at,
                   min(e.occurred_at) FILTER (WHERE e.status = 'started') AS started_at,
                   max(e.occurred_at) FILTER (WHERE e.status IN ('succeeded', 'failed', 'aborted', 'skipped')) AS ended_at,
                   (array_agg(e.status ORDER BY e.occurred_at DESC, e.id DESC)
                        FILTER (WHERE e.status IN ('succeeded', 'failed', 'aborted', 'skipped')))[1] AS final_status,
                   (array_agg(e.command ORDER BY e.occurred_at, e.id) FILTER (WHERE e.command IS NOT NULL))[1] AS command,
                   max(e.duration_ms) AS duration_ms,
                   (array_agg(e.tool_version ORDER BY e.occurred_at DESC, e.id DESC) FILTER (WHERE e.tool_version IS NOT NULL))[1] AS tool_version,
                   (array_agg(e.os_name ORDER BY e.occurred_at DESC, e.id DESC) FILTER (WHERE e.os_name IS NOT NULL))[1] AS os_name,
                   (array_agg(e.os_version ORDER BY e.occurred_at DESC, e.id DESC) FILTER (WHERE e.os_version IS NOT NULL))[1] AS os_version,
                   (array_agg(e.runtime_name ORDER BY e.occurred_at DESC, e.id DESC) FILTER (WHERE e.runtime_name IS NOT NULL))[1] AS runtime_name,
                   (array_agg(e.runtime_version ORDER BY e.occurred_at DESC, e.id DESC) FILTER (WHERE e.runtime_version IS NOT NULL))[1] AS runtime_version,
                   (array_agg(e.environment ORDER BY e.occurred_at DESC, e.id DESC) FILTER (WHERE e.environment IS NOT NULL))[1] AS environment,
                   bool_or(e.is_ci) AS is_ci,
                   (array_agg(e.error_type ORDER BY e.occurred_at DESC, e.id DESC) FILTER (WHERE e.error_type IS NOT NULL))[1] AS error_type,
                   count(*)::int AS event_count
            FROM events e
            JOIN affected_runs a ON a.tool = e.tool AND a.run_key = e.run_key
            GROUP BY e.tool, e.run_key
        ) g
        ON CONFLICT (tool, run_key) DO UPDATE SET
            installation_id = excluded.installation_id, user_id = excluded.user_id, occurred_at = excluded.occurred_at,
            started_at = excluded.started_at, ended_at = excluded.ended_at, command = excluded.command, status = excluded.status,
            duration_ms = excluded.duration_ms, tool_version = excluded.tool_version, os_name = excluded.os_name,
            os_version = excluded.os_version, runtime_name = excluded.runtime_name, runtime_version = excluded.runtime_version,
            environment = excluded.environment, is_ci = excluded.is_ci, error_type = excluded.error_type,
            event_count = excluded.event_count, updated_at = excluded.updated_at;
        """;

    /// <summary>
    /// A plugin's outcome is its own where the source says (dbt run_model, native plugins[].status);
    /// otherwise it shares its run's outcome, since a plugin in a failed Meltano run failed with it.
    /// </summary>
    public const string RefreshRunPlugins = """
        DELETE FROM run_plugins rp USING runs r, affected_runs a
        WHERE rp.run_id = r.id AND r.tool = a.tool AND r.run_key = a.run_key;

        INSERT INTO run_plugins (run_id, tool, name, type, version, status, occurred_at, installation_id, is_ci)
        SELECT r.id, r.tool, p.name, p.type, p.version,
               CASE WHEN p.status <> 'unknown' THEN p.status ELSE r.status END,
               r.occurred_at, r.installation_id, r.is_ci
        FROM runs r
        JOIN affected_runs a ON a.tool = r.tool AND a.run_key = r.run_key
        CROSS JOIN LATERAL (
            SELECT x.name, coalesce(x.type, '') AS type,
                   coalesce((array_agg(x.version ORDER BY e.occurred_at DESC, e.id DESC) FILTER (WHERE x.version IS NOT NULL))[1], '') AS version,
                   CASE WHEN bool_or(x.status = 'failed') THEN 'failed'
                        WHEN bool_or(x.status = 'aborted') THEN 'aborted'
                        WHEN bool_or(x.status = 'succeeded') THEN 'succeeded'
                        WHEN bool_or(x.status = 'skipped') THEN 'skipped'
                        ELSE 'unknown' END AS status
            FROM events e
            CROSS JOIN LATERAL jsonb_to_recordset(e.plugins) AS x(name text, type text, version text, status text)
            WHERE e.tool = r.tool AND e.run_key = r.run_key AND x.name IS NOT NULL
            GROUP BY x.name, coalesce(x.type, '')
        ) p;

        UPDATE runs r SET plugins = coalesce((
            SELECT jsonb_agg(jsonb_build_object('name', rp.name, 'type', nullif(rp.type, ''), 'version', nullif(rp.version, ''), 'status', rp.status) ORDER BY rp.name, rp.type)
            FROM run_plugins rp WHERE rp.run_id = r.id), '[]'::jsonb)
        FROM affected_runs a
        WHERE r.tool = a.tool AND r.run_key = a.run_key AND r.event_count > 0;
        """;

    /// <summary>Runs still open after Runs:AbortAfter become aborted, and so do their plugins.</summary>
    public const string AbortStale = """
        WITH stale AS (
            UPDATE runs r SET status = 'aborted', updated_at = @now,
                plugins = coalesce((
                    SELECT jsonb_agg(CASE WHEN p->>'status' = 'running' THEN jsonb_set(p, '{status}', '"aborted"') ELSE p END ORDER BY p->>'name')
                    FROM jsonb_array_elements(r.plugins) p), '[]'::jsonb)
            WHERE r.status = 'running' AND r.started_at < @abort_before
            RETURNING r.id
        ), plugins AS (
            UPDATE run_plugins SET status = 'aborted'
            WHERE run_id IN (SELECT id FROM stale) AND status = 'running'
        )
        SELECT count(*)::int FROM stale;
        """;
}
