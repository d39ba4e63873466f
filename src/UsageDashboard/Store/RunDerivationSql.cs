namespace UsageDashboard.Store;

/// <summary>
/// The one place runs are derived from events. A run is a pure function of all the events that share
/// its (tool, run_key), recomputed whenever one of them arrives, so arrival order, an end before its
/// start, and re-sent events cannot change the result. The incremental statements read the keys to
/// refresh from the temp table <c>affected_runs(tool, run_key)</c>; parameters: <c>@now</c>, <c>@abort_before</c>.
/// </summary>
internal static class RunDerivationSql
{
    /// <summary>
    /// The session's work tables, created on first use. They keep their rows across commits (see
    /// EventWriter's s_prepareWorkTables for why), so every write empties them first.
    /// </summary>
    public static readonly string CreateWorkTables = $"""
        CREATE TEMP TABLE IF NOT EXISTS affected_runs (tool text NOT NULL, run_key text NOT NULL, PRIMARY KEY (tool, run_key));
        CREATE TEMP TABLE IF NOT EXISTS derived_runs AS SELECT {DerivedColumns} FROM runs WITH NO DATA;
        CREATE TEMP TABLE IF NOT EXISTS derived_plugins (tool text, run_key text, name text, type text, version text, status text);
        CREATE TEMP TABLE IF NOT EXISTS changed_runs (id bigint, tool text, run_key text, occurred_at timestamptz, installation_id text, is_ci boolean);
        CREATE TEMP TABLE IF NOT EXISTS new_runs AS SELECT {RunColumns} FROM runs WITH NO DATA;
        """;

    /// <summary>The work tables of <see cref="CreateWorkTables"/>, for a TRUNCATE.</summary>
    public const string WorkTables = "affected_runs, derived_runs, derived_plugins, changed_runs, new_runs";

    /// <summary>Empties the work tables row by row (no file operations).</summary>
    public const string ClearWorkTables = "DELETE FROM affected_runs; DELETE FROM derived_runs; DELETE FROM derived_plugins; DELETE FROM changed_runs;";


    /// <summary>
    /// What a write keeps of each event it stored (the temp table <c>inserted_events</c>): every column
    /// the derivation reads, so a new run can be derived from the write's own rows.
    /// </summary>
    public const string InsertedColumns = """
        id, tool, run_key, installation_id, user_id, occurred_at, status, command, duration_ms, tool_version,
        os_name, os_version, runtime_name, runtime_version, environment, is_ci, error_type, plugins, event_id
        """;

    /// <summary>The columns of an event <c>e</c> that derivation reads.</summary>
    private const string EventColumns = """
        e.id, e.tool, e.run_key, e.installation_id, e.user_id, e.occurred_at, e.status, e.command,
        e.duration_ms, e.tool_version, e.os_name, e.os_version, e.runtime_name, e.runtime_version,
        e.environment, e.is_ci, e.error_type, e.plugins
        """;

    /// <summary>A run's derived columns, in the order of <see cref="RunProjection"/>.</summary>
    private const string DerivedColumns = """
        tool, run_key, installation_id, user_id, occurred_at, started_at, ended_at, command, status,
        duration_ms, tool_version, os_name, os_version, runtime_name, runtime_version, environment,
        is_ci, error_type, event_count
        """;

