using System.Text.Json;
using Microsoft.Extensions.Options;
using Npgsql;
using UsageDashboard.Rollups;

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
public sealed class EventWriter(NpgsqlDataSource dataSource, TimeProvider time, IOptions<RunOptions> runOptions)
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
    /// Loads a stream of event chunks into an empty store in one transaction, much faster than
    /// <see cref="WriteAsync(IReadOnlyList{TelemetryEvent}, CancellationToken)"/> per chunk: the events are
    /// COPYed straight into <c>events</c> with their indexes and keys set aside, runs, run plugins and
    /// installations are derived once by the same rules (in memory by <see cref="BulkRunDerivation"/> where
    /// the collation allows, else set-based by <see cref="RunDerivationSql.DeriveAll"/>) and stored, and the
    /// indexes and keys are rebuilt. Event ids must be unique within the stream (a generator, an export of
    /// this store): a duplicate fails the whole load and nothing is stored. When the store already holds
    /// events, each chunk goes through <see cref="WriteAsync(IReadOnlyList{TelemetryEvent}, CancellationToken)"/>
    /// instead, so loading into a used store stays idempotent. <paramref name="progress"/> gets the number
    /// of events streamed so far. <paramref name="months"/> (UTC month starts), when the caller knows them,
    /// get their monthly partitions of <c>events</c> before the COPY, so the rows land in them directly;
    /// rows of other months go to the DEFAULT partition, which partition maintenance empties later.
    /// </summary>
    public async Task<WriteResult> BulkLoadAsync(IAsyncEnumerable<IReadOnlyList<TelemetryEvent>> chunks, IProgress<long>? progress, CancellationToken ct,
        IReadOnlyCollection<DateTime>? months = null)
    {
        await using var conn = await dataSource.OpenConnectionAsync(ct);
        for (var attempt = 1; ; attempt++)
        {
            var streaming = false;
            try
            {
                await using var tx = await conn.BeginTransactionAsync(ct);
                // EXCLUSIVE lets dashboards keep reading the (empty) tables but holds every writer back until the
                // load commits, so "empty" stays true while we rely on it.
                await ExecuteAsync(conn, "LOCK TABLE events, event_keys, runs, run_plugins, installations IN EXCLUSIVE MODE", ct);
                await using var check = new NpgsqlCommand("SELECT EXISTS (SELECT 1 FROM events) OR EXISTS (SELECT 1 FROM runs)", conn);
                if (!(bool)(await check.ExecuteScalarAsync(ct))!)
                {
                    var loaded = await BulkLoadIntoEmptyAsync(conn, Streamed(chunks, () => streaming = true), progress, months ?? [], ct);
                    await tx.CommitAsync(ct);
                    await VacuumLoadedAsync(ct);
                    return new WriteResult(checked((int)loaded), 0);
                }
                await tx.RollbackAsync(ct);
                break;
            }
            catch (PostgresException e) when (e.SqlState == PostgresErrorCodes.DeadlockDetected && !streaming && attempt < 5)
            {
                // The load takes the five tables one by one (the LOCK, then the TRUNCATE's stronger lock), so a
                // reader that holds one of them and then asks for another one the load already holds closes a
                // cycle: at app start, a background service's first read while the demo loads. Nothing was
                // written and no chunk was read yet, so the load starts again once the reader has gone.
            }
        }

        var result = WriteResult.Empty;
        long written = 0;
        await foreach (var chunk in chunks.WithCancellation(ct))
        {
            await using var tx = await conn.BeginTransactionAsync(ct);
            result = result.Add(await WriteAsync(conn, chunk, ct));
            await tx.CommitAsync(ct);
            written += chunk.Count;
            progress?.Report(written);
        }
        return result;
    }

    /// <summary><paramref name="source"/>, calling <paramref name="started"/> when its enumeration begins.</summary>
    private static async IAsyncEnumerable<T> Streamed<T>(IAsyncEnumerable<T> source, Action started,
        [System.Runtime.CompilerServices.EnumeratorCancellation] CancellationToken ct = default)
    {
        started();
        await foreach (var item in source.WithCancellation(ct))
        {
            yield return item;
        }
    }

    private async Task<long> BulkLoadIntoEmptyAsync(NpgsqlConnection conn, IAsyncEnumerable<IReadOnlyList<TelemetryEvent>> chunks,
        IProgress<long>? progress, IReadOnlyCollection<DateTime> months, CancellationToken ct)
    {
        // Index builds and the SQL derivation's sorts of a million rows need memory; the defaults would spill to disk.
        await ExecuteUntimedAsync(conn, "SET LOCAL work_mem = '512MB'; SET LOCAL maintenance_work_mem = '512MB';", ct);
        // The tables are empty (checked under the lock), so truncating them loses nothing; it gives them
        // new files in this transaction, which a server at wal_level=minimal (the project-local cluster)
        // fills without writing WAL and syncs at commit. Elsewhere it costs nothing and changes nothing.
        await ExecuteUntimedAsync(conn, "TRUNCATE events, event_keys, runs, run_plugins, installations", ct);

        // Building an index once over sorted input is far cheaper than maintaining it row by row (for the
        // rollup tables too: their COPY took 2 s into indexed tables for a 1M load, 0.6 s plus 0.4 s of index
        // builds without), and that holds for primary keys too (even the sequential ids: 1.7 s of a 3.5 s
        // COPY of 580k runs). The definitions come from the catalog, so the load follows whatever the
        // migrations created; a key a foreign key depends on stays in place.
        var indexes = new List<(string Table, string Drop, string Create)>();
        await using (var cmd = new NpgsqlCommand("""
            SELECT t.relname::text,
                   format('DROP INDEX %s', i.indexrelid::regclass),
                   pg_get_indexdef(i.indexrelid)
            FROM pg_index i
            JOIN pg_class t ON t.oid = i.indrelid
            WHERE t.relname = ANY (@tables)
              AND t.relnamespace = to_regnamespace(current_schema())
              AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = i.indexrelid)
            UNION ALL
            SELECT t.relname::text,
                   format('ALTER TABLE %s DROP CONSTRAINT %I', t.oid::regclass, c.conname),
                   format('ALTER TABLE %s ADD CONSTRAINT %I %s', t.oid::regclass, c.conname, pg_get_constraintdef(c.oid))
            FROM pg_constraint c
            JOIN pg_class t ON t.oid = c.conrelid
            WHERE t.relname = ANY (@tables)
              AND t.relnamespace = to_regnamespace(current_schema())
              AND c.contype IN ('p', 'u')
              AND NOT EXISTS (SELECT 1 FROM pg_constraint f WHERE f.contype = 'f' AND f.conindid = c.conindid)
            ORDER BY 1, 2
            """, conn))
        {
            cmd.Parameters.AddWithValue("tables", s_loadedTables);
            await using var reader = await cmd.ExecuteReaderAsync(ct);
            while (await reader.ReadAsync(ct))
            {
                indexes.Add((reader.GetString(0), reader.GetString(1), reader.GetString(2)));
            }
        }
        foreach (var (_, drop, _) in indexes)
        {
            await ExecuteUntimedAsync(conn, drop, ct);
        }
        // Partitions for the months the caller named, created after the indexes were set aside (so they get
        // theirs built once, with the rest) and in this transaction (so they too are filled without WAL on
        // the local cluster). Landing in DEFAULT instead, the rows had to be moved out again after the load
        // (EventPartitions: 2 min 19 s for a 10M-event load, on the next start of the app).
        foreach (var month in months.Select(m => new DateTime(m.Year, m.Month, 1, 0, 0, 0, DateTimeKind.Utc)).Distinct().Order())
        {
            await using var partition = new NpgsqlCommand("SELECT events_ensure_partition(@month)", conn);
            partition.Parameters.AddWithValue("month", month);
            await partition.ExecuteNonQueryAsync(ct);
        }
        // The catalog gives a partitioned table's index as "ON ONLY events", which would build the parent
        // index alone (invalid, no partition indexes); without ONLY it is built on every partition again.
        indexes = [.. indexes.Select(i => (i.Table, i.Drop, i.Create.Replace(" ON ONLY ", " ON ", StringComparison.Ordinal)))];

        // Where text sorts by code point (the project-local cluster), runs are derived in memory as the
        // events stream past; elsewhere in SQL after the COPY, by the reference rules.
        var derivation = await BulkRunDerivation.AppliesToAsync(conn, ct) ? new BulkRunDerivation() : null;
        if (derivation is not null)
        {
            // The rollups are built in memory too (BulkRollups), so the rollup triggers' marks would only be
            // work: each statement trigger keeps every new row in a transition table and logs its day (in the
            // statement log of 1M loads, the runs' COPY took 5.0 s with them and 2.7 s without, the run plugins'
            // 2.0 s and 1.0 s). Disabled inside this transaction only: no other
            // session ever sees them off (the TRUNCATE above already holds the tables exclusively).
            await ExecuteUntimedAsync(conn, "ALTER TABLE runs DISABLE TRIGGER USER; ALTER TABLE run_plugins DISABLE TRIGGER USER;", ct);
        }

        long loaded = 0;
        // The idempotency keys, sent by a second COPY: reading them back out of events with INSERT ... SELECT
        // took 4.2-5.5 s of a 1M load; the COPY takes 0.4 s and the key built once 1.7 s (docs/benchmarks.md).
        // Held meanwhile as (tool, id) pairs, the tool strings shared.
        var keys = new List<(string Tool, Guid EventId)>();
        await using (var copy = await BinaryCopyWriter.BeginAsync(conn, $"events ({Columns})", ct))
        {
            await foreach (var chunk in chunks.WithCancellation(ct))
            {
                foreach (var e in chunk)
                {
                    WriteRow(copy, e);
                    await copy.EndRowAsync(ct);
                    derivation?.Add(e);
                    keys.Add((e.Tool, e.EventId));
                }
                loaded += chunk.Count;
                progress?.Report(loaded);
            }
            await copy.CompleteAsync(ct);
        }
        await using (var copy = await BinaryCopyWriter.BeginAsync(conn, "event_keys (tool, event_id)", ct))
        {
            foreach (var (tool, eventId) in keys)
            {
                copy.StartRow(2);
                copy.Write(tool);
                copy.Write(eventId);
                await copy.EndRowAsync(ct);
            }
            await copy.CompleteAsync(ct);
        }
        keys.Clear();
        keys.TrimExcess();

        var now = time.GetUtcNow().UtcDateTime;
        var abortBefore = now - runOptions.Value.AbortAfter;
        // Runs and installations get their ids here, reserved from the identities, so plugin rows and rollups
        // can name them before they are stored (and no query reads them back after the COPY).
        var (firstRunId, firstInstallationId) = derivation is null ? (0L, 0) : await ReserveIdsAsync(conn, derivation, ct);
        // The client finishes the runs and aggregates the rollups on one core while the server builds the
        // events' indexes on the other.
        var completing = derivation is null ? Task.FromResult<BulkRollups?>(null) : Task.Run(() =>
        {
            derivation.Complete(abortBefore, firstRunId, firstInstallationId);
            return (BulkRollups?)BulkRollups.From(derivation);
        }, ct);
        // event_keys' primary key is rebuilt here: a duplicate id in the stream fails the whole load.
        await CreateIndexesAsync(conn, indexes.Where(i => i.Table is "events" or "event_keys"), ct);
        var rollups = await completing;
        if (derivation is not null)
        {
            await derivation.WriteAsync(conn, now, ct);
            await rollups!.WriteAsync(conn, ct);
            await ExecuteUntimedAsync(conn, "ALTER TABLE runs ENABLE TRIGGER USER; ALTER TABLE run_plugins ENABLE TRIGGER USER;", ct);
        }
        else
        {
            await using var derive = new NpgsqlCommand(RunDerivationSql.DeriveAll, conn);
            derive.Parameters.AddWithValue("now", now);
            derive.Parameters.AddWithValue("abort_before", abortBefore);
            derive.CommandTimeout = 0;
            await derive.ExecuteNonQueryAsync(ct);
        }
        await CreateIndexesAsync(conn, indexes.Where(i => i.Table is not ("events" or "event_keys")), ct);
        return loaded;
    }

    /// <summary>
    /// The tables a bulk load fills, largest first: the raw tables, and the rollup tables (which the
    /// TRUNCATE of <c>runs</c> empties, and <see cref="BulkRollups"/> fills in the same transaction).
    /// </summary>
    private static readonly string[] s_loadedTables =
        ["events", "run_plugins", "runs", "event_keys", "installations", .. RollupSql.Tables.Select(t => t.Table)];

    /// <summary>
    /// Vacuums the tables a bulk load filled (<see cref="s_loadedTables"/>) and gives them statistics, two
    /// at a time (one connection per core), largest first. Left to autovacuum, the write path ran on plans
    /// made without statistics: on a 10M-event load the collector's run derivation took 1.0–1.5 s per write
    /// on average (500-event batches, 841 events/s) until they were there, then 25–30 ms (6,189 events/s;
    /// docs/benchmarks.md). Autovacuum gets to a big new table late, and never analyzes the partitioned
    /// parent <c>events</c>. The vacuum is the first pass over every loaded page (hint bits, visibility
    /// map) that autovacuum would otherwise make while the collector is busy: its writes then held the
    /// collector's commits, which wait for their WAL flush, for 150-220 ms (server log of a single-event
    /// run right after a 1M load).
    /// </summary>
    private async Task VacuumLoadedAsync(CancellationToken ct)
    {
        await Parallel.ForEachAsync(s_loadedTables, new ParallelOptions { MaxDegreeOfParallelism = 2, CancellationToken = ct }, async (table, token) =>
        {
            await using var conn = await dataSource.OpenConnectionAsync(token);
            await ExecuteUntimedAsync(conn, $"VACUUM (ANALYZE) {table}", token);
        });
    }

    /// <summary>
    /// Takes the next <paramref name="derivation"/>.RunCount ids of <c>runs</c> and InstallationCount of
    /// <c>installations</c> from their identities (the load holds both tables locked, so no one else draws).
    /// </summary>
    private static async Task<(long FirstRun, int FirstInstallation)> ReserveIdsAsync(NpgsqlConnection conn, BulkRunDerivation derivation, CancellationToken ct)
    {
        await using var cmd = new NpgsqlCommand("""
            SELECT setval(r.seq, nextval(r.seq) + greatest(@runs, 1) - 1) - greatest(@runs, 1) + 1,
                   setval(i.seq, nextval(i.seq) + greatest(@installations, 1) - 1) - greatest(@installations, 1) + 1
            FROM (SELECT pg_get_serial_sequence('runs', 'id')::regclass AS seq) r,
                 (SELECT pg_get_serial_sequence('installations', 'id')::regclass AS seq) i
            """, conn);
        cmd.Parameters.AddWithValue("runs", (long)derivation.RunCount);
        cmd.Parameters.AddWithValue("installations", (long)derivation.InstallationCount);
        await using var reader = await cmd.ExecuteReaderAsync(ct);
        await reader.ReadAsync(ct);
        return (reader.GetInt64(0), checked((int)reader.GetInt64(1)));
    }

    private static async Task CreateIndexesAsync(NpgsqlConnection conn, IEnumerable<(string Table, string Drop, string Create)> indexes, CancellationToken ct)
    {
        foreach (var (_, _, create) in indexes)
        {
            await ExecuteUntimedAsync(conn, create, ct);
        }
    }

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
