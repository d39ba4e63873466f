using Npgsql;
using UsageDashboard.Demo;
using UsageDashboard.Store;
using UsageDashboard.Tests.Infrastructure;
using static UsageDashboard.Tests.Infrastructure.TestEvents;

namespace UsageDashboard.Tests.Store;

/// <summary>
/// The bulk load derives runs in memory (<see cref="BulkRunDerivation"/>); the SQL in
/// <see cref="RunDerivationSql.DeriveAll"/> is the reference. Each test bulk-loads events, keeps the
/// derived rows, derives them again from the stored events in SQL and compares every row.
/// </summary>
[Collection(nameof(BulkRunDerivationTests))]
public sealed class BulkRunDerivationTests : IClassFixture<BulkRunDerivationTests.Db>
{
    public sealed class Db : DatabaseFixture;

    private static readonly DateTime s_now = new(2026, 11, 20, 15, 30, 0, DateTimeKind.Utc);
    private static readonly TimeSpan s_abortAfter = TimeSpan.FromHours(12);

    private readonly Db _db;

    public BulkRunDerivationTests(Db db) => _db = db;

    [Fact]
    public async Task BulkLoad_TestCluster_DerivesInMemory()
    {
        await using var conn = await _db.DataSource.OpenConnectionAsync();

        Assert.True(await BulkRunDerivation.AppliesToAsync(conn, default), "the comparisons below would test nothing");
    }

    [Fact]
    public async Task BulkLoad_DemoEvents_SameRowsAsSqlDerivation()
    {
        var events = DemoDataGenerator.Generate(new DemoOptions { Events = 6_000, Days = 10, Seed = 11, End = s_now }).ToList();

        var (inMemory, inSql) = await LoadBothWaysAsync(events);

        Assert.True(inMemory.Runs.Count > 2_000);
        StoreRows.AssertEqual(inSql, inMemory);
    }

    [Fact]
    public async Task BulkLoad_EdgeCases_SameRowsAsSqlDerivation()
    {
        var events = EdgeCaseEvents();

        var (inMemory, inSql) = await LoadBothWaysAsync(events);

        Assert.Equal(9, inMemory.Runs.Count);
        StoreRows.AssertEqual(inSql, inMemory);
    }

