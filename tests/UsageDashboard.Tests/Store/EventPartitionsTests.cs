using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Infrastructure;
using Microsoft.EntityFrameworkCore.Migrations;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Npgsql;
using UsageDashboard.Database;
using UsageDashboard.Hosting;
using UsageDashboard.Store;
using UsageDashboard.Tests.Infrastructure;
using static UsageDashboard.Tests.Infrastructure.TestEvents;

namespace UsageDashboard.Tests.Store;

/// <summary>The month-partitioned events table: dedup across partitions, partitions on demand, retention.</summary>
public sealed class EventPartitionsTests : IClassFixture<EventPartitionsTests.Db>, IAsyncLifetime
{
    public sealed class Db : DatabaseFixture;

    private static readonly DateTimeOffset s_now = new(2026, 11, 22, 6, 0, 0, TimeSpan.Zero);
    private readonly Db _db;

    public EventPartitionsTests(Db db) => _db = db;

    public Task InitializeAsync() => _db.ResetAsync();

    public Task DisposeAsync() => Task.CompletedTask;

    [Fact]
    public async Task Write_RetryLandsInAnotherMonth_CountedAsDuplicate()
    {
        var writer = CreateWriter(_db);
        var id = Guid.NewGuid();
        var first = await writer.WriteAsync([CreateEvent(eventId: id, runKey: "retry-1", at: new DateTime(2026, 10, 31, 23, 59, 0, DateTimeKind.Utc))], default);
        // The retry was clock-adjusted to its receipt time, in the next month (another partition).
        var retry = await writer.WriteAsync([CreateEvent(eventId: id, runKey: "retry-1", at: new DateTime(2026, 11, 2, 8, 0, 0, DateTimeKind.Utc))], default);

        Assert.Equal(new WriteResult(1, 0), first);
        Assert.Equal(new WriteResult(0, 1), retry);
        Assert.Equal(1, await ScalarAsync<long>("SELECT count(*) FROM events"));
        Assert.Equal(1, await ScalarAsync<int>("SELECT event_count FROM runs WHERE run_key = 'retry-1'"));
    }

