using System.Diagnostics;
using Microsoft.Extensions.Options;
using Npgsql;
using UsageDashboard.Hosting;
using UsageDashboard.Operations;

namespace UsageDashboard.Rollups;

public sealed class RollupOptions
{
    /// <summary>
    /// Pages read the rollup tables. Off, they compute the same numbers from <c>runs</c> on every request:
    /// the benchmark's raw baseline, and a way out should a rollup ever be suspected.
    /// </summary>
    public bool Enabled { get; set; } = true;

    /// <summary>How often the background refresher folds newly written runs into the rollups.</summary>
    public TimeSpan RefreshEvery { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>Tool-days rebuilt per transaction, so one huge backfill does not hold a lock for minutes.</summary>
    public int SlicesPerTransaction { get; set; } = 200;

    public bool RefreshInBackground { get; set; } = true;

    /// <summary>
    /// A slice whose changes are all new runs gets just those runs added, instead of being recomputed
    /// from every run of its day. Off, every slice is recomputed (as before; for comparisons).
    /// </summary>
    public bool FoldNewRuns { get; set; } = true;
}

/// <summary>
/// What one refresh did; <paramref name="RebuiltAll"/> when it rebuilt every rollup instead of slices. Of the
/// <paramref name="Slices"/>, <paramref name="Added"/> only had their new runs added (the rest were rebuilt).
/// </summary>
/// <paramref name="CaughtUp"/> is false when the pass left marks older than its start (another instance held the lock, or a bulk load the tables).
public sealed record RollupRefreshResult(int Slices, int Marks, TimeSpan Elapsed, bool RebuiltAll = false, int Added = 0, bool CaughtUp = true);

/// <summary>
/// Keeps the rollups equal to the runs. Writers never touch rollups: triggers log the (tool, day) of every
/// run and run plugin they change into <c>rollup_dirty</c>, with the id of a new run or the installation of
/// an updated or deleted row; the refresher adds the new runs of slices that only have new runs, rebuilds
/// the other slices from <c>runs</c>, and deletes exactly the log rows it read, all in one snapshot. A mark
/// committed while it worked is not in that snapshot, so it survives for the next pass; nothing written is
/// ever missed or counted twice.
/// One refresher works at a time across every app instance (a transaction-scoped advisory lock).
/// </summary>
public sealed class RollupRefresher(NpgsqlDataSource dataSource, IOptions<RollupOptions> options, ILogger<RollupRefresher> logger)
{
    /// <summary>Advisory lock key shared by every refresher and rebuild ("rollups" as ASCII).</summary>
    internal const long LockKey = 0x726F6C6C757073;

    /// <summary>
    /// Rebuilds every slice marked when the pass starts; returns when those are done (or another instance
    /// holds the lock). Marks logged meanwhile wait for the next pass: under steady ingest the log is never
    /// empty, and a pass that chased it would keep a core busy for as long as the ingest lasts.
    /// When the rollups are still empty (a bulk load, a store upgraded to rollups) one set-based rebuild
    /// of everything is far cheaper than slice by slice.
    /// </summary>
    public async Task<RollupRefreshResult> RefreshAsync(CancellationToken ct)
    {
        var watch = Stopwatch.StartNew();
        int slices = 0, marks = 0, added = 0;
        var caughtUp = true;
        await using var conn = await dataSource.OpenConnectionAsync(ct);
        long? lastMark;
        bool empty;
        await using (var state = new NpgsqlCommand(
            "SELECT (SELECT max(seq) FROM rollup_dirty), NOT EXISTS (SELECT 1 FROM rollup_run_days)", conn))
        await using (var reader = await state.ExecuteReaderAsync(ct))
        {
            await reader.ReadAsync(ct);
            (lastMark, empty) = (reader.IsDBNull(0) ? null : reader.GetInt64(0), reader.GetBoolean(1));
        }
        if (lastMark is null)
        {
            // Nothing to do: the pass below would still plan and run every rebuild statement against
            // empty work tables (~0.4 s of server time a tick on the 10M store, measured).
            return new RollupRefreshResult(0, 0, watch.Elapsed);
        }
        if (empty)
        {
            await RebuildAllAsync(ct);
            return new RollupRefreshResult(0, 0, watch.Elapsed, RebuiltAll: true);
        }
        while (true)
        {
            // One snapshot for the whole pass: the marks it consumes describe exactly the runs it reads. A
            // slice's new runs can then be added without being counted twice (a run committed after the
            // marks were read, but seen by a rebuild, would otherwise be added again by the next pass).
            // The tables are locked before that snapshot is taken, and without waiting: a bulk load (which
            // drops and rebuilds indexes) or a TRUNCATE may be taking exclusive locks on them in another
            // order, and a refresher that waited could deadlock with them. It backs off instead.
            await using var tx = await conn.BeginTransactionAsync(System.Data.IsolationLevel.RepeatableRead, ct);
            int batchSlices, batchAdded, batchMarks;
            try
            {
                await using (var lockCmd = new NpgsqlCommand("""
                    LOCK TABLE runs, run_plugins, installations IN ACCESS SHARE MODE NOWAIT;
                    SELECT pg_try_advisory_xact_lock(@key);
                    """, conn, tx))
                {
                    lockCmd.Parameters.AddWithValue("key", LockKey);
                    if (!(bool)(await lockCmd.ExecuteScalarAsync(ct))!)
                    {
                        // Another instance is refreshing; it will see our marks too.
                        caughtUp = false;
                        break;
                    }
                }
                (batchSlices, batchAdded, batchMarks) = await RefreshBatchAsync(conn, tx, options.Value.SlicesPerTransaction, lastMark.Value, options.Value.FoldNewRuns, ct);
            }
            catch (PostgresException e) when (e.SqlState == PostgresErrorCodes.LockNotAvailable)
            {
                // A bulk load or truncate holds the tables; the marks wait for the next tick.
                await tx.RollbackAsync(ct);
                logger.LogDebug("Rollup refresh deferred: {Message}", e.MessageText);
                caughtUp = false;
                break;
            }
            await tx.CommitAsync(ct);
            slices += batchSlices;
            marks += batchMarks;
            added += batchAdded;
            if (batchMarks == 0)
            {
                break;
            }
        }
        return new RollupRefreshResult(slices, marks, watch.Elapsed, Added: added, CaughtUp: caughtUp);
    }

