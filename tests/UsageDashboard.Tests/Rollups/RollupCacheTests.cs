using UsageDashboard.Insights;
using UsageDashboard.Rollups;
using UsageDashboard.Store;
using UsageDashboard.Tests.Infrastructure;
using static UsageDashboard.Tests.Infrastructure.TestEvents;

namespace UsageDashboard.Tests.Rollups;

/// <summary>
/// The in-memory month rows must always be the rollup tables' rows: a refresh, a full rebuild or an
/// emptied store shows in the next read, and only the segments that changed are read again.
/// </summary>
public sealed class RollupCacheTests : IClassFixture<RollupCacheTests.Db>, IAsyncLifetime
{
    public sealed class Db : DatabaseFixture;

    private static readonly DateOnly November = new(2026, 11, 1);
    private static readonly DateOnly MonthEnd = new(2026, 11, 30);
    private readonly Db _db;
    private readonly EventWriter _writer;

    public RollupCacheTests(Db db)
    {
        _db = db;
        _writer = CreateWriter(db);
    }

    public Task InitializeAsync() => _db.ResetAsync();

    public Task DisposeAsync() => Task.CompletedTask;

    private RollupCache NewCache() => new(_db.DataSource, RollupSource.Create());

    private async Task WriteAndRefreshAsync(params TelemetryEvent[] events)
    {
        await _writer.WriteAsync(events, default);
        await TestRollups.RefreshAsync(_db);
    }

    private static List<string> Rows(RollupCache cache, IEnumerable<MonthSegment<InstallationMonthRow>> segments) =>
        segments.SelectMany(s => s.Rows.Select(r =>
                $"{s.Tool} {s.Month:yyyy-MM} {r.Key} {r.IsCi} {cache.Codes.Text(r.OsName)} {cache.Codes.Text(r.ToolVersion)} {r.Days} {r.OkDays}"))
            .Order(StringComparer.Ordinal).ToList();

    private async Task<List<string>> TableRowsAsync()
    {
        await using var cmd = _db.DataSource.CreateCommand("""
            SELECT tool || ' ' || to_char(month, 'YYYY-MM') || ' ' || installation_key || ' ' || CASE WHEN is_ci THEN 'True' ELSE 'False' END
                   || ' ' || coalesce(os_name, '') || ' ' || coalesce(tool_version, '') || ' ' || days || ' ' || ok_days
            FROM rollup_installation_months
            """);
        var rows = new List<string>();
        await using var reader = await cmd.ExecuteReaderAsync();
        while (await reader.ReadAsync())
        {
            rows.Add(reader.GetString(0));
        }
        return rows.Order(StringComparer.Ordinal).ToList();
    }

    [Fact]
    public async Task InstallationDays_AfterRefreshOfALaterRun_LastDayMovesAndUnchangedStoreKeepsTheArray()
    {
        await WriteAndRefreshAsync(CreateEvent(tool: "dbt", installationId: "a", at: new DateTime(2026, 11, 3, 9, 0, 0, DateTimeKind.Utc)));
        var cache = NewCache();
        var before = await cache.InstallationDaysAsync(default);
        var id = await IdOfAsync("a");
        Assert.Equal(new DateOnly(2026, 11, 3).DayNumber, before[id].First);
        Assert.Equal(before[id].First, before[id].Last);
        Assert.Same(before, await cache.InstallationDaysAsync(default));

        await WriteAndRefreshAsync(CreateEvent(tool: "dbt", installationId: "a", at: new DateTime(2026, 11, 9, 9, 0, 0, DateTimeKind.Utc)));
        var after = await cache.InstallationDaysAsync(default);

        Assert.Equal(new DateOnly(2026, 11, 3).DayNumber, after[id].First);
        Assert.Equal(new DateOnly(2026, 11, 9).DayNumber, after[id].Last);
        Assert.False(after[0].Known);
    }