    [Fact]
    public async Task Write_SameIdTwiceInOneBatch_StoredOnce()
    {
        var writer = CreateWriter(_db);
        var id = Guid.NewGuid();

        var result = await writer.WriteAsync([CreateEvent(eventId: id, at: T0), CreateEvent(eventId: id, at: T0.AddMonths(-3))], default);

        Assert.Equal(new WriteResult(1, 1), result);
        Assert.Equal(T0, await ScalarAsync<DateTime>("SELECT occurred_at FROM events"));
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task Write_RunsEventsInConcurrentTransactions_EveryRunSeesAllItsEvents(bool inMemory)
    {
        // Starts and ends of the same runs commit side by side; each derivation must include what the
        // other committed (the per-run lock), or a run ends up with one event and a wrong status. Without
        // inMemory the writes derive in SQL, as on a database that does not sort by code point.
        var writer = CreateWriter(_db);
        if (!inMemory)
        {
            writer.DeriveInSqlOnly();
        }
        for (var round = 0; round < 5; round++)
        {
            var keys = Enumerable.Range(0, 200).Select(i => $"race-{round}-{i}").ToList();
            var starts = keys.Select((k, i) => CreateEvent(runKey: k, installationId: $"a-{i}", status: RunStatus.Started, at: T0)).ToList();
            var ends = keys.Select((k, i) => CreateEvent(runKey: k, installationId: $"b-{i}", status: RunStatus.Succeeded, at: T0.AddSeconds(5))).ToList();

            await Task.WhenAll(Task.Run(() => writer.WriteAsync(starts, default)), Task.Run(() => writer.WriteAsync(ends, default)));
        }

        Assert.Equal(0, await ScalarAsync<long>("SELECT count(*) FROM runs WHERE run_key LIKE 'race-%' AND (event_count <> 2 OR status <> 'succeeded' OR duration_ms <> 5000)"));
        Assert.Equal(1000, await ScalarAsync<long>("SELECT count(*) FROM runs WHERE run_key LIKE 'race-%'"));
    }

    [Fact]
    public async Task Write_LargeAndSmallWritesShareNewRunsConcurrently_EveryRunSeesAllItsEvents()
    {
        // A large write inserts the runs it derived in memory as they are; a small one derives in SQL and
        // upserts. Both take the runs' locks first, so whichever comes second sees the other's events;
        // without them the upsert of a run the large write had just inserted found as many events as its
        // own and kept the large write's run (one event, a wrong status).
        var writer = CreateWriter(_db);
        for (var round = 0; round < 8; round++)
        {
            var keys = Enumerable.Range(0, 120).Select(i => $"mixed-{round}-{i}").ToList();
            var starts = keys.Select(k => CreateEvent(runKey: k, status: RunStatus.Started, at: T0)).ToList();
            var ends = keys.Select(k => CreateEvent(runKey: k, status: RunStatus.Succeeded, at: T0.AddSeconds(5))).ToList();

            await Task.WhenAll(
                Task.Run(() => writer.WriteAsync(starts, default)),
                Task.Run(() => writer.WriteAsync(ends[..60], default)),
                Task.Run(() => writer.WriteAsync(ends[60..], default)));
        }

        Assert.Equal(0, await ScalarAsync<long>("SELECT count(*) FROM runs WHERE run_key LIKE 'mixed-%' AND (event_count <> 2 OR status <> 'succeeded' OR duration_ms <> 5000)"));
        Assert.Equal(960, await ScalarAsync<long>("SELECT count(*) FROM runs WHERE run_key LIKE 'mixed-%'"));
    }

    [Theory]
    [InlineData(1)]
    [InlineData(40)]
    public async Task Write_ConcurrentWritesShareIdsInOtherOrders_NoDeadlockEachStoredOnce(int padding)
    {
        // Two writes carry the same two events in opposite orders (group commits of a request and its retry),
        // both waiting behind a third transaction that holds one of the ids. Inserting the keys in arrival
        // order, the write that took the first id next waited for the second, which the other had taken and
        // then waited for the first: a deadlock, and one write failed. Keys go in sorted, so both wait for
        // the same id first and neither holds what the other needs. Padding 40 makes each write 82 events,
        // through the staging COPY; 1 makes it 4, through the prepared small write.
        var writer = CreateWriter(_db);
        for (var round = 0; round < 4; round++)
        {
            var x = CreateEvent(runKey: $"x-{round}");
            var y = CreateEvent(runKey: $"y-{round}");
            List<TelemetryEvent> Pad() => [.. Enumerable.Range(0, padding).Select(_ => CreateEvent())];
            List<TelemetryEvent> first = [x, .. Pad(), y, .. Pad()];
            List<TelemetryEvent> second = [y, .. Pad(), x, .. Pad()];

            await using var holder = await _db.DataSource.OpenConnectionAsync();
            await using var held = await holder.BeginTransactionAsync();
            await writer.WriteAsync(holder, [x], default);
            // The write that queued first behind the holder is the one that took x first when it let go.
            var a = WriteInOwnTransactionAsync(writer, first);
            await WaitForLockWaitersAsync(1);
            var b = WriteInOwnTransactionAsync(writer, second);
            await WaitForLockWaitersAsync(2);
            await held.RollbackAsync();

            var results = await Task.WhenAll(a, b);

            Assert.Equal(2 + (4 * padding), results.Sum(r => r.Accepted));
            Assert.Equal(2, results.Sum(r => r.Duplicates));
        }
        Assert.Equal(4 * 2 * (1 + (2 * padding)), await ScalarAsync<long>("SELECT count(*) FROM events"));
        Assert.Equal(0, await ScalarAsync<long>("SELECT count(*) FROM runs WHERE event_count <> 1"));
    }

    [Fact]
    public async Task BulkLoad_ReaderHoldsOneTableThenAsksForAnother_LoadRetriesAndCompletes()
    {
        // A reader holds installations and, once the load holds the other tables and waits for that one,
        // asks for runs: a deadlock, whose check fires first in the load (it waited longer), so the load is
        // the one aborted. It started no chunk, so it starts again and completes once the reader is done.
        var writer = CreateWriter(_db);
        await using var reader = await _db.DataSource.OpenConnectionAsync();
        await using var readTx = await reader.BeginTransactionAsync();
        await using (var cmd = new NpgsqlCommand("SELECT count(*) FROM installations", reader, readTx))
        {
            await cmd.ExecuteScalarAsync();
        }

        var load = writer.BulkLoadAsync(Chunks(), null, default);
        await WaitForLockWaitersAsync(1);
        await using (var cmd = new NpgsqlCommand("SELECT count(*) FROM runs", reader, readTx))
        {
            await cmd.ExecuteScalarAsync();
        }
        await readTx.CommitAsync();

        Assert.Equal(new WriteResult(2, 0), await load);
        Assert.Equal(2, await ScalarAsync<long>("SELECT count(*) FROM events"));

        static async IAsyncEnumerable<IReadOnlyList<TelemetryEvent>> Chunks()
        {
            await Task.Yield();
            yield return [CreateEvent(runKey: "bulk-1"), CreateEvent(runKey: "bulk-2")];
        }
    }

    private async Task<WriteResult> WriteInOwnTransactionAsync(EventWriter writer, List<TelemetryEvent> events)
    {
        await using var conn = await _db.DataSource.OpenConnectionAsync();
        await using var tx = await conn.BeginTransactionAsync();
        var result = await writer.WriteAsync(conn, events, default);
        await tx.CommitAsync();
        return result;
    }

    private async Task WaitForLockWaitersAsync(int count)
    {
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (await ScalarAsync<long>("SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND datname = current_database()") < count)
        {
            Assert.True(DateTime.UtcNow < deadline, $"fewer than {count} writes waited for the held id");
            await Task.Delay(20);
        }
    }

    [Fact]
    public async Task Write_MonthWithoutPartition_AcceptedThenMovedIntoItsOwnPartition()
    {
        var writer = CreateWriter(_db);
        var farPast = new DateTime(2019, 5, 14, 10, 0, 0, DateTimeKind.Utc);
        var farFuture = new DateTime(2031, 2, 3, 10, 0, 0, DateTimeKind.Utc);

        var result = await writer.WriteAsync([CreateEvent(at: farPast), CreateEvent(at: farFuture)], default);
        Assert.Equal(new WriteResult(2, 0), result);
        Assert.Equal(2, await ScalarAsync<long>("SELECT count(*) FROM events_default"));

        var created = await CreatePartitions(s_now, rawEventsDays: 10_000).EnsurePartitionsAsync(default);

        Assert.Contains("events_y2019m05", created);
        Assert.Contains("events_y2031m02", created);
        Assert.Equal(0, await ScalarAsync<long>("SELECT count(*) FROM events_default"));
        Assert.Equal("events_y2019m05", await ScalarAsync<string>($"SELECT tableoid::regclass::text FROM events WHERE occurred_at = '{farPast:O}'"));
        // The moved events are still found as duplicates and by run derivation.
        Assert.Equal(new WriteResult(0, 1), await writer.WriteAsync([CreateEvent(eventId: await ScalarAsync<Guid>($"SELECT event_id FROM events WHERE occurred_at = '{farPast:O}'"), at: farPast)], default));
    }

    [Fact]
    public async Task Maintain_MonthsPastRetention_DropsOnlyWholeMonthsAndKeepsRuns()
    {
        var writer = CreateWriter(_db);
        // Now is 2026-11-22 and events are kept 400 days: the cutoff is 2025-10-18, so September 2025
        // (ended 2025-10-01) goes and October 2025 (ends after the cutoff) stays whole.
        var september = new DateTime(2025, 9, 10, 0, 0, 0, DateTimeKind.Utc);
        var october = new DateTime(2025, 10, 2, 0, 0, 0, DateTimeKind.Utc);
        var old = CreateEvent(runKey: "old-run", at: september, status: RunStatus.Started);
        await writer.WriteAsync([old, CreateEvent(runKey: "old-run", at: september.AddMinutes(5)),
            CreateEvent(runKey: "october-run", at: october), CreateEvent(runKey: "recent-run", at: s_now.UtcDateTime.AddDays(-1))], default);
        var partitions = CreatePartitions(s_now, rawEventsDays: 400);
        await partitions.EnsurePartitionsAsync(default);

        var dry = await partitions.MaintainAsync(dryRun: true, default);
        // (Other tests of this class may leave empty partitions of older months behind.)
        Assert.Equal(2, Assert.Single(dry.Dropped, p => p.Table == "events_y2025m09").Rows);
        Assert.DoesNotContain(dry.Dropped, p => p.Table == "events_y2025m10");
        Assert.Equal(4, await ScalarAsync<long>("SELECT count(*) FROM events"));

        var result = await partitions.MaintainAsync(dryRun: false, default);

        Assert.Contains(result.Dropped, p => p.Table == "events_y2025m09");
        Assert.DoesNotContain(result.Dropped, p => p.Table == "events_y2025m10");
        Assert.Null(await ScalarAsync<string?>("SELECT to_regclass('events_y2025m09')::text"));
        Assert.Equal(2, await ScalarAsync<long>("SELECT count(*) FROM events"));
        Assert.Equal(2, await ScalarAsync<long>("SELECT count(*) FROM event_keys"));
        Assert.Equal(3, await ScalarAsync<long>("SELECT count(*) FROM runs"));
        Assert.Equal(2, await ScalarAsync<int>("SELECT event_count FROM runs WHERE run_key = 'old-run'"));
        Assert.Equal(1, await ScalarAsync<long>("SELECT count(*) FROM installations"));

        // A late event of the dropped run is stored, but the run, the long-term record, keeps what it had.
        Assert.Equal(new WriteResult(1, 0), await writer.WriteAsync([CreateEvent(runKey: "old-run", at: september.AddMinutes(9), status: RunStatus.Failed)], default));
        Assert.Equal(2, await ScalarAsync<int>("SELECT event_count FROM runs WHERE run_key = 'old-run'"));
        Assert.Equal(RunStatus.Succeeded, await ScalarAsync<string>("SELECT status FROM runs WHERE run_key = 'old-run'"));
    }

    [Fact]
    public async Task MaintenanceService_Pass_LogsWhatItDropped()
    {
        var writer = CreateWriter(_db);
        await writer.WriteAsync([CreateEvent(at: new DateTime(2024, 3, 3, 0, 0, 0, DateTimeKind.Utc))], default);
        var logger = new ListLogger<EventPartitionMaintenance>();
        var services = new ServiceCollection().AddSingleton(CreatePartitions(s_now, rawEventsDays: 400)).BuildServiceProvider();
        var service = new EventPartitionMaintenance(services, Options.Create(new RetentionOptions()), new FakeTimeProvider(s_now), logger, new StartupReadiness([]));

        await service.RunOnceAsync(default);

        Assert.Contains(logger.Messages, m => m.Contains("Created event partition events_y2024m03", StringComparison.Ordinal));
        Assert.Contains(logger.Messages, m => m.Contains("dropped event partition events_y2024m03 (2024-03, 1 events)", StringComparison.Ordinal));
        Assert.Equal(0, await ScalarAsync<long>("SELECT count(*) FROM events"));
    }

    [Fact]
    public async Task Migration_PopulatedUnpartitionedTable_RowsMovedDeduplicatedAndReversible()
    {
        var cluster = await TestCluster.GetAsync();
        var name = "partition_migration_" + Guid.NewGuid().ToString("N")[..8];
        await EventsDatabase.CreateDatabaseIfMissingAsync(cluster.ConnectionString(), name, default);
        var options = new DbContextOptionsBuilder<UsageDbContext>();
        UsageDbContext.Configure(options, cluster.ConnectionString(name));
        await using var ctx = new UsageDbContext(options.Options);
        var migrator = ctx.GetService<IMigrator>();
        await migrator.MigrateAsync("RunPluginsWithoutForeignKey");
        var ids = new[] { Guid.NewGuid(), Guid.NewGuid(), Guid.NewGuid() };
        await ctx.Database.ExecuteSqlRawAsync("""
            INSERT INTO events (event_id, tool, source, installation_id, occurred_at, received_at, clock_adjusted, event_name, run_key, status, is_ci, plugins)
            VALUES ({0}, 'dbt', 'native', 'i', '2025-01-15T00:00:00Z', now(), false, 'invocation', 'r1', 'succeeded', false, '[]'),
                   ({1}, 'dbt', 'native', 'i', '2025-03-15T00:00:00Z', now(), false, 'invocation', 'r2', 'succeeded', false, '[]'),
                   ({2}, 'dbt', 'native', 'i', '2025-03-16T00:00:00Z', now(), false, 'invocation', 'r3', 'succeeded', false, '[]')
            """, ids[0], ids[1], ids[2]);

        await migrator.MigrateAsync();

        await using var source = NpgsqlDataSource.Create(cluster.ConnectionString(name));
        async Task<T> Scalar<T>(string sql)
        {
            await using var cmd = source.CreateCommand(sql);
            return (T)(await cmd.ExecuteScalarAsync())!;
        }
        Assert.Equal("p", await Scalar<string>("SELECT relkind::text FROM pg_class WHERE relname = 'events'"));
        Assert.Equal(2, await Scalar<long>("SELECT count(*) FROM events_y2025m03"));
        Assert.Equal(1, await Scalar<long>("SELECT count(*) FROM events_y2025m01"));
        Assert.Equal(3, await Scalar<long>("SELECT count(*) FROM event_keys"));
        var writer = new EventWriter(source, new FakeTimeProvider(s_now), Options.Create(new RunOptions()));
        var result = await writer.WriteAsync([CreateEvent(eventId: ids[0], at: new DateTime(2025, 6, 1, 0, 0, 0, DateTimeKind.Utc)), CreateEvent(at: T0)], default);
        Assert.Equal(new WriteResult(1, 1), result);
        Assert.True(await Scalar<long>("SELECT max(id) FROM events") > 3);

        // And back: Down restores the plain table with its unique key, every row included.
        await migrator.MigrateAsync("RunPluginsWithoutForeignKey");
        Assert.Equal("r", await Scalar<string>("SELECT relkind::text FROM pg_class WHERE relname = 'events'"));
        Assert.Equal(4, await Scalar<long>("SELECT count(*) FROM events"));
        Assert.Equal(1, await Scalar<long>("SELECT count(*) FROM pg_indexes WHERE indexname = 'IX_events_tool_event_id'"));
    }

    private EventPartitions CreatePartitions(DateTimeOffset now, int rawEventsDays) =>
        new(_db.DataSource, new FakeTimeProvider(now), Options.Create(new RetentionOptions { RawEventsDays = rawEventsDays }));

    private async Task<T> ScalarAsync<T>(string sql)
    {
        await using var cmd = _db.DataSource.CreateCommand(sql);
        var value = await cmd.ExecuteScalarAsync();
        return value is DBNull ? default! : (T)value!;
    }

    private sealed class ListLogger<T> : ILogger<T>
    {
        public List<string> Messages { get; } = [];

        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => true;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter) =>
            Messages.Add(formatter(state, exception));
    }
}