    [Theory]
    [InlineData(false, true)]
    [InlineData(true, true)]
    [InlineData(false, false)]
    [InlineData(true, false)]
    public async Task Write_LargeWritesEdgeCases_SameRowsAsSqlDerivation(bool splitRuns, bool inMemory)
    {
        // A write of more than EventWriter.PreparedWriteMaxEvents events derives the runs it starts in
        // memory and inserts them as they are; runs already stored are derived again in SQL. The edge cases
        // go in either whole in one write, or each run's events alternately into two writes (the second
        // finds those runs stored), with padding runs to make both writes large and a re-sent copy of some.
        // Without inMemory the writes derive in SQL, as on a database that does not sort by code point.
        var events = EdgeCaseEvents();
        // The tie's two terminal events get ids in the opposite order to the stream's: the insert stores a
        // write's events in id order, and the SQL rules break the tie by the ids the events got.
        events[3].EventId = Guid.Parse("ffffffff-0000-4000-8000-000000000000");
        events[4].EventId = Guid.Parse("00000000-0000-4000-8000-000000000001");
        // An id repeated within one write: only its first copy is stored, and only that copy counts.
        var repeated = CreateEvent(runKey: "repeated", status: RunStatus.Started, at: s_now.AddHours(-1), command: "first-copy");
        var copy = CreateEvent(runKey: "repeated", status: RunStatus.Failed, at: s_now.AddHours(-1), command: "second-copy", errorType: "Copy");
        copy.EventId = repeated.EventId;
        List<TelemetryEvent> Padding(int from) => [.. Enumerable.Range(from, 40).SelectMany(i => new[]
        {
            CreateEvent(runKey: $"pad-{i}", status: RunStatus.Started, at: s_now.AddMinutes(-i), installationId: $"pad-{i % 3}",
                plugins: [Plugin("dbt-duckdb", "adapter", $"1.{i % 4}.0", null)]),
            CreateEvent(runKey: $"pad-{i}", status: i % 4 == 0 ? RunStatus.Failed : RunStatus.Succeeded, at: s_now.AddMinutes(-i).AddSeconds(30),
                installationId: $"pad-{i % 3}", errorType: i % 4 == 0 ? "DbtRuntimeError" : null),
        })];
        List<TelemetryEvent> first = [.. splitRuns ? events.Where((_, i) => i % 2 == 0) : events, repeated, copy, .. Padding(0)];
        List<TelemetryEvent> second = [.. splitRuns ? events.Where((_, i) => i % 2 == 1) : [], .. first.Take(3), .. Padding(40)];
        await _db.ResetAsync();
        var writer = CreateWriter(_db, new FakeTimeProvider(new DateTimeOffset(s_now)), s_abortAfter);
        if (!inMemory)
        {
            writer.DeriveInSqlOnly();
        }

        var results = new List<WriteResult> { await writer.WriteAsync(first, default), await writer.WriteAsync(second, default) };
        var written = await StoreRows.ReadAsync(_db.DataSource);

        Assert.All([first, second], w => Assert.True(w.Count > EventWriter.PreparedWriteMaxEvents));
        Assert.Equal(first.Count - 1, results[0].Accepted);
        Assert.Equal(3, results[1].Duplicates);
        Assert.Equal("first-copy", await ScalarTextAsync("SELECT command FROM runs WHERE run_key = 'repeated'"));
        Assert.Equal("failed", await ScalarTextAsync("SELECT status FROM runs WHERE run_key = 'tie'"));
        StoreRows.AssertEqual(await DeriveAllInSqlAsync(), written);
    }

    [Fact]
    public async Task BulkLoad_DemoEvents_RollupsSameAsSqlRebuild()
    {
        var events = DemoDataGenerator.Generate(new DemoOptions { Events = 8_000, Days = 40, Seed = 5, End = s_now }).ToList();

        var (inMemory, rebuilt) = await RollupsBothWaysAsync(events);

        Assert.True(inMemory.Count > 5_000, $"only {inMemory.Count} rollup rows: the comparison would say little");
        Assert.Equal(rebuilt, inMemory);
    }

    [Fact]
    public async Task BulkLoad_EdgeCases_RollupsSameAsSqlRebuild()
    {
        var events = EdgeCaseEvents();
        // Durations whose ln(ms + 1) · 8/ln 2 is a whole number in exact arithmetic (1, 3, 15, 255, 65535: bucket
        // boundaries, where C# and PostgreSQL rounding could part), zero and below zero (left out of
        // histograms), no command, and error types on failed and aborted runs, plus a run on a month's last day.
        foreach (var ms in new long[] { 1, 3, 15, 255, 65_535 })
        {
            events.Add(CreateEvent(runKey: $"edge-{ms}", status: RunStatus.Succeeded, at: s_now.AddHours(-4), durationMs: ms, command: "edge"));
        }
        events.Add(CreateEvent(runKey: "d0", status: RunStatus.Succeeded, at: s_now.AddHours(-3), durationMs: 0));
        events.Add(CreateEvent(runKey: "d-1", status: RunStatus.Failed, at: s_now.AddHours(-3), durationMs: -1, command: null));
        events.Add(CreateEvent(runKey: "d-big", status: RunStatus.Aborted, at: s_now.AddHours(-3), durationMs: 86_400_000, errorType: "Timeout"));
        events.Add(CreateEvent(runKey: "month-end", status: RunStatus.Failed, at: new DateTime(2026, 10, 31, 23, 59, 59, DateTimeKind.Utc), durationMs: 1));

        var (inMemory, rebuilt) = await RollupsBothWaysAsync(events);

        Assert.Contains(inMemory, r => r.StartsWith("rollup_plugin_error_days:", StringComparison.Ordinal));
        Assert.Contains(inMemory, r => r.StartsWith("rollup_command_durations:", StringComparison.Ordinal));
        Assert.Equal(rebuilt, inMemory);
    }

