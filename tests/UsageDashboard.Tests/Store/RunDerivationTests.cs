using Microsoft.EntityFrameworkCore;
using Npgsql;
using UsageDashboard.Store;
using UsageDashboard.Tests.Infrastructure;
using static UsageDashboard.Tests.Infrastructure.TestEvents;

namespace UsageDashboard.Tests.Store;

public sealed class RunDerivationTests : IClassFixture<RunDerivationTests.Db>, IAsyncLifetime
{
    public sealed class Db : DatabaseFixture;

    private readonly Db _db;

    public RunDerivationTests(Db db) => _db = db;

    public Task InitializeAsync() => _db.ResetAsync();

    public Task DisposeAsync() => Task.CompletedTask;

    [Fact]
    public async Task Write_StartThenEnd_OneSucceededRunWithDuration()
    {
        var writer = CreateWriter(_db);
        await writer.WriteAsync([CreateEvent(runKey: "inv-1", status: RunStatus.Started, at: T0)], default);
        await writer.WriteAsync([CreateEvent(runKey: "inv-1", status: RunStatus.Succeeded, at: T0.AddSeconds(90))], default);

        await using var ctx = _db.CreateDbContext();
        var run = Assert.Single(await ctx.Runs.AsNoTracking().ToListAsync());
        Assert.Equal(RunStatus.Succeeded, run.Status);
        Assert.Equal(T0, run.StartedAt);
        Assert.Equal(T0.AddSeconds(90), run.EndedAt);
        Assert.Equal(T0, run.OccurredAt);
        Assert.Equal(90_000, run.DurationMs);
        Assert.Equal(2, run.EventCount);
    }

    [Fact]
    public async Task Write_EndArrivesBeforeStart_SameRunAsInOrder()
    {
        var writer = CreateWriter(_db);
        await writer.WriteAsync([CreateEvent(runKey: "inv-2", status: RunStatus.Failed, at: T0.AddSeconds(30), errorType: "DbtRuntimeError")], default);
        await writer.WriteAsync([CreateEvent(runKey: "inv-2", status: RunStatus.Started, at: T0)], default);

        await using var ctx = _db.CreateDbContext();
        var run = Assert.Single(await ctx.Runs.AsNoTracking().ToListAsync());
        Assert.Equal(RunStatus.Failed, run.Status);
        Assert.Equal(T0, run.OccurredAt);
        Assert.Equal(30_000, run.DurationMs);
        Assert.Equal("DbtRuntimeError", run.ErrorType);
    }

    [Fact]
    public async Task Write_StartWithoutEnd_RunningThenAbortedAfterTimeout()
    {
        var clock = new FakeTimeProvider(new DateTimeOffset(T0.AddHours(1)));
        var writer = CreateWriter(_db, clock, abortAfter: TimeSpan.FromHours(12));
        await writer.WriteAsync([CreateEvent(runKey: "inv-3", status: RunStatus.Started, at: T0,
            plugins: [new PluginRef { Name = "tap-github", Type = "extractors", Version = "1.4.2" }])], default);

        await using (var ctx = _db.CreateDbContext())
        {
            Assert.Equal(RunStatus.Running, (await ctx.Runs.AsNoTracking().SingleAsync()).Status);
        }
        Assert.Equal(0, await writer.AbortStaleRunsAsync(default));

        clock.Advance(TimeSpan.FromHours(12));
        Assert.Equal(1, await writer.AbortStaleRunsAsync(default));

        await using (var ctx = _db.CreateDbContext())
        {
            var run = await ctx.Runs.AsNoTracking().SingleAsync();
            Assert.Equal(RunStatus.Aborted, run.Status);
            Assert.Equal(RunStatus.Aborted, Assert.Single(run.Plugins).Status);
            Assert.Equal(RunStatus.Aborted, (await ctx.RunPlugins.AsNoTracking().SingleAsync()).Status);
        }
    }

