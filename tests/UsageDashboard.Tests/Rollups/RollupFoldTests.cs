using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using UsageDashboard.Demo;
using UsageDashboard.Rollups;
using UsageDashboard.Store;
using UsageDashboard.Tests.Infrastructure;
using static UsageDashboard.Tests.Infrastructure.TestEvents;

namespace UsageDashboard.Tests.Rollups;

/// <summary>
/// Slices whose changes are all new runs get those runs added instead of being recomputed
/// (<see cref="RollupSql.FoldSlices"/>). Whatever mix of added and rebuilt slices the passes made, the
/// tables must end up exactly as a full rebuild from the runs makes them.
/// </summary>
public sealed class RollupFoldTests : IClassFixture<RollupFoldTests.Db>
{
    private static readonly DateTime s_end = new(2026, 11, 20, 15, 30, 0, DateTimeKind.Utc);

    public sealed class Db : DatabaseFixture;

    private readonly Db _db;

    public RollupFoldTests(Db db) => _db = db;

    private RollupRefresher Refresher(bool fold) =>
        new(_db.DataSource, Options.Create(new RollupOptions { FoldNewRuns = fold }), NullLogger<RollupRefresher>.Instance);

    [Fact]
    public async Task Refresh_BatchesOfNewAndContinuedRuns_AddedSlicesEqualAFullRebuild()
    {
        await ResetAsync();
        var writer = CreateWriter(_db, new FakeTimeProvider(new DateTimeOffset(s_end)));
        var refresher = Refresher(fold: true);
        // Demo telemetry in time order and small batches, as live traffic arrives: most batches only add
        // runs (their slices are added to), some end runs an earlier batch started (those are rebuilt).
        var events = DemoDataGenerator.Generate(new DemoOptions { Events = 9_000, Days = 12, Seed = 23, End = s_end })
            .OrderBy(e => e.OccurredAt).ToList();
        int added = 0, rebuilt = 0;
        for (var i = 0; i < events.Count; i += 300)
        {
            await writer.WriteAsync(events.Skip(i).Take(300).ToList(), default);
            var result = await refresher.RefreshAsync(default);
            if (!result.RebuiltAll)
            {
                added += result.Added;
                rebuilt += result.Slices - result.Added;
            }
        }
        // A re-sent batch adds nothing; a plugin row that changes with a later event is rebuilt.
        await writer.WriteAsync(events.Skip(600).Take(300).ToList(), default);
        await refresher.RefreshAsync(default);

        var incremental = await SnapshotAsync();
        await refresher.RebuildAllAsync(default);

        Assert.True(added >= 5, $"only {added} slices were added to");
        Assert.True(rebuilt > 0, "no slice was rebuilt");
        Assert.Equal(await SnapshotAsync(), incremental);
    }

    [Fact]
    public async Task Refresh_SameRunsAddedOrRebuilt_SameTables()
    {
        await ResetAsync();
        var writer = CreateWriter(_db, new FakeTimeProvider(new DateTimeOffset(s_end)));
        var day = s_end.Date.AddHours(9);
        var adapter = new PluginRef { Name = "fold-adapter", Type = "adapter", Version = "1.0.0" };
        // Two passes over one day: the first builds it, the second adds three new runs to rows that exist
        // (same installation and environment), a new row (new command) and a new installation.
        await writer.WriteAsync([CreateEvent(installationId: "a", at: day, durationMs: 1_000, plugins: [adapter])], default);
        await Refresher(fold: true).RefreshAsync(default);
        await writer.WriteAsync(
        [
            CreateEvent(installationId: "a", at: day.AddHours(1), durationMs: 1_000, plugins: [adapter]),
            CreateEvent(installationId: "a", at: day.AddHours(2), command: "test", status: RunStatus.Failed, errorType: "DbtRuntimeError", durationMs: 90),
            CreateEvent(installationId: "b", at: day.AddHours(3), status: RunStatus.Aborted, durationMs: 5_000, plugins: [adapter with { Status = RunStatus.Aborted }]),
        ], default);

        var result = await Refresher(fold: true).RefreshAsync(default);
        var added = await SnapshotAsync();
        await Refresher(fold: false).RebuildAllAsync(default);

        Assert.Equal((1, 1), (result.Slices, result.Added));
        Assert.Equal(await SnapshotAsync(), added);
        // Histograms merged bucket by bucket: two runs of 1,000 ms (bucket 79) and one of 5,000 ms (bucket 98).
        Assert.Contains(added, r => r.StartsWith("rollup_command_durations:dbt|", StringComparison.Ordinal) && r.Contains("|run|False|linux|1.8.0|", StringComparison.Ordinal)
            && r.EndsWith("|79,98|2,1", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Refresh_RunUpdatedAfterItsInsertWasMarked_SliceRebuiltNotAdded()
    {
        await ResetAsync();
        var writer = CreateWriter(_db, new FakeTimeProvider(new DateTimeOffset(s_end)));
        var refresher = Refresher(fold: true);
        var at = s_end.Date.AddHours(8);
        await writer.WriteAsync([CreateEvent(installationId: "c", at: at.AddDays(-1))], default);
        await refresher.RefreshAsync(default);
        // Started, then (before any refresh) ended: the day's marks include the update, so it is rebuilt,
        // and the run counts once, as failed.
        await writer.WriteAsync([CreateEvent(installationId: "c", runKey: "r1", at: at, status: RunStatus.Started)], default);
        await writer.WriteAsync([CreateEvent(installationId: "c", runKey: "r1", at: at.AddMinutes(3), status: RunStatus.Failed)], default);

        var result = await refresher.RefreshAsync(default);

        Assert.Equal((1, 0), (result.Slices, result.Added));
        await using var cmd = _db.DataSource.CreateCommand(
            "SELECT sum(runs)::int, sum(failed)::int FROM rollup_run_days WHERE tool = 'dbt' AND day = @day");
        cmd.Parameters.AddWithValue("day", DateOnly.FromDateTime(at));
        await using var reader = await cmd.ExecuteReaderAsync();
        await reader.ReadAsync();
        Assert.Equal((1, 1), (reader.GetInt32(0), reader.GetInt32(1)));
    }

    /// <summary>Each test starts from an empty store (TRUNCATE of runs empties the rollups and the marks too).</summary>
    private async Task ResetAsync()
    {
        await using var cmd = _db.DataSource.CreateCommand(
            "TRUNCATE events, event_keys, runs, run_plugins, installations RESTART IDENTITY");
        await cmd.ExecuteNonQueryAsync();
    }

    private Task<List<string>> SnapshotAsync() => TestRollups.SnapshotAsync(_db);
}
