using Npgsql;

namespace UsageDashboard.Store;

/// <summary>The write path's statements: the idempotent insert, staging, and the small write's one prepared command.</summary>
public sealed partial class EventWriter
{
    private const string AffectedFromInserted = "INSERT INTO affected_runs SELECT DISTINCT tool, run_key FROM inserted_events;";

    /// <summary>The installations of the events a write stored (<c>inserted_events</c>).</summary>
    private static readonly string s_upsertInstallations = RunDerivationSql.UpsertInstallations(
        "SELECT tool, installation_id, min(occurred_at) AS first_seen, max(occurred_at) AS last_seen FROM inserted_events GROUP BY tool, installation_id");

    /// <summary>Creates the write path's temp tables on a new physical connection (a pool's connection initializer).</summary>
    public static async Task CreateWorkTablesAsync(NpgsqlConnection conn, CancellationToken ct) => await ExecuteAsync(conn, s_createWorkTables, ct);

    private async Task<WriteResult> WriteSmallAsync(NpgsqlConnection conn, IReadOnlyList<TelemetryEvent> events,
        ISet<(string Tool, Guid EventId)>? insertedKeys, CancellationToken ct)
    {
        var now = time.GetUtcNow().UtcDateTime;
        await using var cmd = new NpgsqlCommand(s_smallWrite, conn);
        AddEventArrays(cmd.Parameters, events);
        cmd.Parameters.AddWithValue("now", now);
        cmd.Parameters.AddWithValue("abort_before", now - runOptions.Value.AbortAfter);
        await cmd.PrepareAsync(ct);
        var inserted = 0;
        long workTableBytes = 0;
        await using (var reader = await cmd.ExecuteReaderAsync(ct))
        {
            while (await reader.ReadAsync(ct))
            {
                inserted++;
                insertedKeys?.Add((reader.GetString(0), reader.GetGuid(1)));
            }
            // The advisory-lock count, then the work tables' size.
            while (await reader.NextResultAsync(ct))
            {
                while (await reader.ReadAsync(ct))
                {
                    workTableBytes = reader.GetInt64(0);
                }
            }
        }
        if (workTableBytes > WorkTablesTruncateBytes)
        {
            await ExecuteAsync(conn, TruncateWorkTables, ct);
        }
        return new WriteResult(inserted, events.Count - inserted);
    }

    /// <summary>
    /// event_keys decides what is new: its primary key is (tool, event_id) whatever the event's
    /// occurred_at, so a retry that lands in another month (a clock-adjusted event gets the receipt time)
    /// is still a duplicate. A concurrent writer inserting the same key waits for this one and then skips
    /// it. Only the first copy of an id repeated within the batch is stored (<paramref name="order"/>).
    /// The keys go in sorted: two writes that share ids (a request and its retry, merged into different
    /// group commits) then wait for them in the same order. In arrival order, one could hold an id the
    /// other waited for while waiting for one the other held: a deadlock, and a failed write
    /// (EventPartitionsTests.Write_ConcurrentWritesShareIdsInOtherOrders_NoDeadlockEachStoredOnce).
    /// The statement returns the (tool, event_id) it stored and keeps those events in inserted_events.
    /// </summary>
    private static string InsertNew(string source, string order) => $"""
        {InsertNewEvents(source, order, RunDerivationSql.InsertedColumns)}, kept AS (
            INSERT INTO inserted_events SELECT * FROM ins RETURNING tool, event_id
        )
        SELECT tool, event_id FROM kept
        """;

    /// <summary>The CTEs <c>k</c> (new keys) and <c>ins</c> (the events stored, returning <paramref name="returning"/>) of <see cref="InsertNew"/>.</summary>
    private static string InsertNewEvents(string source, string order, string returning) => $"""
        k AS (
            INSERT INTO event_keys (tool, event_id) SELECT tool, event_id FROM {source} ORDER BY tool, event_id
            ON CONFLICT (tool, event_id) DO NOTHING
            RETURNING tool, event_id
        ), ins AS (
            INSERT INTO events ({Columns})
            SELECT DISTINCT ON (i.tool, i.event_id) {PrefixedColumns}
            FROM {source} i JOIN k ON k.tool = i.tool AND k.event_id = i.event_id
            ORDER BY i.tool, i.event_id, {order}
            RETURNING {returning}
        )
        """;