    [Fact]
    public async Task Write_SameBatchTwice_CountedOnce()
    {
        var writer = CreateWriter(_db);
        List<TelemetryEvent> batch = [CreateEvent(runKey: "a", status: RunStatus.Started), CreateEvent(runKey: "a", status: RunStatus.Succeeded, at: T0.AddSeconds(5))];

        var first = await writer.WriteAsync(batch, default);
        var second = await writer.WriteAsync(batch, default);

        Assert.Equal(new WriteResult(2, 0), first);
        Assert.Equal(new WriteResult(0, 2), second);
        await using var ctx = _db.CreateDbContext();
        Assert.Equal(2, await ctx.Events.CountAsync());
        Assert.Equal(2, (await ctx.Runs.SingleAsync()).EventCount);
    }

    [Fact]
    public async Task Write_PluginOutcomes_OwnStatusWinsElseRunStatus()
    {
        var writer = CreateWriter(_db);
        await writer.WriteAsync(
        [
            CreateEvent(runKey: "m", status: RunStatus.Started, at: T0, command: "elt",
                plugins: [new PluginRef { Name = "tap-github", Type = "extractors", Version = "1.4.2" }, new PluginRef { Name = "target-postgres", Type = "loaders" }]),
            CreateEvent(runKey: "m", status: RunStatus.Failed, at: T0.AddMinutes(2), command: "elt",
                plugins: [new PluginRef { Name = "target-postgres", Type = "loaders", Version = "0.3.0", Status = RunStatus.Succeeded }]),
        ], default);

        await using var ctx = _db.CreateDbContext();
        var plugins = await ctx.RunPlugins.AsNoTracking().OrderBy(p => p.Name).ToListAsync();
        Assert.Equal(2, plugins.Count);
        Assert.Equal(("tap-github", "1.4.2", RunStatus.Failed), (plugins[0].Name, plugins[0].Version, plugins[0].Status));
        Assert.Equal(("target-postgres", "0.3.0", RunStatus.Succeeded), (plugins[1].Name, plugins[1].Version, plugins[1].Status));
        var run = await ctx.Runs.AsNoTracking().SingleAsync();
        Assert.Equal(["tap-github", "target-postgres"], run.Plugins.Select(p => p.Name));
    }

    [Fact]
    public async Task Write_SingleEventSources_OneRunPerEventWithItsOutcome()
    {
        var writer = CreateWriter(_db);
        await writer.WriteAsync(
        [
            CreateEvent(tool: "jetty", status: RunStatus.Unknown, command: "fetch"),
            CreateEvent(tool: "evidently", status: RunStatus.Failed, command: "report", errorType: "ValueError"),
        ], default);

        await using var ctx = _db.CreateDbContext();
        var runs = await ctx.Runs.AsNoTracking().OrderBy(r => r.Tool).ToListAsync();
        Assert.Equal([("evidently", RunStatus.Failed), ("jetty", RunStatus.Unknown)], runs.Select(r => (r.Tool, r.Status)));
        var installations = await ctx.Installations.AsNoTracking().CountAsync();
        Assert.Equal(2, installations);
    }

    [Fact]
    public async Task Write_NewAndStoredRunsInOneBatch_SameRowsAsDerivingFromAllEvents()
    {
        // A new run is derived from the write's own rows, a stored one from all its events: both must
        // give what the reference derivation over every event gives, ties and ends-before-starts included.
        var writer = CreateWriter(_db);
        var tool = new PluginRef { Name = "tap-github", Type = "extractors", Version = "1.4.2" };
        await writer.WriteAsync(
        [
            CreateEvent(runKey: "stored", status: RunStatus.Started, at: T0, plugins: [tool]),
            CreateEvent(runKey: "late-start", status: RunStatus.Failed, at: T0.AddSeconds(40), errorType: "Boom"),
        ], default);
        await writer.WriteAsync(
        [
            CreateEvent(runKey: "stored", status: RunStatus.Succeeded, at: T0.AddSeconds(30), plugins: [tool with { Status = RunStatus.Failed }]),
            CreateEvent(runKey: "late-start", status: RunStatus.Started, at: T0),
            CreateEvent(runKey: "new", status: RunStatus.Failed, at: T0.AddSeconds(20), errorType: "First"),
            CreateEvent(runKey: "new", status: RunStatus.Succeeded, at: T0.AddSeconds(20)),
            CreateEvent(runKey: "new", status: RunStatus.Started, at: T0, plugins: [tool]),
            CreateEvent(runKey: "open", status: RunStatus.Started, at: T0),
        ], default);

        await AssertSameAsReferenceAsync();
    }