    private const string PrefixedDerivedColumns = """
        d.tool, d.run_key, d.installation_id, d.user_id, d.occurred_at, d.started_at, d.ended_at, d.command, d.status,
        d.duration_ms, d.tool_version, d.os_name, d.os_version, d.runtime_name, d.runtime_version, d.environment,
        d.is_ci, d.error_type, d.event_count
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
    /// Serialises derivation per run across concurrent writers: each transaction takes a lock per
    /// affected (tool, run_key), in a fixed order so two writers cannot deadlock on them, before it
    /// reads the run's events. The next statement (a new snapshot under READ COMMITTED) then sees every
    /// event of the run that an earlier writer committed, so no writer derives from a stale set of
    /// events and overwrites a newer result. Hash collisions only make unrelated runs wait.
    /// </summary>
    public static readonly string LockAffected = LockRuns("affected_runs");

    /// <summary><see cref="LockAffected"/> for the runs (tool, run_key) of <paramref name="table"/>.</summary>
    private static string LockRuns(string table) => $"""
        SELECT count(pg_advisory_xact_lock(1381322323, h)) FROM (
            SELECT DISTINCT hashtext(tool || '/' || run_key) AS h FROM {table} ORDER BY 1) k;
        """;

    /// <summary>
    /// Aggregates the affected runs and their plugins into the temp tables <c>derived_runs</c> and
    /// <c>derived_plugins</c>, reading each run's events once (a materialized CTE feeds the run
    /// aggregates, both "latest" picks and the plugin expansion).
    /// </summary>
    /// <remarks>
    /// A run with no stored row has no committed events: every write derives the runs of the events it
    /// stores before it commits, and retention drops events but never runs. Under the run's lock (taken
    /// by <see cref="LockAffected"/> before this statement's snapshot) all events of such a run are
    /// therefore this write's own, and they are read from <c>inserted_events</c> instead of probing the
    /// <c>(tool, run_key)</c> index of every events partition. Runs already stored are read from
    /// <c>events</c> as before, so the result is the same either way.
    /// </remarks>
    public static readonly string DeriveAffected = $"""
        WITH ae AS MATERIALIZED (
            SELECT {EventColumns}
            FROM inserted_events e JOIN affected_runs a ON a.tool = e.tool AND a.run_key = e.run_key
            WHERE NOT EXISTS (SELECT 1 FROM runs r WHERE r.tool = a.tool AND r.run_key = a.run_key)
            UNION ALL
            SELECT {EventColumns}
            FROM events e JOIN affected_runs a ON a.tool = e.tool AND a.run_key = e.run_key
            WHERE EXISTS (SELECT 1 FROM runs r WHERE r.tool = a.tool AND r.run_key = a.run_key)
        ), dr AS (
            INSERT INTO derived_runs ({DerivedColumns})
            SELECT {RunProjection}
            FROM {RunSource("ae e")}
            RETURNING tool, run_key, status
        )
        INSERT INTO derived_plugins (tool, run_key, name, type, version, status)
        SELECT p.tool, p.run_key, p.name, p.type, p.version, {PluginOutcome}
        FROM (
            SELECT e.tool, e.run_key, {PluginAggregates}
            FROM ae e
            {PluginRecords}
            WHERE e.plugins <> '[]'::jsonb AND x.name IS NOT NULL
            GROUP BY e.tool, e.run_key, x.name, coalesce(x.type, '')
        ) p
        JOIN dr r ON r.tool = p.tool AND r.run_key = p.run_key;
        """;

    /// <summary>
    /// Writes the derived runs (with their plugins json) and records in <c>changed_runs</c> the ones it
    /// wrote. An existing run is only replaced by a derivation over more events than it counts: that is
    /// always so when new events arrived, except when retention has dropped the run's older events; then
    /// the stored run, the long-term record, stays as it was rather than shrink to the events still kept.
    /// </summary>
    public static readonly string UpsertDerivedRuns = $"""
        WITH up AS (
            INSERT INTO runs AS r ({RunColumns})
            SELECT {PrefixedDerivedColumns}, coalesce(j.plugins, '[]'::jsonb), @now
            FROM derived_runs d
            LEFT JOIN (
                SELECT rp.tool, rp.run_key, jsonb_agg({PluginJson} ORDER BY rp.name, rp.type) AS plugins
                FROM derived_plugins rp GROUP BY rp.tool, rp.run_key
            ) j ON j.tool = d.tool AND j.run_key = d.run_key
            ON CONFLICT (tool, run_key) DO UPDATE SET
                installation_id = excluded.installation_id, user_id = excluded.user_id, occurred_at = excluded.occurred_at,
                started_at = excluded.started_at, ended_at = excluded.ended_at, command = excluded.command, status = excluded.status,
                duration_ms = excluded.duration_ms, tool_version = excluded.tool_version, os_name = excluded.os_name,
                os_version = excluded.os_version, runtime_name = excluded.runtime_name, runtime_version = excluded.runtime_version,
                environment = excluded.environment, is_ci = excluded.is_ci, error_type = excluded.error_type,
                event_count = excluded.event_count, plugins = excluded.plugins, updated_at = excluded.updated_at
            WHERE excluded.event_count > r.event_count
            RETURNING r.id, r.tool, r.run_key, r.occurred_at, r.installation_id, r.is_ci
        )
        INSERT INTO changed_runs SELECT * FROM up;
        """;

    /// <summary>
    /// Brings run_plugins of the changed runs in line with <c>derived_plugins</c>, touching only rows
    /// that differ: most re-derivations leave a run's plugin rows as they were, and every rewritten row
    /// costs index maintenance (and, for statement-level triggers on run_plugins, work downstream).
    /// </summary>
    public static readonly string SyncRunPlugins = $"""
        DELETE FROM run_plugins rp USING changed_runs c
        WHERE rp.run_id = c.id
          -- Probes the key by run id whatever the planner guesses about the temp table's size: a hash
          -- join over run_plugins instead costs a scan of the whole table per write.
          AND rp.run_id = ANY (ARRAY(SELECT id FROM changed_runs))
          AND ((rp.occurred_at, rp.installation_id, rp.is_ci) IS DISTINCT FROM (c.occurred_at, c.installation_id, c.is_ci)
               OR NOT EXISTS (
                   SELECT 1 FROM derived_plugins p
                   WHERE p.tool = c.tool AND p.run_key = c.run_key AND p.name = rp.name AND p.type = rp.type
                     AND p.version = rp.version AND p.status = rp.status));