    /// <summary>
    /// <see cref="InsertNew"/> for a write that derives its new runs in memory: the stored events are not
    /// copied into <c>inserted_events</c>; it returns their (tool, event_id, id), the id being what breaks
    /// ties between a run's events.
    /// </summary>
    private static readonly string s_insertStagedReturningIds =
        "WITH " + InsertNewEvents("incoming_events", "i.ctid", "tool, event_id, id") + " SELECT tool, event_id, id FROM ins";

    private static readonly string s_insertStaged = "WITH " + InsertNew("incoming_events", "i.ctid");

    /// <summary>
    /// A large write's first step: the events are COPYed into the staging table, from which
    /// <see cref="s_insertStaged"/>, planned for their number, inserts them.
    /// </summary>
    private static async Task StageAsync(NpgsqlConnection conn, IReadOnlyList<TelemetryEvent> events, CancellationToken ct)
    {
        await ExecuteAsync(conn, s_prepareWorkTables, ct);
        // The bulk load's encoder: NpgsqlBinaryImporter costs ~170 ns of client CPU per value, and the
        // client shares the two cores with the database.
        await using (var copy = await BinaryCopyWriter.BeginAsync(conn, $"incoming_events ({Columns})", ct))
        {
            foreach (var e in events)
            {
                WriteRow(copy, e);
                await copy.EndRowAsync(ct);
            }
            await copy.CompleteAsync(ct);
        }
    }

    /// <summary>
    /// The events of a small write as column arrays, unnested in the insert itself (in array order, which
    /// decides the first copy of a repeated id). For a few events the staging COPY's own round trips and
    /// set-up cost more than everything else the write does, and a parameterised statement can stay
    /// prepared (see <see cref="PreparedWriteMaxEvents"/>). Part of <see cref="s_smallWrite"/>.
    /// </summary>
    private static readonly string s_insertInline = $"""
        WITH i AS (
            SELECT u.event_id, u.tool, u.source, u.installation_id, u.user_id, u.occurred_at, u.received_at, u.clock_adjusted,
                   u.event_name, u.run_key, u.command, u.status, u.duration_ms, u.tool_version, u.os_name, u.os_version,
                   u.runtime_name, u.runtime_version, u.environment, u.is_ci, u.error_type, u.properties::jsonb AS properties,
                   u.plugins::jsonb AS plugins, u.ord
            FROM unnest(@event_id::uuid[], @tool::text[], @source::text[], @installation_id::text[], @user_id::text[],
                        @occurred_at::timestamptz[], @received_at::timestamptz[], @clock_adjusted::boolean[], @event_name::text[],
                        @run_key::text[], @command::text[], @status::text[], @duration_ms::bigint[], @tool_version::text[],
                        @os_name::text[], @os_version::text[], @runtime_name::text[], @runtime_version::text[], @environment::text[],
                        @is_ci::boolean[], @error_type::text[], @properties::text[], @plugins::text[])
                 WITH ORDINALITY AS u(event_id, tool, source, installation_id, user_id, occurred_at, received_at, clock_adjusted,
                                      event_name, run_key, command, status, duration_ms, tool_version, os_name, os_version,
                                      runtime_name, runtime_version, environment, is_ci, error_type, properties, plugins, ord)
        ), {InsertNew("i", "i.ord")}
        """;

