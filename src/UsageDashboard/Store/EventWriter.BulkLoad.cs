using System.Diagnostics;
using Npgsql;
using UsageDashboard.Rollups;

namespace UsageDashboard.Store;

/// <summary>The bulk load into an empty store: COPY straight into the tables, derivation once, indexes rebuilt.</summary>
public sealed partial class EventWriter
{
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
                    var commit = Stopwatch.StartNew();
                    await tx.CommitAsync(ct);
                    logger?.LogDebug("Bulk load: commit took {Elapsed} ms", commit.ElapsedMilliseconds);
                    commit.Restart();
                    await VacuumLoadedAsync(ct);
                    logger?.LogDebug("Bulk load: VACUUM (ANALYZE) took {Elapsed} ms", commit.ElapsedMilliseconds);
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

        // Where the load's time goes, at Debug level: the target is a 1M-event demo load in under a minute.
        var phase = Stopwatch.StartNew();
        void Phase(string name)
        {
            logger?.LogDebug("Bulk load: {Phase} took {Elapsed} ms", name, phase.ElapsedMilliseconds);
            phase.Restart();
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
        Phase("COPY of events (with generation)");
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
        Phase("COPY of event keys");

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
        Phase("events' and keys' indexes");
        var rollups = await completing;
        Phase("waiting for runs and rollups in memory");
        if (derivation is not null)
        {
            await derivation.WriteAsync(conn, now, ct);
            Phase("COPY of runs, run plugins, installations");
            await rollups!.WriteAsync(conn, ct);
            Phase("COPY of rollups");
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
        Phase("other indexes");
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
}