    [Fact]
    public async Task BulkLoad_ThenWrite_TriggersMarkAgainAndIdsFollowOn()
    {
        await _db.ResetAsync();
        var writer = CreateWriter(_db, new FakeTimeProvider(new DateTimeOffset(s_now)), s_abortAfter);
        await writer.BulkLoadAsync(Chunks(EdgeCaseEvents(), 5), null, default);
        Assert.Equal(0L, await ScalarAsync("SELECT count(*) FROM rollup_dirty"));
        Assert.True(await ScalarAsync("SELECT count(*) FROM rollup_month_versions") > 0, "the loaded segments have no versions: caches would not load them");

        await writer.WriteAsync([CreateEvent(runKey: "after-load", status: RunStatus.Succeeded, at: s_now.AddMinutes(-1), installationId: "new-inst")], default);

        // The rollup triggers are on again, and the identities continue after the ids the load reserved.
        Assert.True(await ScalarAsync("SELECT count(*) FROM rollup_dirty") > 0);
        Assert.Equal(await ScalarAsync("SELECT max(id) FROM runs WHERE run_key <> 'after-load'") + 1,
            await ScalarAsync("SELECT id FROM runs WHERE run_key = 'after-load'"));
        Assert.Equal(await ScalarAsync("SELECT max(id) FROM installations WHERE installation_id <> 'new-inst'") + 1,
            await ScalarAsync("SELECT id FROM installations WHERE installation_id = 'new-inst'"));
    }

    [Fact]
    public async Task BulkLoad_DemoEvents_LeavesEveryLoadedTableVacuumedAndAnalyzed()
    {
        await _db.ResetAsync();
        string[] tables = ["events", "events_y2026m11", "event_keys", "runs", "run_plugins", "installations", "rollup_installation_months", "rollup_run_days"];
        var writer = CreateWriter(_db, new FakeTimeProvider(new DateTimeOffset(s_now)), s_abortAfter);
        var options = new DemoOptions { Events = 2_000, Days = 5, Seed = 2, End = s_now };
        // Column statistics come only from ANALYZE (an index build sets row counts, not these); those an
        // earlier test's load left are removed first (the test cluster connects as a superuser).
        await ScalarAsync("SELECT count(events_ensure_partition('2026-11-01'))");
        await ScalarAsync($"WITH d AS (DELETE FROM pg_statistic WHERE starelid = ANY (ARRAY['{string.Join("', '", tables)}']::regclass[]) RETURNING 1) SELECT count(*) FROM d");

        await writer.BulkLoadAsync(Chunks(DemoDataGenerator.Generate(options).ToList(), 500), null, default, DemoDataGenerator.Months(options));

        foreach (var table in tables)
        {
            Assert.True(await ScalarAsync($"SELECT count(*) FROM pg_stats WHERE schemaname = current_schema() AND tablename = '{table}'") > 0,
                $"{table} has no statistics after the load");
        }
        // Vacuumed by the load (not by autovacuum, which is off on the test cluster's new tables this
        // soon): every heap page of the loaded partition is all-visible, so no later first pass is due.
        Assert.Equal(0, await ScalarAsync("""
            SELECT count(*) FROM pg_stat_user_tables
            WHERE relname IN ('events_y2026m11', 'event_keys', 'runs', 'run_plugins', 'installations') AND last_vacuum IS NULL
            """));
        Assert.Equal(await ScalarAsync("SELECT relpages FROM pg_class WHERE relname = 'events_y2026m11'"),
            await ScalarAsync("SELECT relallvisible FROM pg_class WHERE relname = 'events_y2026m11'"));
    }