    /// <summary>The events as one array parameter per column, for <see cref="s_insertInline"/>.</summary>
    private static void AddEventArrays(NpgsqlParameterCollection p, IReadOnlyList<TelemetryEvent> events)
    {
        void Add<T>(string name, Func<TelemetryEvent, T> value)
        {
            var column = new T[events.Count];
            for (var i = 0; i < column.Length; i++)
            {
                column[i] = value(events[i]);
            }
            p.AddWithValue(name, column);
        }
        Add("event_id", e => e.EventId);
        Add("tool", e => e.Tool);
        Add("source", e => e.Source);
        Add("installation_id", e => e.InstallationId);
        Add("user_id", e => e.UserId);
        Add("occurred_at", e => e.OccurredAt);
        Add("received_at", e => e.ReceivedAt);
        Add("clock_adjusted", e => e.ClockAdjusted);
        Add("event_name", e => e.EventName);
        Add("run_key", e => e.RunKey);
        Add("command", e => e.Command);
        Add("status", e => e.Status);
        Add("duration_ms", e => e.DurationMs);
        Add("tool_version", e => e.ToolVersion);
        Add("os_name", e => e.OsName);
        Add("os_version", e => e.OsVersion);
        Add("runtime_name", e => e.RuntimeName);
        Add("runtime_version", e => e.RuntimeVersion);
        Add("environment", e => e.Environment);
        Add("is_ci", e => e.IsCi);
        Add("error_type", e => e.ErrorType);
        Add("properties", e => e.Properties?.RootElement.GetRawText());
        Add("plugins", PluginsJson);
    }

    /// <summary>
    /// A whole small write as one prepared command, sent in one round trip: empty the work tables, insert
    /// the new events (their keys are the first result), derive their runs, upsert the installations, and
    /// measure the work tables (the last result; a write that finds them past
    /// <see cref="WorkTablesTruncateBytes"/> truncates them). Derivation runs even when every event was a
    /// duplicate; over empty work tables its statements do nothing. Instead of a DO block to empty the
    /// tables, compiled anew on every call (0.5 ms a write in the 300 requests/s profile), plain DELETEs.
    /// Sequential scans are off for the rest of the transaction. A kept plan is made for the work tables'
    /// size when it was planned, which dead rows can make look like a thousand events: without this, such
    /// a plan could hash-join a whole permanent table for every later write of a few events. With it, the
    /// permanent tables are only ever probed by their keys; the temp tables, which have no other path,
    /// are still scanned. Defined after <see cref="s_insertInline"/>, which it includes (static fields
    /// initialise in text order).
    /// </summary>
    private static readonly string s_smallWrite = string.Join('\n',
        NoJit,
        "SET LOCAL enable_seqscan = off;",
        "DELETE FROM inserted_events;",
        RunDerivationSql.ClearWorkTables,
        s_insertInline + ";",
        AffectedFromInserted,
        RunDerivationSql.LockAffected,
        RunDerivationSql.DeriveAffected,
        RunDerivationSql.UpsertDerivedRuns,
        RunDerivationSql.SyncRunPlugins,
        s_upsertInstallations,
        $"SELECT {WorkTablesBytes};");

    /// <summary>One event as a row of <see cref="Columns"/>, for the staging COPY and the bulk load.</summary>
    private static void WriteRow(BinaryCopyWriter w, TelemetryEvent e)
    {
        w.StartRow(23);
        w.Write(e.EventId);
        w.Write(e.Tool);
        w.Write(e.Source);
        w.Write(e.InstallationId);
        w.Write(e.UserId);
        w.Write(e.OccurredAt);
        w.Write(e.ReceivedAt);
        w.Write(e.ClockAdjusted);
        w.Write(e.EventName);
        w.Write(e.RunKey);
        w.Write(e.Command);
        w.Write(e.Status);
        w.Write(e.DurationMs);
        w.Write(e.ToolVersion);
        w.Write(e.OsName);
        w.Write(e.OsVersion);
        w.Write(e.RuntimeName);
        w.Write(e.RuntimeVersion);
        w.Write(e.Environment);
        w.Write(e.IsCi);
        w.Write(e.ErrorType);
        if (e.Properties is null)
        {
            w.WriteNull();
        }
        else
        {
            w.WriteJsonb(e.Properties.RootElement.GetRawText());
        }
        w.WriteJsonb(PluginsJson(e));
    }
}