    private static readonly string s_createPassTables = RollupSql.CreateOnce([
        "rollup_pass (tool text NOT NULL, day date NOT NULL) ON COMMIT DELETE ROWS",
        "rollup_slices (tool text NOT NULL, day date NOT NULL) ON COMMIT DELETE ROWS",
        "rollup_fold_slices (tool text NOT NULL, day date NOT NULL) ON COMMIT DELETE ROWS",
        "rollup_marks (seq bigint NOT NULL, tool text NOT NULL, day date NOT NULL, run_id bigint, installation_id text) ON COMMIT DELETE ROWS",
    ]);

    /// <summary>
    /// A batch's first command: chooses its slices (the oldest marks first, up to <c>@last_mark</c>, at most
    /// <c>@max</c>) into <c>rollup_pass</c>, their marks into <c>rollup_marks</c>, and splits them into slices
    /// to rebuild (<c>rollup_slices</c>) and slices to fold new runs into (<c>rollup_fold_slices</c>; none
    /// unless <c>@fold</c>). Internal for the plan-shape tests, which run it before explaining the batch.
    /// </summary>
    internal static readonly string SelectBatch = $"""
            {s_createPassTables}
            INSERT INTO rollup_pass
            SELECT tool, day FROM rollup_dirty WHERE seq <= @last_mark GROUP BY tool, day ORDER BY min(seq) LIMIT @max;
            -- Copied whole, and analyzed: the scripts read the marks from here, planned for their real
            -- number. Read from rollup_dirty by seq, the lookup of the marks' runs took 2 s in a session's
            -- first pass for 6,000 marks (likely planned from the statistics of an almost empty rollup_dirty).
            INSERT INTO rollup_marks
            SELECT d.seq, d.tool, d.day, d.run_id, d.installation_id FROM rollup_dirty d JOIN rollup_pass s ON s.tool = d.tool AND s.day = d.day;
            ANALYZE rollup_marks;
            INSERT INTO rollup_slices
            SELECT DISTINCT tool, day FROM rollup_marks WHERE run_id IS NULL OR NOT @fold;
            INSERT INTO rollup_fold_slices
            SELECT tool, day FROM rollup_pass EXCEPT SELECT tool, day FROM rollup_slices;
            ANALYZE rollup_slices;
            ANALYZE rollup_fold_slices;
            SELECT (SELECT count(*)::int FROM rollup_slices), (SELECT count(*)::int FROM rollup_fold_slices), (SELECT count(*)::int FROM rollup_marks);
            """;

