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

    private const string RunColumns = """
        tool, run_key, installation_id, user_id, occurred_at, started_at, ended_at, command, status,
        duration_ms, tool_version, os_name, os_version, runtime_name, runtime_version, environment,
        is_ci, error_type, event_count, plugins, updated_at
        """;

    /// <summary>A run's columns (all but plugins and updated_at) from the aggregates <c>g</c> of its events.</summary>
    private const string RunProjection = """
        g.tool, g.run_key, g.installation_id, g.user_id,
        coalesce(g.started_at, g.first_at) AS occurred_at, g.started_at, g.ended_at, g.command,
        CASE WHEN g.final_status IS NOT NULL THEN g.final_status
             WHEN g.started_at IS NOT NULL AND g.started_at < @abort_before THEN 'aborted'
             WHEN g.started_at IS NOT NULL THEN 'running'
             ELSE 'unknown' END AS status,
        coalesce(g.duration_ms,
                 CASE WHEN g.started_at IS NOT NULL AND g.ended_at IS NOT NULL
                      THEN (extract(epoch FROM g.ended_at - g.started_at) * 1000)::bigint END) AS duration_ms,
        g.tool_version, g.os_name, g.os_version, g.runtime_name, g.runtime_version, g.environment,
        g.is_ci, g.error_type, g.event_count
        """;

    /// <summary>
    /// The aggregates <c>g</c> of the runs whose events are <c>{events}</c> (an expression naming the
    /// events alias <c>e</c>). Dimensions are the same on every event of one run in practice, so plain
    /// max()/min() pick them (deterministic whatever the arrival order); only the outcome and the error
    /// type need "the latest one", found with one DISTINCT ON sort each rather than an ordered aggregate
    /// per run and column (which costs a sort per run on PostgreSQL 15).
    /// </summary>
    private static string RunSource(string events) => $"""
        (
            SELECT g0.*, t.final_status, x.error_type
            FROM (
                SELECT e.tool, e.run_key,
                       min(e.installation_id) AS installation_id,
                       max(e.user_id) AS user_id,
                       min(e.occurred_at) AS first_at,
                       min(e.occurred_at) FILTER (WHERE e.status = 'started') AS started_at,
                       max(e.occurred_at) FILTER (WHERE e.status IN ('succeeded', 'failed', 'aborted', 'skipped')) AS ended_at,
                       max(e.command) AS command,
                       max(e.duration_ms) AS duration_ms,
                       max(e.tool_version) AS tool_version,
                       max(e.os_name) AS os_name,
                       max(e.os_version) AS os_version,
                       max(e.runtime_name) AS runtime_name,
                       max(e.runtime_version) AS runtime_version,
                       max(e.environment) AS environment,
                       bool_or(e.is_ci) AS is_ci,
                       count(*)::int AS event_count
                FROM {events}
                GROUP BY e.tool, e.run_key
            ) g0
            LEFT JOIN (
                SELECT DISTINCT ON (e.tool, e.run_key) e.tool, e.run_key, e.status AS final_status
                FROM {events}
                WHERE e.status IN ('succeeded', 'failed', 'aborted', 'skipped')
                ORDER BY e.tool, e.run_key, e.occurred_at DESC, e.id DESC
            ) t ON t.tool = g0.tool AND t.run_key = g0.run_key
            LEFT JOIN (
                SELECT DISTINCT ON (e.tool, e.run_key) e.tool, e.run_key, e.error_type
                FROM {events}
                WHERE e.error_type IS NOT NULL
                ORDER BY e.tool, e.run_key, e.occurred_at DESC, e.id DESC
            ) x ON x.tool = g0.tool AND x.run_key = g0.run_key
        ) g
        """;

    private const string AffectedEvents = "events e JOIN affected_runs a ON a.tool = e.tool AND a.run_key = e.run_key";

    public static readonly string UpsertRuns = $"""
        INSERT INTO runs AS r ({RunColumns})
        SELECT {RunProjection}, '[]'::jsonb, @now
        FROM {RunSource(AffectedEvents)}
        ON CONFLICT (tool, run_key) DO UPDATE SET
            installation_id = excluded.installation_id, user_id = excluded.user_id, occurred_at = excluded.occurred_at,
            started_at = excluded.started_at, ended_at = excluded.ended_at, command = excluded.command, status = excluded.status,
            duration_ms = excluded.duration_ms, tool_version = excluded.tool_version, os_name = excluded.os_name,
            os_version = excluded.os_version, runtime_name = excluded.runtime_name, runtime_version = excluded.runtime_version,
            environment = excluded.environment, is_ci = excluded.is_ci, error_type = excluded.error_type,
            event_count = excluded.event_count, updated_at = excluded.updated_at;
        """;

    private const string PluginRecords = "CROSS JOIN LATERAL jsonb_to_recordset(e.plugins) AS x(name text, type text, version text, status text)";

    /// <summary>One plugin's version and own outcome over the events <c>e</c> of a run, grouped by (name, type).</summary>
    private const string PluginAggregates = """
        x.name, coalesce(x.type, '') AS type,
        coalesce(max(x.version), '') AS version,
        CASE WHEN bool_or(x.status = 'failed') THEN 'failed'
             WHEN bool_or(x.status = 'aborted') THEN 'aborted'
             WHEN bool_or(x.status = 'succeeded') THEN 'succeeded'
             WHEN bool_or(x.status = 'skipped') THEN 'skipped'
             ELSE 'unknown' END AS status
        """;

    /// <summary>A plugin's outcome (<c>p</c>) in its run (<c>r</c>).</summary>
    private const string PluginOutcome = "CASE WHEN p.status <> 'unknown' THEN p.status ELSE r.status END";

    /// <summary>A run_plugins row <c>rp</c> as an element of runs.plugins.</summary>
    private const string PluginJson = "jsonb_build_object('name', rp.name, 'type', nullif(rp.type, ''), 'version', nullif(rp.version, ''), 'status', rp.status)";

    /// <summary>
    /// A plugin's outcome is its own where the source says (dbt run_model, native plugins[].status);
    /// otherwise it shares its run's outcome, since a plugin in a failed Meltano run failed with it.
    /// </summary>
    public static readonly string RefreshRunPlugins = $"""
        DELETE FROM run_plugins rp USING runs r, affected_runs a
        WHERE rp.run_id = r.id AND r.tool = a.tool AND r.run_key = a.run_key;

        INSERT INTO run_plugins (run_id, tool, name, type, version, status, occurred_at, installation_id, is_ci)
        SELECT r.id, r.tool, p.name, p.type, p.version,
               {PluginOutcome},
               r.occurred_at, r.installation_id, r.is_ci
        FROM runs r
        JOIN affected_runs a ON a.tool = r.tool AND a.run_key = r.run_key
        CROSS JOIN LATERAL (
            SELECT {PluginAggregates}
            FROM events e
            {PluginRecords}
            WHERE e.tool = r.tool AND e.run_key = r.run_key AND e.plugins <> '[]'::jsonb AND x.name IS NOT NULL
            GROUP BY x.name, coalesce(x.type, '')
        ) p;

        UPDATE runs r SET plugins = coalesce((
            SELECT jsonb_agg({PluginJson} ORDER BY rp.name, rp.type)
            FROM run_plugins rp WHERE rp.run_id = r.id), '[]'::jsonb)
        FROM affected_runs a
        WHERE r.tool = a.tool AND r.run_key = a.run_key AND r.event_count > 0;
        """;

    /// <summary>
    /// Derives every run, its plugins and every installation from all events in one pass each, for a
    /// store whose runs, run_plugins and installations are empty (the bulk load). The same aggregates
    /// and outcome rules as the incremental statements above, so the result is the same as loading
    /// the events one batch at a time; set-based joins instead of per-run lookups make it fast.
    /// </summary>
    public static readonly string DeriveAll = $"""
        CREATE TEMP TABLE derived_runs ON COMMIT DROP AS
        SELECT {RunProjection}
        FROM {RunSource("events e")};

        CREATE TEMP TABLE derived_plugins ON COMMIT DROP AS
        SELECT p.tool, p.run_key, p.name, p.type, p.version, {PluginOutcome} AS status
        FROM (
            SELECT e.tool, e.run_key, {PluginAggregates}
            FROM events e
            {PluginRecords}
            WHERE e.plugins <> '[]'::jsonb AND x.name IS NOT NULL
            GROUP BY e.tool, e.run_key, x.name, coalesce(x.type, '')
        ) p
        JOIN derived_runs r ON r.tool = p.tool AND r.run_key = p.run_key;

        INSERT INTO runs ({RunColumns})
        SELECT r.tool, r.run_key, r.installation_id, r.user_id, r.occurred_at, r.started_at, r.ended_at, r.command, r.status,
               r.duration_ms, r.tool_version, r.os_name, r.os_version, r.runtime_name, r.runtime_version, r.environment,
               r.is_ci, r.error_type, r.event_count, coalesce(j.plugins, '[]'::jsonb), @now
        FROM derived_runs r
        LEFT JOIN (
            SELECT rp.tool, rp.run_key, jsonb_agg({PluginJson} ORDER BY rp.name, rp.type) AS plugins
            FROM derived_plugins rp GROUP BY rp.tool, rp.run_key
        ) j ON j.tool = r.tool AND j.run_key = r.run_key;

        INSERT INTO run_plugins (run_id, tool, name, type, version, status, occurred_at, installation_id, is_ci)
        SELECT r.id, r.tool, p.name, p.type, p.version, p.status, r.occurred_at, r.installation_id, r.is_ci
        FROM derived_plugins p
        JOIN runs r ON r.tool = p.tool AND r.run_key = p.run_key;

        INSERT INTO installations (tool, installation_id, first_seen, last_seen)
        SELECT tool, installation_id, min(occurred_at), max(occurred_at) FROM events GROUP BY tool, installation_id;
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