    [Fact]
    public async Task Write_ManyWritesOnOneConnection_WorkTablesReusedAndResultsExact()
    {
        // Enough staged bytes to pass the truncate threshold several times: the work tables are emptied
        // by DELETE and now and then by TRUNCATE, and neither may leak rows into the next write.
        var writer = CreateWriter(_db);
        var padding = new string('x', 2_000);
        var batches = Enumerable.Range(0, 12).Select(b => Enumerable.Range(0, 100).SelectMany(i => new[]
        {
            // Every run's start comes in batch b, its end in batch b + 1 (a stored run by then).
            CreateEvent(runKey: $"r{b}-{i}", status: RunStatus.Started, at: T0.AddMinutes(b), installationId: $"inst-{i % 7}",
                eventName: padding),
            CreateEvent(runKey: $"r{b - 1}-{i}", status: i % 5 == 0 ? RunStatus.Failed : RunStatus.Succeeded, at: T0.AddMinutes(b).AddSeconds(i),
                installationId: $"inst-{i % 7}", eventName: padding),
        }).ToList()).ToList();
        var results = new List<WriteResult>();
        await using (var conn = await _db.DataSource.OpenConnectionAsync())
        {
            foreach (var batch in batches.Append(batches[3]))
            {
                await using var tx = await conn.BeginTransactionAsync();
                results.Add(await writer.WriteAsync(conn, batch, default));
                await tx.CommitAsync();
            }
        }

        Assert.All(results.SkipLast(1), r => Assert.Equal(new WriteResult(200, 0), r));
        Assert.Equal(new WriteResult(0, 200), results[^1]);
        await AssertSameAsReferenceAsync();
    }

    [Fact]
    public async Task Write_SmallAndLargeWritesInterleavedOnOneConnection_SmallOnesPreparedAndResultsExact()
    {
        // Small writes keep their plans on the connection; a large write in between leaves the work
        // tables full of dead rows, the situation a kept plan must survive. Runs span the writes, so
        // later writes update runs stored by earlier ones.
        var writer = CreateWriter(_db);
        int[] sizes = [1, 3, 300, 2, EventWriter.PreparedWriteMaxEvents, EventWriter.PreparedWriteMaxEvents + 1, 1, 40];
        var written = 0;
        var preparedAfter = new List<long>();
        await using (var conn = await _db.DataSource.OpenConnectionAsync())
        {
            foreach (var size in sizes)
            {
                var batch = Enumerable.Range(written, size).Select(i => CreateEvent(
                    runKey: $"run-{i / 3}",
                    status: (i % 3) switch { 0 => RunStatus.Started, 1 => RunStatus.Failed, _ => RunStatus.Succeeded },
                    at: T0.AddSeconds(i), installationId: $"inst-{i % 11}")).ToList();
                written += size;
                await using var tx = await conn.BeginTransactionAsync();
                Assert.Equal(new WriteResult(size, 0), await writer.WriteAsync(conn, batch, default));
                await tx.CommitAsync();
                await using var count = new NpgsqlCommand("SELECT count(*) FROM pg_prepared_statements", conn);
                preparedAfter.Add((long)(await count.ExecuteScalarAsync())!);
            }
        }

        // Prepared by the first small write, reused by the later ones, and none added by the large ones.
        Assert.True(preparedAfter[0] > 0);
        Assert.All(preparedAfter, n => Assert.Equal(preparedAfter[0], n));
        await AssertSameAsReferenceAsync();
    }