    private async Task<long> ScalarAsync(string sql)
    {
        await using var cmd = _db.DataSource.CreateCommand(sql);
        return Convert.ToInt64(await cmd.ExecuteScalarAsync(), System.Globalization.CultureInfo.InvariantCulture);
    }

    /// <summary>Bulk-loads <paramref name="events"/> (rollups built in memory), then rebuilds every rollup from runs in SQL; both snapshots.</summary>
    private async Task<(List<string> InMemory, List<string> Rebuilt)> RollupsBothWaysAsync(List<TelemetryEvent> events)
    {
        await _db.ResetAsync();
        var writer = CreateWriter(_db, new FakeTimeProvider(new DateTimeOffset(s_now)), s_abortAfter);
        await writer.BulkLoadAsync(Chunks(events, 1_000), null, default);
        var inMemory = await TestRollups.SnapshotAsync(_db);
        var versions = await VersionKeysAsync();

        await TestRollups.CreateRefresher(_db).RebuildAllAsync(default);

        Assert.Equal(await VersionKeysAsync(), versions);
        return (inMemory, await TestRollups.SnapshotAsync(_db));
    }

    private async Task<List<string>> VersionKeysAsync()
    {
        var keys = new List<string>();
        await using var cmd = _db.DataSource.CreateCommand("SELECT table_name || '/' || month || '/' || tool FROM rollup_month_versions ORDER BY 1");
        await using var reader = await cmd.ExecuteReaderAsync();
        while (await reader.ReadAsync())
        {
            keys.Add(reader.GetString(0));
        }
        return keys;
    }

    /// <summary>Hand-made runs for the derivation's edge cases (ties, out of order, mixed dimensions, plugin outcome rules, code-point order).</summary>
    private static List<TelemetryEvent> EdgeCaseEvents()
    {
        var t = s_now.AddHours(-2);
        var events = new List<TelemetryEvent>
        {
            // End before start in the stream; no duration sent, so it comes from the timestamps,
            // which carry sub-millisecond and sub-microsecond parts (rounding and truncation).
            CreateEvent(runKey: "out-of-order", status: RunStatus.Succeeded, at: t.AddTicks(10_005_003)),
            CreateEvent(runKey: "out-of-order", status: RunStatus.Started, at: t),
            // Two terminal events at the same instant: the later one in the stream wins, for status and error.
            CreateEvent(runKey: "tie", status: RunStatus.Started, at: t),
            CreateEvent(runKey: "tie", status: RunStatus.Failed, at: t.AddSeconds(5), errorType: "First"),
            CreateEvent(runKey: "tie", status: RunStatus.Succeeded, at: t.AddSeconds(5), errorType: "Second"),
            // The latest error by time, not by stream position; dimensions that differ within one run.
            CreateEvent(runKey: "mixed", status: RunStatus.Failed, at: t.AddSeconds(9), errorType: "Late", installationId: "inst-b",
                toolVersion: "1.10.0", durationMs: 42, isCi: true),
            CreateEvent(runKey: "mixed", status: RunStatus.Failed, at: t.AddSeconds(3), errorType: "Early", installationId: "inst-a",
                toolVersion: "1.9.0", command: "é-build", osName: null),
            // Open runs: one past Runs:AbortAfter, one not.
            CreateEvent(runKey: "stale", status: RunStatus.Started, at: s_now - s_abortAfter - TimeSpan.FromMinutes(1)),
            CreateEvent(runKey: "open", status: RunStatus.Started, at: s_now.AddMinutes(-5)),
            // Single events without an outcome, with and without a command.
            CreateEvent(tool: "jetty", status: RunStatus.Unknown, installationId: "j-1", at: t),
            CreateEvent(tool: "jetty", status: RunStatus.Unknown, installationId: "j-1", at: t.AddDays(-3), command: null),
            // Plugins: own outcome on one event only, null vs empty type, version on one event only, a
            // non-terminal own status, and names whose order depends on comparing by code point.
            CreateEvent(tool: "meltano", runKey: "plugins", status: RunStatus.Started, at: t, plugins:
            [
                Plugin("tap-x", "extractors", null, RunStatus.Failed),
                Plugin("tapa", null, "2.0", null),
                Plugin("Tap", "", "", "running"),
                Plugin("zeta", "loaders", "1.0", null),
                Plugin("émoji-😀", "loaders", null, null),
                Plugin("émoji-\uFFFD", "loaders", null, null),
            ]),
            CreateEvent(tool: "meltano", runKey: "plugins", status: RunStatus.Succeeded, at: t.AddMinutes(1), plugins:
            [
                Plugin("tap-x", "extractors", "0.9", null),
                Plugin("tapa", "", "1.5", RunStatus.Skipped),
                Plugin("zeta", "loaders", "1.0", RunStatus.Aborted),
                Plugin("zeta", "other", "3.0", null),
            ]),
            // A plugin-only run that never ends and is old enough to count as aborted.
            CreateEvent(tool: "meltano", runKey: "plugins-stale", status: RunStatus.Started, at: s_now.AddDays(-2),
                plugins: [Plugin("tap-y", "extractors", "1.0", null)]),
        };

        // A user id on only one event of a run, and two different ones in another.
        events[1].UserId = "u1";
        events[5].UserId = "u2";
        events[6].UserId = "u10";

        return events;
    }

