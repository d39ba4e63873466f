using System.Text.Json;
using Microsoft.Extensions.Options;
using Npgsql;

namespace UsageDashboard.Store;

/// <summary>What a write did: new events stored, and events already stored before (same tool and id).</summary>
public sealed record WriteResult(int Accepted, int Duplicates)
{
    public static readonly WriteResult Empty = new(0, 0);
    public WriteResult Add(WriteResult other) => new(Accepted + other.Accepted, Duplicates + other.Duplicates);
}

/// <summary>
/// The single write path into the event store, used by the collector, the bulk importer and the demo
/// loader: binary COPY into a staging table, an idempotent insert (a re-sent event is a duplicate, not a
/// second count), then the runs and installations those events touch are derived again, all in one
/// transaction so a success means every accepted event is durable and counted.
/// </summary>
public sealed partial class EventWriter(NpgsqlDataSource dataSource, TimeProvider time, IOptions<RunOptions> runOptions,
    ILogger<EventWriter>? logger = null)
{
    private static readonly JsonSerializerOptions s_json = new(JsonSerializerDefaults.Web)
    {
        DefaultIgnoreCondition = System.Text.Json.Serialization.JsonIgnoreCondition.WhenWritingNull,
    };

    private const string Columns =
        "event_id, tool, source, installation_id, user_id, occurred_at, received_at, clock_adjusted, event_name, run_key, " +
        "command, status, duration_ms, tool_version, os_name, os_version, runtime_name, runtime_version, environment, is_ci, " +
        "error_type, properties, plugins";

    private const string PrefixedColumns =
        "i.event_id, i.tool, i.source, i.installation_id, i.user_id, i.occurred_at, i.received_at, i.clock_adjusted, i.event_name, i.run_key, " +
        "i.command, i.status, i.duration_ms, i.tool_version, i.os_name, i.os_version, i.runtime_name, i.runtime_version, i.environment, i.is_ci, " +
        "i.error_type, i.properties, i.plugins";

    /// <summary>
    /// The session's staging and work tables, created if missing at the start of every write, except on
    /// a pool that creates them once per physical connection (<see cref="CreateWorkTablesAsync"/> as its
    /// connection initializer: the collector's; see WriteAsync's <c>workTablesReady</c>).
    /// </summary>
    private static readonly string s_createWorkTables = $"""
        CREATE TEMP TABLE IF NOT EXISTS incoming_events AS SELECT {Columns} FROM events WITH NO DATA;
        CREATE TEMP TABLE IF NOT EXISTS inserted_events AS SELECT {RunDerivationSql.InsertedColumns} FROM events WITH NO DATA;
        {RunDerivationSql.CreateWorkTables}
        """;

    /// <summary>The larger staging table's size: a large write fills incoming_events, a small one only inserted_events.</summary>
    private const string WorkTablesBytes = "greatest(pg_relation_size('pg_temp.incoming_events'), pg_relation_size('pg_temp.inserted_events'))";

    private const string TruncateWorkTables = $"TRUNCATE incoming_events, inserted_events, {RunDerivationSql.WorkTables}";

    /// <summary>
    /// Each work table's size past which a large write truncates it (<see cref="s_prepareWorkTables"/>). The
    /// planner estimates a temp table's rows from its pages, dead rows included, so the tables that the SQL
    /// derivation joins with permanent tables get a small limit: at 4 MB of staged events it took
    /// changed_runs for a big table and hash-joined all of run_plugins (35 s for 93 writes). The limits keep
    /// them about as large as they were when they were all truncated with a 1 MB staging table. The others
    /// are only ever scanned whole or probed into permanent tables by key.
    /// </summary>
    private static readonly (string Table, long Bytes)[] s_workTableLimits =
    [
        ("incoming_events", WorkTablesTruncateBytes), ("inserted_events", WorkTablesTruncateBytes),
        ("new_runs", WorkTablesTruncateBytes), ("derived_plugins", WorkTablesTruncateBytes),
        ("affected_runs", WorkTablesTruncateBytes / 16), ("derived_runs", WorkTablesTruncateBytes / 16),
        ("changed_runs", WorkTablesTruncateBytes / 16),
    ];

    /// <summary>
    /// Creates the session's staging and work tables on first use and empties them. They live as long as
    /// the pooled connection, so steady-state writes pay no DDL. They are emptied here rather than by
    /// ON COMMIT DELETE ROWS: that truncates every touched table's files in place at commit, which cost
    /// ~14 ms per commit on this machine's ext4 (mounted with online discard), more than a whole
    /// 10-event group commit otherwise takes. A DELETE leaves dead rows behind that only a TRUNCATE
    /// (new files) reclaims (autovacuum never visits temp tables), so each table is truncated instead once
    /// it has grown past its limit in <see cref="s_workTableLimits"/>, and only then: a TRUNCATE of all of
    /// them (with their TOAST tables and indexes, some twenty files) took 18-23 ms here, one of the staging
    /// table alone 3.7 ms, and a large write that derives in memory leaves most of them empty.
    /// </summary>
    private static readonly string s_prepareWorkTables = $"""
        {NoJit}
        {s_createWorkTables}
        DO $$
        BEGIN
        {string.Concat(s_workTableLimits.Select(t => $"""
            IF pg_relation_size('pg_temp.{t.Table}') > {t.Bytes} THEN TRUNCATE {t.Table}; ELSE DELETE FROM {t.Table}; END IF;

            """))}
        END
        $$;
        """;

    /// <summary>
    /// Every write transaction starts with this (the small write's command, the large write's first
    /// round trip). PostgreSQL's default <c>jit = on</c> compiles every statement whose estimated cost
    /// passes <c>jit_above_cost</c>, at every execution, which costs far more than the write itself: the
    /// small write's <c>enable_seqscan = off</c> puts its statements over the work tables there (a cost
    /// of ~1e10 for a few rows), and the large write's statements over a big store pass it for real.
    /// </summary>
    internal const string NoJit = "SET LOCAL jit = off;";

    /// <summary>
    /// Writes of at most this many events (single-event requests and their group commits) run their
    /// statements prepared. Planning was most of their database time: at 300 single-event requests/s
    /// on the 1M store (`pg_stat_statements` with `track_planning`, about 2.3 events per group commit)
    /// the write's statements took 8.3 s to plan and 9.6 s to execute, the derivation alone 2.1 ms of
    /// planning per write (its join over every events partition). A prepared statement keeps its plan
    /// for the session, made for whatever the work tables held then, so larger writes, whose best plans
    /// depend on their size, are planned each time as before. See <see cref="s_smallWrite"/>.
    /// </summary>
    internal const int PreparedWriteMaxEvents = 64;

    /// <summary>
    /// The staging table's size beyond which the next write truncates the work tables instead of deleting
    /// their rows. Small, because the planner estimates a temp table's rows from its pages, dead rows
    /// included: at 4 MB it took changed_runs for a big table and hash-joined all of run_plugins (35 s
    /// for 93 writes). 1 MB is ~1,700 staged events.
    /// </summary>
    internal const long WorkTablesTruncateBytes = 1024 * 1024;

    /// <summary>Writes <paramref name="events"/> in its own transaction.</summary>
    public async Task<WriteResult> WriteAsync(IReadOnlyList<TelemetryEvent> events, CancellationToken ct)
    {
        if (events.Count == 0)
        {
            return WriteResult.Empty;
        }
        await using var conn = await dataSource.OpenConnectionAsync(ct);
        await using var tx = await conn.BeginTransactionAsync(ct);
        var result = await WriteAsync(conn, events, ct);
        await tx.CommitAsync(ct);
        return result;
    }

    /// <summary>
    /// Writes inside the caller's open transaction on <paramref name="conn"/> (so quarantine rows commit
    /// with it). When <paramref name="insertedKeys"/> is given, it receives the (tool, event id) of every
    /// event this call stored for the first time, so callers that merge several requests into one write
    /// can tell each request exactly which of its events were new.
    /// </summary>
    public async Task<WriteResult> WriteAsync(NpgsqlConnection conn, IReadOnlyList<TelemetryEvent> events, CancellationToken ct,
        ISet<(string Tool, Guid EventId)>? insertedKeys = null, bool workTablesReady = false)
    {
        if (events.Count == 0)
        {
            return WriteResult.Empty;
        }
        if (events.Count <= PreparedWriteMaxEvents)
        {
            if (!workTablesReady)
            {
                // Prepared statements are parsed before any of them runs, so the tables must exist first.
                await CreateWorkTablesAsync(conn, ct);
            }
            return await WriteSmallAsync(conn, events, insertedKeys, ct);
        }
        await StageAsync(conn, events, ct);
        if (await DerivesInMemoryAsync(conn, ct))
        {
            return await InsertStagedDerivingInMemoryAsync(conn, events, insertedKeys, ct);
        }
        await using var insert = new NpgsqlCommand(s_insertStaged, conn);
        var inserted = 0;
        await using (var reader = await insert.ExecuteReaderAsync(ct))
        {
            while (await reader.ReadAsync(ct))
            {
                inserted++;
                insertedKeys?.Add((reader.GetString(0), reader.GetGuid(1)));
            }
        }

        if (inserted > 0)
        {
            await DeriveAffectedRunsAsync(conn, AffectedFromInserted, s_upsertInstallations, ct);
        }
        return new WriteResult(inserted, events.Count - inserted);
    }

    /// <summary>
    /// Whether this database sorts text by code point (<see cref="BulkRunDerivation.AppliesToAsync"/>), so that
    /// a large write can derive its new runs in memory by the same rules as SQL. Asked once per writer: the
    /// collations are fixed when the database is created.
    /// </summary>
    private async ValueTask<bool> DerivesInMemoryAsync(NpgsqlConnection conn, CancellationToken ct)
    {
        var known = Volatile.Read(ref _derivesInMemory);
        if (known != 0)
        {
            return known > 0;
        }
        var applies = await BulkRunDerivation.AppliesToAsync(conn, ct);
        // Writers on other connections may ask at the same time; they all get the same answer.
        Volatile.Write(ref _derivesInMemory, applies ? 1 : -1);
        return applies;
    }

    /// <summary>0 not asked yet, 1 derives in memory, -1 in SQL (an int, so no reader sees half of a write).</summary>
    private int _derivesInMemory;

    /// <summary>
    /// Makes large writes derive every run in SQL, as they do on a database that does not sort by code point:
    /// for tests of that path on the test cluster, which does.
    /// </summary>
    internal void DeriveInSqlOnly() => Volatile.Write(ref _derivesInMemory, -1);

    /// <summary>
    /// The large write's insert and derivation where <see cref="DerivesInMemoryAsync"/> holds. The staged
    /// events are stored as by <see cref="s_insertStaged"/>, but the runs they start are derived here, from
    /// the events just stored, in their id order (what the SQL rules break ties by), and inserted as is by
    /// <see cref="RunDerivationSql.InsertNewRuns"/>. That spares the database the derivation's statement
    /// (a second copy of every event into <c>inserted_events</c>, the aggregation, the plugin documents'
    /// expansion and aggregation, the upsert), most of its work per event after the insert itself (see
    /// docs/benchmarks.md). Runs already stored, whose other events came earlier, are derived again in SQL
    /// from all their events, as every write does.
    /// </summary>
    private async Task<WriteResult> InsertStagedDerivingInMemoryAsync(NpgsqlConnection conn, IReadOnlyList<TelemetryEvent> events,
        ISet<(string Tool, Guid EventId)>? insertedKeys, CancellationToken ct)
    {
        var ids = new Dictionary<(string Tool, Guid EventId), long>();
        await using (var insert = new NpgsqlCommand(s_insertStagedReturningIds, conn))
        await using (var reader = await insert.ExecuteReaderAsync(ct))
        {
            while (await reader.ReadAsync(ct))
            {
                var key = (reader.GetString(0), reader.GetGuid(1));
                ids[key] = reader.GetInt64(2);
                insertedKeys?.Add(key);
            }
        }
        var inserted = ids.Count;
        if (inserted == 0)
        {
            return new WriteResult(0, events.Count);
        }
        // The copy stored of an id repeated within the write is its first (the insert's DISTINCT ON by staging order).
        var stored = new List<(long Id, TelemetryEvent Event)>(inserted);
        foreach (var e in events)
        {
            if (ids.Remove((e.Tool, e.EventId), out var id))
            {
                stored.Add((id, e));
            }
        }
        stored.Sort(static (a, b) => a.Id.CompareTo(b.Id));
        var derivation = new BulkRunDerivation();
        foreach (var (_, e) in stored)
        {
            derivation.Add(e);
        }
        var now = time.GetUtcNow().UtcDateTime;
        derivation.Complete(now - runOptions.Value.AbortAfter);
        await derivation.WriteNewAsync(conn, now, ct);

        await using var cmd = new NpgsqlCommand(RunDerivationSql.InsertNewRuns, conn);
        var installations = derivation.Installations;
        cmd.Parameters.AddWithValue("i_tool", installations.Keys.Select(k => k.Tool).ToArray());
        cmd.Parameters.AddWithValue("i_installation", installations.Keys.Select(k => k.InstallationId).ToArray());
        cmd.Parameters.AddWithValue("i_first", installations.Values.Select(v => v.First).ToArray());
        cmd.Parameters.AddWithValue("i_last", installations.Values.Select(v => v.Last).ToArray());
        long stillToDerive = 0;
        await using (var reader = await cmd.ExecuteReaderAsync(ct))
        {
            // The advisory-lock count, then the runs left to derive.
            do
            {
                while (await reader.ReadAsync(ct))
                {
                    stillToDerive = reader.GetInt64(0);
                }
            }
            while (await reader.NextResultAsync(ct));
        }
        if (stillToDerive > 0)
        {
            // affected_runs holds the runs that were already stored, still locked by this transaction;
            // derived_plugins is for their plugins now.
            await DeriveAffectedRunsAsync(conn, "DELETE FROM derived_plugins;", "", ct);
        }
        return new WriteResult(inserted, events.Count - inserted);
    }

    /// <summary>
    /// Runs <paramref name="prelude"/> (which fills <c>affected_runs</c>), re-derives those runs and their
    /// plugins from all their events, then runs <paramref name="epilogue"/>, in one round trip.
    /// </summary>
    internal async Task DeriveAffectedRunsAsync(NpgsqlConnection conn, string prelude, string epilogue, CancellationToken ct)
    {
        var now = time.GetUtcNow().UtcDateTime;
        var abortBefore = now - runOptions.Value.AbortAfter;
        // NpgsqlCommand splits the statements and binds the named parameters to each; every statement
        // gets its own snapshot, so the derivation sees what committed while LockAffected waited.
        await using var cmd = new NpgsqlCommand(prelude + RunDerivationSql.LockAffected + RunDerivationSql.DeriveAffected
            + RunDerivationSql.UpsertDerivedRuns + RunDerivationSql.SyncRunPlugins + epilogue, conn);
        cmd.Parameters.AddWithValue("now", now);
        cmd.Parameters.AddWithValue("abort_before", abortBefore);
        await cmd.ExecuteNonQueryAsync(ct);
    }

    /// <summary>Marks runs open for longer than Runs:AbortAfter as aborted; returns how many.</summary>
    public async Task<int> AbortStaleRunsAsync(CancellationToken ct)
    {
        var now = time.GetUtcNow().UtcDateTime;
        await using var cmd = dataSource.CreateCommand(RunDerivationSql.AbortStale);
        cmd.Parameters.AddWithValue("now", now);
        cmd.Parameters.AddWithValue("abort_before", now - runOptions.Value.AbortAfter);
        return (int)(await cmd.ExecuteScalarAsync(ct))!;
    }

    /// <summary>Bulk statements run as long as the data needs; the load is one transaction either way.</summary>
    private static async Task ExecuteUntimedAsync(NpgsqlConnection conn, string sql, CancellationToken ct)
    {
        await using var cmd = new NpgsqlCommand(sql, conn) { CommandTimeout = 0 };
        await cmd.ExecuteNonQueryAsync(ct);
    }

    private static async Task<int> ExecuteAsync(NpgsqlConnection conn, string sql, CancellationToken ct)
    {
        await using var cmd = new NpgsqlCommand(sql, conn);
        return await cmd.ExecuteNonQueryAsync(ct);
    }

    private static string PluginsJson(TelemetryEvent e) => e.Plugins.Count == 0 ? "[]" : JsonSerializer.Serialize(e.Plugins, s_json);
}