    [Fact]
    public async Task CommandReach_SameSegmentsThenNewRun_ReusedThenRebuiltInTheBackgroundWithTheNewInstallation()
    {
        await WriteAndRefreshAsync(CreateEvent(tool: "dbt", installationId: "a", command: "run", at: new DateTime(2026, 11, 3, 9, 0, 0, DateTimeKind.Utc)));
        var cache = NewCache();
        var segments = await cache.CommandMonthsAsync("dbt", November, MonthEnd, default);
        var first = cache.CommandReach(segments, November, ReachFilter.All)!;
        var run = cache.Codes.Find("run");
        Assert.Equal(1, first.DistinctOf(0, run, November, MonthEnd));
        Assert.Same(first, cache.CommandReach(await cache.CommandMonthsAsync("dbt", November, MonthEnd, default), November, ReachFilter.All));

        await WriteAndRefreshAsync(CreateEvent(tool: "dbt", installationId: "b", command: "run", at: new DateTime(2026, 11, 4, 9, 0, 0, DateTimeKind.Utc)));
        Assert.Equal(1, await cache.RefreshIndexesAsync(TimeSpan.FromMinutes(1), default));
        var (builds, _, _) = cache.IndexStats;
        var rebuilt = cache.CommandReach(await cache.CommandMonthsAsync("dbt", November, MonthEnd, default), November, ReachFilter.All)!;

        Assert.NotSame(first, rebuilt);
        Assert.Equal(2, rebuilt.DistinctOf(0, run, November, MonthEnd));
        Assert.Equal(builds, cache.IndexStats.Builds);
        Assert.Equal(0, await cache.RefreshIndexesAsync(TimeSpan.FromMinutes(1), default));
        Assert.Equal(0, await cache.RefreshIndexesAsync(TimeSpan.Zero, default));
        Assert.Equal(0, cache.IndexStats.Entries);
    }

    [Fact]
    public async Task CommandReach_RollupsOff_Null()
    {
        await WriteAndRefreshAsync(CreateEvent(tool: "dbt", installationId: "a", command: "run", at: new DateTime(2026, 11, 3, 9, 0, 0, DateTimeKind.Utc)));
        var cache = new RollupCache(_db.DataSource, RollupSource.Create(enabled: false));

        Assert.Null(cache.CommandReach(await cache.CommandMonthsAsync("dbt", November, MonthEnd, default), November, ReachFilter.All));
    }

    private async Task<int> IdOfAsync(string installationId)
    {
        await using var cmd = _db.DataSource.CreateCommand("SELECT id FROM installations WHERE installation_id = @id");
        cmd.Parameters.AddWithValue("id", installationId);
        return (int)(await cmd.ExecuteScalarAsync())!;
    }

    [Fact]
    public async Task InstallationMonths_AfterSliceRefresh_ReloadsOnlyTheChangedSegment()
    {
        await WriteAndRefreshAsync(
            CreateEvent(tool: "dbt", installationId: "a", at: new DateTime(2026, 11, 3, 9, 0, 0, DateTimeKind.Utc)),
            CreateEvent(tool: "jetty", installationId: "b", at: new DateTime(2026, 11, 4, 9, 0, 0, DateTimeKind.Utc)));
        var cache = NewCache();
        var before = await cache.InstallationMonthsAsync(null, November, MonthEnd, default);

        await WriteAndRefreshAsync(CreateEvent(tool: "dbt", installationId: "c", at: new DateTime(2026, 11, 5, 9, 0, 0, DateTimeKind.Utc),
            status: RunStatus.Failed, isCi: true));
        var after = await cache.InstallationMonthsAsync(null, November, MonthEnd, default);

        Assert.Equal(["dbt", "jetty"], after.Select(s => s.Tool));
        Assert.Equal(2, after.Single(s => s.Tool == "dbt").Rows.Length);
        Assert.NotSame(before.Single(s => s.Tool == "dbt"), after.Single(s => s.Tool == "dbt"));
        Assert.Same(before.Single(s => s.Tool == "jetty"), after.Single(s => s.Tool == "jetty"));
        Assert.Equal(await TableRowsAsync(), Rows(cache, after));
    }