    private static async Task<(int Slices, int Added, int Marks)> RefreshBatchAsync(NpgsqlConnection conn, NpgsqlTransaction tx, int maxSlices,
        long lastMark, bool fold, CancellationToken ct)
    {
        // The oldest marks first, up to the last one of this pass; every mark of the chosen slices goes, so a
        // busy day is handled once per pass. A slice with any mark that names no new run (an update, a
        // delete, a large insert) is rebuilt from its day's runs; the others get just their new runs added.
        int rebuild, added, marks;
        await using (var cmd = new NpgsqlCommand(SelectBatch, conn, tx))
        {
            cmd.Parameters.AddWithValue("max", maxSlices);
            cmd.Parameters.AddWithValue("last_mark", lastMark);
            cmd.Parameters.AddWithValue("fold", fold);
            await using var reader = await cmd.ExecuteReaderAsync(ct);
            // Every statement before the last returns no rows; skip to the counts.
            do
            {
                if (reader.FieldCount == 3 && await reader.ReadAsync(ct))
                {
                    break;
                }
            }
            while (await reader.NextResultAsync(ct));
            (rebuild, added, marks) = (reader.GetInt32(0), reader.GetInt32(1), reader.GetInt32(2));
        }
        var script = new System.Text.StringBuilder();
        if (rebuild > 0)
        {
            script.Append(RollupSql.RebuildSlices());
        }
        if (added > 0)
        {
            script.Append(RollupSql.FoldSlices());
        }
        script.Append("DELETE FROM rollup_dirty d USING rollup_marks m WHERE d.seq = m.seq;");
        await using (var cmd = new NpgsqlCommand(script.ToString(), conn, tx) { CommandTimeout = 0 })
        {
            await cmd.ExecuteNonQueryAsync(ct);
        }
        return (rebuild + added, added, marks);
    }

    /// <summary>
    /// Rebuilds every rollup from all runs (after a bulk load, or to repair). The tables are independent
    /// aggregates of the runs, so they are built side by side, one connection per core: each in its own
    /// transaction that truncates and fills it (on a wal_level=minimal cluster such a table is written
    /// without WAL). The marks logged before the rebuild started are deleted at the end; a write that
    /// lands meanwhile keeps its mark, and the next pass rebuilds its slices in every table. Should a
    /// table fail, the rollups are emptied again, so the next pass starts over instead of serving a
    /// partial rebuild.
    /// </summary>
    public async Task<TimeSpan> RebuildAllAsync(CancellationToken ct)
    {
        var watch = Stopwatch.StartNew();
        await using var conn = await dataSource.OpenConnectionAsync(ct);
        await using (var cmd = new NpgsqlCommand("SELECT pg_advisory_lock(@key)", conn))
        {
            cmd.Parameters.AddWithValue("key", LockKey);
            await cmd.ExecuteNonQueryAsync(ct);
        }
        try
        {
            long lastMark;
            await using (var cmd = new NpgsqlCommand("SELECT coalesce(max(seq), 0) FROM rollup_dirty", conn))
            {
                lastMark = (long)(await cmd.ExecuteScalarAsync(ct))!;
            }
            try
            {
                // Largest first, so the two workers finish together.
                var tables = RollupSql.Tables.OrderBy(t => t.MonthKey is null).ToList();
                await Parallel.ForEachAsync(tables, new ParallelOptions { MaxDegreeOfParallelism = Math.Max(2, Environment.ProcessorCount), CancellationToken = ct },
                    async (table, token) =>
                    {
                        await using var worker = await dataSource.OpenConnectionAsync(token);
                        await using var tx = await worker.BeginTransactionAsync(token);
                        await using (var cmd = new NpgsqlCommand($"""
                            SET LOCAL work_mem = '256MB';
                            LOCK TABLE runs, run_plugins, installations IN ACCESS SHARE MODE;
                            TRUNCATE {table.Table};
                            INSERT INTO {table.Table} ({table.Columns})
                            {table.Select("true", RollupInput.Stored)};
                            {RollupSql.ResetVersions(table)}
                            """, worker, tx) { CommandTimeout = 0 })
                        {
                            await cmd.ExecuteNonQueryAsync(token);
                        }
                        await tx.CommitAsync(token);
                        // Fresh statistics at once: the first page views must not be planned for empty tables.
                        await using var analyze = new NpgsqlCommand($"ANALYZE {table.Table}", worker) { CommandTimeout = 0 };
                        await analyze.ExecuteNonQueryAsync(token);
                    });
            }
            catch
            {
                await EmptyRollupsAsync();
                throw;
            }
            // The marks left were logged while the tables were rebuilt, each of which may already count
            // their runs: adding those runs again would count them twice, so their slices are rebuilt.
            await using (var cmd = new NpgsqlCommand("""
                DELETE FROM rollup_dirty WHERE seq <= @last;
                UPDATE rollup_dirty SET run_id = NULL WHERE run_id IS NOT NULL;
                """, conn))
            {
                cmd.Parameters.AddWithValue("last", lastMark);
                await cmd.ExecuteNonQueryAsync(ct);
            }
        }
        finally
        {
            // A session that died (a server restart, a killed backend) released its lock with it.
            if (conn.State == System.Data.ConnectionState.Open)
            {
                await using var unlock = new NpgsqlCommand("SELECT pg_advisory_unlock(@key)", conn);
                unlock.Parameters.AddWithValue("key", LockKey);
                await unlock.ExecuteNonQueryAsync(CancellationToken.None);
            }
        }
        logger.LogInformation("Rebuilt all rollups in {Elapsed:F1} s", watch.Elapsed.TotalSeconds);
        return watch.Elapsed;
    }