        INSERT INTO run_plugins (run_id, tool, name, type, version, status, occurred_at, installation_id, is_ci)
        SELECT c.id, c.tool, p.name, p.type, p.version, p.status, c.occurred_at, c.installation_id, c.is_ci
        FROM derived_plugins p
        JOIN changed_runs c ON c.tool = p.tool AND c.run_key = p.run_key
        ON CONFLICT (run_id, name, type) DO NOTHING;
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

    /// <summary>
    /// Stores runs derived in memory from a write's new events (<see cref="BulkRunDerivation"/>), COPYed into
    /// <c>new_runs</c> with their plugins (outcomes decided) in <c>derived_plugins</c>. Under the same per-run
    /// locks as <see cref="LockAffected"/>, a run that is not stored yet has no events but this write's
    /// (see <see cref="DeriveAffected"/>), so its derivation from them is the whole derivation and it is
    /// inserted as is, with no read of <c>events</c>, no aggregation in SQL and no upsert; its plugins
    /// follow in the same statement, under the ids it got. A run that is already stored (its other events
    /// came in an earlier write) conflicts, is left untouched here and goes into <c>affected_runs</c>, whose
    /// count is the last result: the caller derives those again from all their events
    /// (<see cref="DeriveAffected"/>). The installations are the write's own, aggregated in memory too
    /// (parameters <c>@i_tool</c>, <c>@i_installation</c>, <c>@i_first</c>, <c>@i_last</c>). Only the staged
    /// tables are read, so a write leaves <c>affected_runs</c> and <c>changed_runs</c> empty (no dead rows
    /// to truncate) unless some of its runs were stored.
    /// </summary>
    public static readonly string InsertNewRuns = $"""
        {LockRuns("new_runs")}
        WITH up AS (
            INSERT INTO runs ({RunColumns})
            SELECT {RunColumns} FROM new_runs
            ON CONFLICT (tool, run_key) DO NOTHING
            RETURNING id, tool, run_key, occurred_at, installation_id, is_ci
        ), plugins AS (
            INSERT INTO run_plugins (run_id, tool, name, type, version, status, occurred_at, installation_id, is_ci)
            SELECT up.id, up.tool, p.name, p.type, p.version, p.status, up.occurred_at, up.installation_id, up.is_ci
            FROM derived_plugins p JOIN up ON up.tool = p.tool AND up.run_key = p.run_key
        )
        INSERT INTO affected_runs
        SELECT n.tool, n.run_key FROM new_runs n
        WHERE NOT EXISTS (SELECT 1 FROM up WHERE up.tool = n.tool AND up.run_key = n.run_key);
        {UpsertInstallations("""
            SELECT i.tool, i.installation_id, i.first_seen, i.last_seen
            FROM unnest(@i_tool::text[], @i_installation::text[], @i_first::timestamptz[], @i_last::timestamptz[])
                 AS i(tool, installation_id, first_seen, last_seen)
            """)}
        SELECT count(*) FROM affected_runs;
        """;

    /// <summary>
    /// Upserts the installations of <paramref name="source"/> (rows of tool, installation_id, first_seen,
    /// last_seen, one per installation). Installations come last in a write: batches of one busy tool touch
    /// the same installation rows, and a row lock taken just before commit lets two writers overlap instead
    /// of queueing for the whole derivation. Sorted, so the two writers take those locks in the same order.
    /// </summary>
    public static string UpsertInstallations(string source) => $"""
        INSERT INTO installations (tool, installation_id, first_seen, last_seen)
        SELECT s.tool, s.installation_id, s.first_seen, s.last_seen FROM ({source}) s ORDER BY s.tool, s.installation_id
        ON CONFLICT (tool, installation_id) DO UPDATE SET
            first_seen = least(installations.first_seen, excluded.first_seen),
            last_seen = greatest(installations.last_seen, excluded.last_seen)
        WHERE excluded.first_seen < installations.first_seen OR excluded.last_seen > installations.last_seen;
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