    [Fact]
    public async Task InstallationMonths_ChangedWithinMaxStaleness_ServesTheLoadedSegmentUntilItIsThatOld()
    {
        await WriteAndRefreshAsync(CreateEvent(tool: "dbt", installationId: "a", at: new DateTime(2026, 11, 3, 9, 0, 0, DateTimeKind.Utc)));
        var clock = new ElapsedClock();
        var cache = new RollupCache(_db.DataSource, RollupSource.Create(), TimeSpan.FromSeconds(3), clock);
        var before = Assert.Single(await cache.InstallationMonthsAsync("dbt", November, MonthEnd, default));

        await WriteAndRefreshAsync(CreateEvent(tool: "dbt", installationId: "b", at: new DateTime(2026, 11, 4, 9, 0, 0, DateTimeKind.Utc)));
        var soon = Assert.Single(await cache.InstallationMonthsAsync("dbt", November, MonthEnd, default));
        clock.Advance(TimeSpan.FromSeconds(3.1));
        var later = Assert.Single(await cache.InstallationMonthsAsync("dbt", November, MonthEnd, default));

        Assert.Same(before, soon);
        Assert.Equal(2, later.Rows.Length);
    }

    [Fact]
    public async Task InstallationMonths_AfterFullRebuild_EqualTheTables()
    {
        await WriteAndRefreshAsync(
            CreateEvent(tool: "dbt", installationId: "a", at: new DateTime(2026, 10, 31, 23, 0, 0, DateTimeKind.Utc), osName: null),
            CreateEvent(tool: "dbt", installationId: "a", at: new DateTime(2026, 11, 1, 1, 0, 0, DateTimeKind.Utc), toolVersion: "1.9.0"),
            CreateEvent(tool: "meltano", installationId: "m", at: new DateTime(2026, 11, 20, 1, 0, 0, DateTimeKind.Utc), isCi: true));
        var cache = NewCache();
        var first = await cache.InstallationMonthsAsync(null, new DateOnly(2026, 10, 1), MonthEnd, default);

        await TestRollups.CreateRefresher(_db).RebuildAllAsync(default);
        var rebuilt = await cache.InstallationMonthsAsync(null, new DateOnly(2026, 10, 1), MonthEnd, default);

        Assert.Equal(3, rebuilt.Count);
        Assert.All(rebuilt, s => Assert.DoesNotContain(s, first));
        Assert.Equal(await TableRowsAsync(), Rows(cache, rebuilt));
    }

    [Fact]
    public async Task InstallationMonths_StoreEmptied_ReturnsNoRowsAndSyncForgetsThem()
    {
        await WriteAndRefreshAsync(CreateEvent(tool: "dbt", installationId: "a", at: new DateTime(2026, 11, 3, 9, 0, 0, DateTimeKind.Utc)));
        var cache = NewCache();
        await cache.SyncAsync(13, MonthEnd, default);
        Assert.True(cache.RowCount > 0);

        await _db.ResetAsync();

        Assert.Empty(await cache.InstallationMonthsAsync(null, November, MonthEnd, default));
        await cache.SyncAsync(13, MonthEnd, default);
        Assert.Equal(0, cache.RowCount);
    }

    [Fact]
    public async Task DayTables_AfterSliceRefresh_EqualTheTables()
    {
        await WriteAndRefreshAsync(
            CreateEvent(tool: "dbt", installationId: "a", at: new DateTime(2026, 11, 3, 9, 0, 0, DateTimeKind.Utc), command: "build", durationMs: 1_000),
            CreateEvent(tool: "dbt", installationId: "b", at: new DateTime(2026, 11, 30, 23, 0, 0, DateTimeKind.Utc), status: RunStatus.Failed,
                command: "build", durationMs: 90_000));
        var cache = NewCache();
        await cache.CommandDaysAsync("dbt", November, MonthEnd, default);

        await WriteAndRefreshAsync(CreateEvent(tool: "dbt", installationId: "a", at: new DateTime(2026, 11, 3, 10, 0, 0, DateTimeKind.Utc),
            status: RunStatus.Aborted, command: "test", durationMs: 5));
        var runDays = await cache.RunDaysAsync("dbt", November, MonthEnd, default);
        var commandDays = await cache.CommandDaysAsync("dbt", November, MonthEnd, default);
        var durations = await cache.CommandDurationsAsync("dbt", November, MonthEnd, default);

        var day2 = Assert.Single(Assert.Single(runDays).Rows, r => r.Day == 2);
        Assert.Equal((2, 1, 0, 1), (day2.Runs, day2.Succeeded, day2.Failed, day2.Aborted));
        Assert.Equal(29, Assert.Single(Assert.Single(runDays).Rows, r => r.Day != 2).Day);
        Assert.Equal(["build 2 1", "build 29 1", "test 2 1"],
            Assert.Single(commandDays).Rows.Select(r => $"{cache.Codes.Text(r.Command)} {r.Day} {r.Runs}").Order(StringComparer.Ordinal));
        Assert.Equal(3, Assert.Single(durations).Rows.Sum(r => r.Counts.Sum()));
        Assert.Equal(DurationHistogram.BucketOf(90_000), Assert.Single(Assert.Single(durations).Rows, r => r.Day == 29).Buckets.Single());
    }

