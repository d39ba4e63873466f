using Microsoft.EntityFrameworkCore;
using UsageDashboard.Demo;
using UsageDashboard.Store;
using UsageDashboard.Tests.Infrastructure;
using static UsageDashboard.Tests.Infrastructure.TestEvents;

namespace UsageDashboard.Tests.Demo;

public sealed class DemoLoaderTests : IClassFixture<DemoLoaderTests.Db>
{
    public sealed class Db : DatabaseFixture;

    private static readonly DateTime s_end = new(2026, 11, 20, 15, 30, 0, DateTimeKind.Utc);

    private readonly Db _db;

    public DemoLoaderTests(Db db) => _db = db;

    [Fact]
    public async Task Load_TwentyThousandEvents_RunsDerivedWithAbortsAndTheBrokenPluginFailing()
    {
        await _db.ResetAsync();
        // 30 days of 20,000 events: the broken pip_url's last day holds a few dozen runs (seeded, so always the same ones).
        var options = new DemoOptions { Events = 20_000, Days = 30, Seed = 42, End = s_end };
        var loader = new DemoLoader(CreateWriter(_db, new FakeTimeProvider(new DateTimeOffset(s_end))), TestRollups.CreateRefresher(_db));
        var reported = new List<long>();

        var result = await loader.LoadAsync(options, new SynchronousProgress(reported.Add), default);

        Assert.Equal(result.Events, result.Accepted);
        Assert.Equal(0, result.Duplicates);
        Assert.InRange(result.Events, 19_600, 20_400);
        Assert.Equal(result.Events, reported[^1]);
        await using var ctx = _db.CreateDbContext();
        Assert.Equal(result.Events, await ctx.Events.LongCountAsync());
        var runs = await ctx.Runs.AsNoTracking().GroupBy(r => r.Status).Select(g => new { g.Key, Count = g.Count() }).ToDictionaryAsync(g => g.Key, g => g.Count);
        Assert.True(runs.GetValueOrDefault(RunStatus.Succeeded) > 5_000);
        Assert.True(runs.GetValueOrDefault(RunStatus.Failed) > 0);
        Assert.True(runs.GetValueOrDefault(RunStatus.Aborted) > 0);
        Assert.True(runs.GetValueOrDefault(RunStatus.Unknown) > 0, "jetty runs have no outcome");
        var broken = await ctx.RunPlugins.AsNoTracking()
            .Where(p => p.Name == DemoDataGeneratorTests.BrokenStoredName && p.Version == DemoDataGeneratorTests.BrokenDefaultPipUrlHash
                && p.OccurredAt >= s_end.AddDays(-DemoDataGenerator.BrokenPluginReleaseDaysBeforeEnd)
                && (p.Status == RunStatus.Succeeded || p.Status == RunStatus.Failed))
            .GroupBy(p => 1)
            .Select(g => new { Runs = g.Count(), Failed = g.Count(p => p.Status == RunStatus.Failed) })
            .SingleAsync();
        Assert.True(broken.Runs >= 10, $"only {broken.Runs} runs of the broken pip_url");
        Assert.True(broken.Failed >= broken.Runs * 0.25, $"{broken.Failed} of {broken.Runs} failed");
    }

    [Fact]
    public async Task Load_EmptyStore_EventsLandInTheirMonthlyPartitions()
    {
        await _db.ResetAsync();
        // Months no other test of this class loads, so the partitions below are this load's own.
        var end = new DateTime(2025, 3, 10, 12, 0, 0, DateTimeKind.Utc);
        var options = new DemoOptions { Events = 3_000, Days = 40, Seed = 9, End = end };
        var loader = new DemoLoader(CreateWriter(_db, new FakeTimeProvider(new DateTimeOffset(end))), TestRollups.CreateRefresher(_db));

        var result = await loader.LoadAsync(options, null, default);

        Assert.Equal(0L, await CountAsync("events_default"));
        var january = await CountAsync("events_y2025m01");
        var february = await CountAsync("events_y2025m02");
        var march = await CountAsync("events_y2025m03");
        Assert.True(january > 0 && february > 0 && march > 0, $"{january}, {february}, {march}");
        Assert.Equal(result.Events, january + february + march);
    }