    /// <summary>After a failed rebuild: empty rollups make the next pass rebuild everything again.</summary>
    private async Task EmptyRollupsAsync()
    {
        try
        {
            await using var conn = await dataSource.OpenConnectionAsync(CancellationToken.None);
            await using var empty = new NpgsqlCommand($"TRUNCATE {string.Join(", ", RollupSql.Tables.Select(t => t.Table))}, rollup_month_versions", conn);
            await empty.ExecuteNonQueryAsync(CancellationToken.None);
        }
        catch (NpgsqlException e)
        {
            // The database is gone; the marks are still logged, and the next pass sees what it needs to.
            logger.LogWarning(e, "Could not empty the rollups after a failed rebuild");
        }
    }
}

/// <summary>
/// Runs <see cref="RollupRefresher.RefreshAsync"/> every <see cref="RollupOptions.RefreshEvery"/>, and after
/// a long pass waits as long as the pass took: under heavy ingest spread over many days (a history import,
/// clients catching up) a pass rebuilds those days every time, and back to back they would take one of the
/// two cores from the collector. New data then shows within about three pass lengths (the wait, a pass
/// that started just before it arrived, and the pass that folds it in).
/// </summary>
public sealed class RollupRefreshService(RollupRefresher refresher, IOptions<RollupOptions> options, AppMetrics metrics,
    ILogger<RollupRefreshService> logger) : BackgroundService
{
    /// <summary>The pause after a pass that took <paramref name="elapsed"/>.</summary>
    public static TimeSpan WaitAfter(TimeSpan elapsed, TimeSpan every) =>
        elapsed >= every / 2 ? elapsed : every - elapsed;

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var every = options.Value.RefreshEvery;
        while (!stoppingToken.IsCancellationRequested)
        {
            var elapsed = TimeSpan.Zero;
            try
            {
                var result = await refresher.RefreshAsync(stoppingToken);
                elapsed = result.Elapsed;
                metrics.RefreshPassed(result.Elapsed, result.CaughtUp);
                if (result.Slices > 0)
                {
                    logger.LogDebug("Refreshed {Slices} rollup slices ({Added} by adding their new runs, {Marks} marks) in {Elapsed} ms",
                        result.Slices, result.Added, result.Marks, (long)result.Elapsed.TotalMilliseconds);
                }
            }
            catch (Exception e) when (e is not OperationCanceledException || !stoppingToken.IsCancellationRequested)
            {
                // The database may be down, restarting or not migrated yet (Npgsql reports a connection
                // killed mid-command as an InvalidOperationException, not only as NpgsqlException). The
                // marks wait in the log for the next tick; a refresher must never stop the app.
                metrics.RefreshFailed();
                logger.LogWarning(e, "Rollup refresh failed; retrying at the next tick");
            }
            try
            {
                // Wall-clock waits, not the app's TimeProvider: freshness is about real seconds, and a fixed
                // test clock must not stop the refresher.
                await Task.Delay(WaitAfter(elapsed, every), TimeProvider.System, stoppingToken);
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                return;
            }
        }
    }
}

public static class RollupExtensions
{
    public static IServiceCollection AddRollups(this IServiceCollection services, IConfiguration configuration, bool background = true)
    {
        var section = configuration.GetSection("Rollups");
        services.Configure<RollupOptions>(section);
        services.AddSingleton<RollupRefresher>();
        services.AddSingleton<RollupSource>();
        services.Configure<RollupCacheOptions>(configuration.GetSection("Rollups:Cache"));
        services.AddSingleton(sp => new RollupCache(sp.GetRequiredService<NpgsqlDataSource>(), sp.GetRequiredService<RollupSource>(),
            sp.GetRequiredService<IOptions<RollupCacheOptions>>().Value.MaxStaleness, sp.GetRequiredService<TimeProvider>()));
        if (background && section.GetValue("RefreshInBackground", true))
        {
            services.AddHostedService<RollupRefreshService>();
        }
        if (background)
        {
            services.AddStartupWork(RollupCacheSyncService.StartupWork);
            services.AddHostedService<RollupCacheSyncService>();
        }
        return services;
    }
}