    [Fact]
    public async Task Refresh_ManyDaysOfOneMonthAndOneDayOfAnother_SameRowsAsAFullRebuild()
    {
        await WriteAndRefreshAsync(CreateEvent(tool: "dbt", installationId: "a", at: new DateTime(2026, 11, 2, 9, 0, 0, DateTimeKind.Utc)));
        // Nine days of November and one day of October in one pass: two months' bits replaced together.
        await WriteAndRefreshAsync([
            .. Enumerable.Range(2, 9).Select(d => CreateEvent(tool: "dbt", installationId: $"i{d % 3}",
                at: new DateTime(2026, 11, d, 9, 0, 0, DateTimeKind.Utc), isCi: d % 2 == 0, toolVersion: d < 6 ? "1.8.0" : "1.9.0")),
            CreateEvent(tool: "dbt", installationId: "a", at: new DateTime(2026, 10, 30, 9, 0, 0, DateTimeKind.Utc)),
        ]);
        var sliced = await TableRowsAsync();

        await TestRollups.CreateRefresher(_db).RebuildAllAsync(default);

        Assert.Equal(await TableRowsAsync(), sliced);
        Assert.Contains(sliced, r => r.StartsWith("dbt 2026-10 ", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Refresh_SecondRunSameInstallationDayAndEnvironment_OnlyChangedSegmentsGetANewVersion()
    {
        var at = new DateTime(2026, 11, 3, 9, 0, 0, DateTimeKind.Utc);
        await WriteAndRefreshAsync(CreateEvent(tool: "dbt", installationId: "a", at: at));
        var before = await VersionsAsync();

        // The same installation, day, command and environment: its month rows keep their bits, the day counts grow.
        await WriteAndRefreshAsync(CreateEvent(tool: "dbt", installationId: "a", at: at.AddHours(2)));
        var after = await VersionsAsync();

        Assert.Equal(before["rollup_installation_months"], after["rollup_installation_months"]);
        Assert.Equal(before["rollup_command_months"], after["rollup_command_months"]);
        Assert.NotEqual(before["rollup_run_days"], after["rollup_run_days"]);
        Assert.NotEqual(before["rollup_command_days"], after["rollup_command_days"]);
        Assert.DoesNotContain("rollup_error_days", after.Keys); // no failure, no rows, no segment

        // A first failure: the error tables get rows and a version, the installation's ok-days stay the same.
        await WriteAndRefreshAsync(CreateEvent(tool: "dbt", installationId: "a", at: at.AddHours(3), status: RunStatus.Failed));
        var failed = await VersionsAsync();
        Assert.Contains("rollup_error_days", failed.Keys);
        Assert.Equal(after["rollup_installation_months"], failed["rollup_installation_months"]);
    }

    /// <summary>November's dbt segment version per rollup table.</summary>
    private async Task<Dictionary<string, long>> VersionsAsync()
    {
        await using var cmd = _db.DataSource.CreateCommand(
            "SELECT table_name, version FROM rollup_month_versions WHERE tool = 'dbt' AND month = '2026-11-01'");
        var versions = new Dictionary<string, long>();
        await using var reader = await cmd.ExecuteReaderAsync();
        while (await reader.ReadAsync())
        {
            versions[reader.GetString(0)] = reader.GetInt64(1);
        }
        return versions;
    }

    [Fact]
    public async Task InstallationMonths_ManyReadersOfAStaleSegment_LoadItOnce()
    {
        await WriteAndRefreshAsync(CreateEvent(tool: "dbt", installationId: "a", at: new DateTime(2026, 11, 3, 9, 0, 0, DateTimeKind.Utc)));
        var cache = NewCache();

        var reads = await Task.WhenAll(Enumerable.Range(0, 8).Select(_ => cache.InstallationMonthsAsync("dbt", November, MonthEnd, default)));

        Assert.All(reads, r => Assert.Same(reads[0].Single(), r.Single()));
    }

    [Fact]
    public async Task CommandAndPluginMonths_RollupsOff_ComputedFromRunsForTheRange()
    {
        var plugin = new PluginRef { Name = "dbt-postgres", Type = "adapter", Version = "1.8.2" };
        await _writer.WriteAsync([
            CreateEvent(tool: "dbt", installationId: "a", at: new DateTime(2026, 11, 3, 9, 0, 0, DateTimeKind.Utc), command: "build", plugins: [plugin]),
            CreateEvent(tool: "dbt", installationId: "a", at: new DateTime(2026, 11, 9, 9, 0, 0, DateTimeKind.Utc), command: "test"),
        ], default);
        var raw = new RollupCache(_db.DataSource, RollupSource.Create(enabled: false));

        var commands = await raw.CommandMonthsAsync("dbt", new DateOnly(2026, 11, 1), new DateOnly(2026, 11, 5), default);
        var plugins = await raw.PluginMonthsAsync(null, November, MonthEnd, default);

        // Only the runs of the days asked for: "test" ran on the 9th.
        var row = Assert.Single(Assert.Single(commands).Rows);
        Assert.Equal("build", raw.Codes.Text(row.Command));
        Assert.Equal(1 << 2, row.Days);
        var p = Assert.Single(Assert.Single(plugins).Rows);
        Assert.Equal(("dbt-postgres", "adapter", "1.8.2"), (raw.Codes.Text(p.Name), raw.Codes.Text(p.Type), raw.Codes.Text(p.Version)));
    }

    [Fact]
    public void ReachFilter_ValueNoRowHas_MatchesNothing()
    {
        var codes = new StringCodes();
        var linux = codes.Code("linux");
        var query = new InsightQuery { From = November, To = MonthEnd, Os = "plan9" };

        Assert.True(ReachFilter.For(query, codes).None);
        Assert.False(ReachFilter.For(query, codes).Matches(false, linux, 0));
    }

    [Theory]
    [InlineData("ci", true, true)]
    [InlineData("ci", false, false)]
    [InlineData("notci", false, true)]
    [InlineData("notci", true, false)]
    [InlineData(null, true, true)]
    public void ReachFilter_Environment_MatchesLikeTheSqlFilter(string? env, bool isCi, bool expected)
    {
        var codes = new StringCodes();
        var linux = codes.Code("linux");
        var version = codes.Code("1.8.0");
        var query = new InsightQuery
        {
            From = November, To = MonthEnd, Os = "linux", Version = "1.8.0",
            Environment = env switch { "ci" => EnvironmentFilter.Ci, "notci" => EnvironmentFilter.NotCi, _ => EnvironmentFilter.All },
        };

        Assert.Equal(expected, ReachFilter.For(query, codes).Matches(isCi, linux, version));
        Assert.False(ReachFilter.For(query, codes).Matches(isCi, linux, codes.Code("1.9.0")));
    }

    [Fact]
    public void StringCodes_ManyThreadsAddingTheSameValues_OneCodeEachAndTextsReadable()
    {
        var codes = new StringCodes();
        var values = Enumerable.Range(0, 2_000).Select(i => $"v{i}").ToArray();

        var seen = new System.Collections.Concurrent.ConcurrentBag<(string, int)>();
        Parallel.For(0, 8, _ =>
        {
            foreach (var v in values)
            {
                var code = codes.Code(v);
                Assert.Equal(v, codes.Text(code));
                seen.Add((v, code));
            }
        });

        Assert.Equal(values.Length, seen.Distinct().Count());
        Assert.Equal(0, codes.Code(null));
        Assert.Null(codes.Text(0));
    }
}

/// <summary>A clock whose elapsed time moves only when told (the app-level FakeTimeProvider keeps real elapsed time).</summary>
internal sealed class ElapsedClock : TimeProvider
{
    private long _ticks;

    public override long TimestampFrequency => TimeSpan.TicksPerSecond;

    public override long GetTimestamp() => _ticks;

    public void Advance(TimeSpan by) => _ticks += by.Ticks;
}