    private async Task<(StoreRows InMemory, StoreRows InSql)> LoadBothWaysAsync(List<TelemetryEvent> events)
    {
        await _db.ResetAsync();
        var writer = CreateWriter(_db, new FakeTimeProvider(new DateTimeOffset(s_now)), s_abortAfter);
        await writer.BulkLoadAsync(Chunks(events, 1_000), null, default);
        var inMemory = await StoreRows.ReadAsync(_db.DataSource);
        return (inMemory, await DeriveAllInSqlAsync());
    }

    /// <summary>Derives runs, run plugins and installations again from the stored events in SQL (the reference); the rows.</summary>
    private async Task<StoreRows> DeriveAllInSqlAsync()
    {
        await using (var conn = await _db.DataSource.OpenConnectionAsync())
        await using (var tx = await conn.BeginTransactionAsync())
        {
            await using (var clear = new NpgsqlCommand("TRUNCATE runs, run_plugins, installations", conn))
            {
                await clear.ExecuteNonQueryAsync();
            }
            await using (var derive = new NpgsqlCommand(RunDerivationSql.DeriveAll, conn))
            {
                derive.Parameters.AddWithValue("now", s_now);
                derive.Parameters.AddWithValue("abort_before", s_now - s_abortAfter);
                await derive.ExecuteNonQueryAsync();
            }
            await tx.CommitAsync();
        }
        return await StoreRows.ReadAsync(_db.DataSource);
    }

    private async Task<string> ScalarTextAsync(string sql)
    {
        await using var cmd = _db.DataSource.CreateCommand(sql);
        return (string)(await cmd.ExecuteScalarAsync())!;
    }

    private static PluginRef Plugin(string name, string? type, string? version, string? status) =>
        new() { Name = name, Type = type, Version = version, Status = status };

#pragma warning disable CS1998 // an async iterator over data already in memory
    private static async IAsyncEnumerable<IReadOnlyList<TelemetryEvent>> Chunks(List<TelemetryEvent> events, int size)
    {
        foreach (var chunk in events.Chunk(size))
        {
            yield return chunk;
        }
    }
#pragma warning restore CS1998
}

/// <summary>
/// Bulk loads run alone, after the parallel classes: VACUUM marks a page all-visible only when no session that counts
/// for the cluster's horizon holds an older snapshot, and a backend still connecting (not yet in a database, reading
/// shared catalogs) counts for every database, so another class's connections made the load's all-visible check flaky.
/// </summary>
[CollectionDefinition(nameof(BulkRunDerivationTests), DisableParallelization = true)]
public sealed class BulkLoadCollection;