    private async Task<long> CountAsync(string table)
    {
        await using var cmd = _db.DataSource.CreateCommand($"SELECT count(*) FROM {table}");
        return (long)(await cmd.ExecuteScalarAsync())!;
    }

    [Fact]
    public async Task Load_SameSeedTwice_SecondLoadAllDuplicates()
    {
        await _db.ResetAsync();
        var options = new DemoOptions { Events = 3_000, Days = 7, Seed = 7, End = s_end };
        var loader = new DemoLoader(CreateWriter(_db, new FakeTimeProvider(new DateTimeOffset(s_end))), TestRollups.CreateRefresher(_db));

        var first = await loader.LoadAsync(options, null, default);
        var second = await loader.LoadAsync(options, null, default);

        Assert.Equal(first.Events, first.Accepted);
        Assert.Equal(0, second.Accepted);
        Assert.Equal(first.Events, second.Duplicates);
    }

    [Fact]
    public async Task BulkLoad_IntoEmptyStore_SameRunsAsWritingBatchByBatch()
    {
        var options = new DemoOptions { Events = 4_000, Days = 5, Seed = 3, End = s_end };
        var events = DemoDataGenerator.Generate(options).ToList();
        var writer = CreateWriter(_db, new FakeTimeProvider(new DateTimeOffset(s_end)));

        await _db.ResetAsync();
        var bulk = await writer.BulkLoadAsync(Chunks(events, 1_000), null, default);
        var bulkStore = await StoreRows.ReadAsync(_db.DataSource);
        await _db.ResetAsync();
        // Small batches, so many runs have their start and end in different writes.
        foreach (var batch in events.Chunk(300))
        {
            await writer.WriteAsync(batch, default);
        }
        var incrementalStore = await StoreRows.ReadAsync(_db.DataSource);

        Assert.Equal(new WriteResult(events.Count, 0), bulk);
        StoreRows.AssertEqual(incrementalStore, bulkStore);
    }

    [Fact]
    public async Task BulkLoad_IntoEmptyStore_EveryIndexAndKeyRestored()
    {
        await _db.ResetAsync();
        var before = await SchemaAsync();
        var events = DemoDataGenerator.Generate(new DemoOptions { Events = 500, Days = 2, Seed = 5, End = s_end }).ToList();

        await CreateWriter(_db, new FakeTimeProvider(new DateTimeOffset(s_end))).BulkLoadAsync(Chunks(events, 100), null, default);

        Assert.Equal(before, await SchemaAsync());
        Assert.Contains(before, d => d.Contains("PRIMARY KEY", StringComparison.Ordinal));
    }

    /// <summary>Index and key definitions of the tables the bulk load sets aside and rebuilds.</summary>
    private async Task<List<string>> SchemaAsync()
    {
        var rows = new List<string>();
        await using var cmd = _db.DataSource.CreateCommand("""
            SELECT indexdef FROM pg_indexes WHERE tablename IN ('events', 'runs', 'run_plugins', 'installations')
            UNION ALL
            SELECT conname || ' ' || pg_get_constraintdef(oid) FROM pg_constraint
            WHERE conrelid IN ('events'::regclass, 'runs'::regclass, 'run_plugins'::regclass, 'installations'::regclass)
            ORDER BY 1
            """);
        await using var reader = await cmd.ExecuteReaderAsync();
        while (await reader.ReadAsync())
        {
            rows.Add(reader.GetString(0));
        }
        return rows;
    }

#pragma warning disable CS1998 // an async iterator over data already in memory
    private static async IAsyncEnumerable<IReadOnlyList<TelemetryEvent>> Chunks(List<TelemetryEvent> events, int size)
    {
        foreach (var chunk in events.Chunk(size))
        {
            yield return chunk;
        }
    }
#pragma warning restore CS1998

    private sealed class SynchronousProgress(Action<long> report) : IProgress<long>
    {
        public void Report(long value) => report(value);
    }
}
