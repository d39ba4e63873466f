using Npgsql;
using UsageDashboard.Insights;
using UsageDashboard.Rollups;

namespace UsageDashboard.Tests.Rollups;

/// <summary>The day rows a view without an OS or version filter reads: summed over the dimensions it ignores, once per segment.</summary>
public sealed class CollapsedRowsTests : IDisposable
{
    private readonly NpgsqlDataSource _dataSource = NpgsqlDataSource.Create("Host=127.0.0.1;Database=unused");
    private readonly StringCodes _codes = new();

    public void Dispose() => _dataSource.Dispose();

    private RollupCache Cache(bool rollups) => new(_dataSource, RollupSource.Create(rollups));

    private static MonthSegment<CommandDayRow> Segment() => new("dbt", new DateOnly(2026, 11, 1),
    [
        new(Day: 3, Command: 7, IsCi: false, OsName: 1, ToolVersion: 4, Runs: 5, Succeeded: 4, Failed: 1, Aborted: 0),
        new(Day: 3, Command: 7, IsCi: false, OsName: 2, ToolVersion: 4, Runs: 2, Succeeded: 1, Failed: 0, Aborted: 1),
        new(Day: 3, Command: 7, IsCi: true, OsName: 1, ToolVersion: 5, Runs: 3, Succeeded: 3, Failed: 0, Aborted: 0),
        new(Day: 4, Command: 7, IsCi: false, OsName: 1, ToolVersion: 4, Runs: 1, Succeeded: 0, Failed: 1, Aborted: 0),
        new(Day: 3, Command: 8, IsCi: false, OsName: 1, ToolVersion: 4, Runs: 6, Succeeded: 6, Failed: 0, Aborted: 0),
    ]);

    [Fact]
    public void For_NoOsOrVersionFilter_SumsPerDayCommandAndEnvironment()
    {
        var collapsed = Collapse.CommandDays.For([Segment()], ReachFilter.All, Cache(rollups: true));

        Assert.Equal(
        [
            new(Day: 3, Command: 7, IsCi: false, OsName: 0, ToolVersion: 0, Runs: 7, Succeeded: 5, Failed: 1, Aborted: 1),
            new(Day: 3, Command: 7, IsCi: true, OsName: 0, ToolVersion: 0, Runs: 3, Succeeded: 3, Failed: 0, Aborted: 0),
            new(Day: 4, Command: 7, IsCi: false, OsName: 0, ToolVersion: 0, Runs: 1, Succeeded: 0, Failed: 1, Aborted: 0),
            new CommandDayRow(Day: 3, Command: 8, IsCi: false, OsName: 0, ToolVersion: 0, Runs: 6, Succeeded: 6, Failed: 0, Aborted: 0),
        ], collapsed.Single().Rows);
    }

    [Fact]
    public void For_SameSegmentTwice_SummedOnce()
    {
        var segment = Segment();
        var cache = Cache(rollups: true);

        Assert.Same(Collapse.CommandDays.For([segment], ReachFilter.All, cache)[0], Collapse.CommandDays.For([segment], ReachFilter.All, cache)[0]);
    }

    [Fact]
    public void For_OsFilter_SumsKeepTheOs()
    {
        _codes.Code("linux");
        var filter = ReachFilter.For(new InsightQuery { From = new DateOnly(2026, 11, 1), To = new DateOnly(2026, 11, 30), Os = "linux" }, _codes);

        MonthSegment<CommandDayRow> segment = new("dbt", new DateOnly(2026, 11, 1),
        [
            new(Day: 3, Command: 7, IsCi: false, OsName: 1, ToolVersion: 4, Runs: 5, Succeeded: 4, Failed: 1, Aborted: 0),
            new(Day: 3, Command: 7, IsCi: false, OsName: 1, ToolVersion: 5, Runs: 2, Succeeded: 1, Failed: 0, Aborted: 1),
            new(Day: 3, Command: 7, IsCi: false, OsName: 2, ToolVersion: 4, Runs: 3, Succeeded: 3, Failed: 0, Aborted: 0),
        ]);

        var rows = Collapse.CommandDays.For([segment], filter, Cache(rollups: true)).Single().Rows;

        Assert.Equal(
        [
            new(Day: 3, Command: 7, IsCi: false, OsName: 1, ToolVersion: 0, Runs: 7, Succeeded: 5, Failed: 1, Aborted: 1),
            new CommandDayRow(Day: 3, Command: 7, IsCi: false, OsName: 2, ToolVersion: 0, Runs: 3, Succeeded: 3, Failed: 0, Aborted: 0),
        ], rows);
    }

    [Fact]
    public void For_OsAndVersionFilters_RowsAsTheyAre()
    {
        _codes.Code("linux");
        _codes.Code("1.9.0");
        var filter = ReachFilter.For(new InsightQuery
        {
            From = new DateOnly(2026, 11, 1), To = new DateOnly(2026, 11, 30), Os = "linux", Version = "1.9.0",
        }, _codes);
        var segments = new[] { Segment() };

        Assert.Same(segments, Collapse.CommandDays.For(segments, filter, Cache(rollups: true)));
    }

    [Fact]
    public void For_RollupsOff_RowsAsTheyAre()
    {
        var segments = new[] { Segment() };

        Assert.Same(segments, Collapse.CommandDays.For(segments, ReachFilter.All, Cache(rollups: false)));
    }

    [Fact]
    public void For_DurationHistograms_BucketCountsAdded()
    {
        MonthSegment<CommandDurationRow> segment = new("dbt", new DateOnly(2026, 11, 1),
        [
            new(Day: 1, Command: 7, IsCi: false, OsName: 1, ToolVersion: 4, Buckets: [3, 9], Counts: [2, 1]),
            new(Day: 1, Command: 7, IsCi: false, OsName: 2, ToolVersion: 5, Buckets: [1, 9], Counts: [4, 5]),
        ]);

        var row = Collapse.CommandDurations.For([segment], ReachFilter.All, Cache(rollups: true)).Single().Rows.Single();

        Assert.Equal([1, 3, 9], row.Buckets);
        Assert.Equal([4, 2, 6], row.Counts);
        Assert.Equal((0, 0), (row.OsName, row.ToolVersion));
    }
}