    [Fact]
    public async Task Write_SmallWritesOnInitializedConnection_ResultsExactDuplicatesCountedWorkTablesTruncated()
    {
        // The collector's way: a pool whose connections create the work tables when they open, small
        // writes sent as one prepared command. One physical connection, so every write meets the dead
        // rows of the ones before; a large write in between fills the staging table; the last write
        // re-sends an earlier one. Random padding in a column derivation keeps (inline, incompressible)
        // makes the small writes alone pass the truncate threshold.
        var builder = new NpgsqlDataSourceBuilder(_db.ConnectionString);
        builder.ConnectionStringBuilder.NoResetOnClose = true;
        builder.ConnectionStringBuilder.MaxPoolSize = 1;
        builder.UsePhysicalConnectionInitializer(
            conn => EventWriter.CreateWorkTablesAsync(conn, default).GetAwaiter().GetResult(),
            conn => EventWriter.CreateWorkTablesAsync(conn, default));
        await using var pool = builder.Build();
        var writer = CreateWriter(_db);
        const int PaddingChars = 1_500;
        int[] sizes = [1, 2, 64, 5, 400, 3, .. Enumerable.Repeat(EventWriter.PreparedWriteMaxEvents, 10), 1];
        var batches = new List<List<TelemetryEvent>>();
        var next = 0;
        foreach (var size in sizes)
        {
            batches.Add(Enumerable.Range(next, size).Select(i => CreateEvent(
                runKey: $"p-{i / 4}",
                status: (i % 4) switch { 0 => RunStatus.Started, 1 => RunStatus.Failed, 2 => RunStatus.Succeeded, _ => RunStatus.Started },
                at: T0.AddSeconds(i), installationId: $"inst-{i % 13}",
                command: string.Concat(Enumerable.Range(0, PaddingChars / 32).Select(_ => Guid.NewGuid().ToString("N"))),
                plugins: [new PluginRef { Name = $"tap-{i % 3}", Type = "extractor", Version = "1.0" }])).ToList());
            next += size;
        }
        batches.Add(batches[3]);
        var results = new List<WriteResult>();
        foreach (var batch in batches)
        {
            await using var conn = await pool.OpenConnectionAsync();
            await using var tx = await conn.BeginTransactionAsync();
            results.Add(await writer.WriteAsync(conn, batch, default, workTablesReady: true));
            await tx.CommitAsync();
        }

        Assert.Equal(sizes.Select(n => new WriteResult(n, 0)).Append(new WriteResult(0, sizes[3])), results);
        // Without truncation the staged rows of all 1,100 events (~1.8 MB) would still be there.
        await using (var conn = await pool.OpenConnectionAsync())
        await using (var size = new NpgsqlCommand("SELECT pg_relation_size('pg_temp.inserted_events')", conn))
        {
            Assert.InRange((long)(await size.ExecuteScalarAsync())!, 0, EventWriter.WorkTablesTruncateBytes + EventWriter.PreparedWriteMaxEvents * 2 * PaddingChars);
        }
        await AssertSameAsReferenceAsync();
    }

    /// <summary>Compares runs, run plugins and installations with <see cref="RunDerivationSql.DeriveAll"/> over the stored events.</summary>
    private async Task AssertSameAsReferenceAsync()
    {
        var written = await StoreRows.ReadAsync(_db.DataSource);
        var now = T0.AddDays(1);
        await using (var conn = await _db.DataSource.OpenConnectionAsync())
        await using (var tx = await conn.BeginTransactionAsync())
        {
            await using (var clear = new NpgsqlCommand("TRUNCATE runs, run_plugins, installations", conn))
            {
                await clear.ExecuteNonQueryAsync();
            }
            await using (var derive = new NpgsqlCommand(RunDerivationSql.DeriveAll, conn))
            {
                derive.Parameters.AddWithValue("now", now);
                derive.Parameters.AddWithValue("abort_before", now - TimeSpan.FromHours(12));
                await derive.ExecuteNonQueryAsync();
            }
            await tx.CommitAsync();
        }
        StoreRows.AssertEqual(await StoreRows.ReadAsync(_db.DataSource), written);
    }

    [Fact]
    public async Task Migrations_EmptyDatabase_AllApplied()
    {
        await using var ctx = _db.CreateDbContext();
        Assert.Empty(await ctx.Database.GetPendingMigrationsAsync());
        Assert.NotEmpty(await ctx.Database.GetAppliedMigrationsAsync());
    }

    [Fact]
    public async Task Migrations_CurrentModel_NoPendingModelChanges()
    {
        // A hand-edited snapshot or an entity changed without a migration shows up here, not in production.
        await using var ctx = _db.CreateDbContext();
        Assert.False(ctx.Database.HasPendingModelChanges(), "the EF model differs from the migrations' snapshot: add a migration with `dotnet ef migrations add`");
    }
}
