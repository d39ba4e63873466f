using UsageDashboard.Insights;
using UsageDashboard.Rollups;

namespace UsageDashboard.Tests.Insights;

/// <summary>
/// The gap index against counting by hand: random activity (installations, days, commands, CI or not, first
/// sightings) and random ranges, every count compared with a plain set-based count over the same activity
/// and with the row walk (<see cref="ReachCounts"/>) the pages use where the index does not answer.
/// </summary>
public sealed class ReachIndexTests
{
    private static readonly DateOnly s_first = new(2026, 7, 1);

    /// <summary>One (installation, day, command, CI) fact of random activity.</summary>
    private readonly record struct Activity(int Key, DateOnly Day, int Command, bool IsCi);

    private static List<Activity> RandomActivity(Random random, int installations)
    {
        var list = new List<Activity>();
        for (var key = 1; key <= installations; key++)
        {
            // Some installations are busy, most are occasional; some only ever run in one month.
            var days = random.Next(3) == 0 ? random.Next(20, 60) : random.Next(1, 6);
            var start = random.Next(0, 150);
            var span = random.Next(1, 150);
            for (var i = 0; i < days; i++)
            {
                var day = s_first.AddDays(Math.Min(start + random.Next(span), 152));
                // August has no rows at all in every third data set: a month without a segment.
                list.Add(new Activity(key, day, random.Next(4), random.Next(4) == 0));
            }
        }
        return list;
    }

    private static IReadOnlyList<MonthSegment<CommandMonthRow>> CommandSegments(IEnumerable<Activity> activity) =>
        [.. activity
            .GroupBy(a => new DateOnly(a.Day.Year, a.Day.Month, 1))
            .OrderBy(g => g.Key)
            .Select(month => new MonthSegment<CommandMonthRow>("dbt", month.Key, [.. month
                .GroupBy(a => (a.Key, a.Command, a.IsCi))
                .Select(g => new CommandMonthRow(g.Key.Key, g.Key.Command, g.Key.IsCi, 0, 0, g.Aggregate(0, (m, a) => m | (1 << (a.Day.Day - 1)))))
                .OrderBy(r => r.Key)]))];

    private static IReadOnlyList<MonthSegment<InstallationMonthRow>> InstallationSegments(IEnumerable<Activity> activity) =>
        [.. activity
            .GroupBy(a => new DateOnly(a.Day.Year, a.Day.Month, 1))
            .OrderBy(g => g.Key)
            .Select(month => new MonthSegment<InstallationMonthRow>("dbt", month.Key, [.. month
                .GroupBy(a => (a.Key, a.IsCi))
                .Select(g => new InstallationMonthRow(g.Key.Key, g.Key.IsCi, 0, 0, 0, 0, 0, g.Aggregate(0, (m, a) => m | (1 << (a.Day.Day - 1))), 0))
                .OrderBy(r => r.Key)]))];

    private static bool InStream(Activity a, int stream) => stream == 0 || (stream == 1) == a.IsCi;

    private static ReachFilter FilterOf(int stream) => ReachFilter.For(new InsightQuery
    {
        From = s_first,
        To = s_first,
        Environment = stream switch { 1 => EnvironmentFilter.Ci, 2 => EnvironmentFilter.NotCi, _ => EnvironmentFilter.All },
    }, new StringCodes());

    private static (DateOnly From, DateOnly To) RandomRange(Random random, ReachIndex index)
    {
        var length = index.CoversTo.DayNumber - index.CoversFrom.DayNumber + 1;
        var a = random.Next(length);
        var b = random.Next(3) == 0 ? a : Math.Min(length - 1, a + random.Next(1, 95));
        return (index.CoversFrom.AddDays(a), index.CoversFrom.AddDays(b));
    }

    [Theory]
    [InlineData(1, ReachIndex.DefaultDenseCells)]
    [InlineData(2, ReachIndex.DefaultDenseCells)]
    [InlineData(3, ReachIndex.DefaultDenseCells)]
    [InlineData(4, 0L)]
    [InlineData(5, 40_000L)]
    public void Distinct_RandomActivityAndRanges_EqualsSetCountAndRowWalk(int seed, long denseCells)
    {
        var random = new Random(seed);
        var activity = RandomActivity(random, 300);
        if (seed % 3 == 0)
        {
            activity.RemoveAll(a => a.Day.Month == 8);
        }
        var segments = CommandSegments(activity);
        // The dense counters hold every group, none (all hashed), or the first few.
        var index = ReachIndex.Build(segments, s_first, r => r.Command, denseCells: denseCells);

        for (var trial = 0; trial < 200; trial++)
        {
            var (from, to) = RandomRange(random, index);
            var stream = random.Next(ReachIndex.Streams);
            var expected = activity
                .Where(a => a.Day >= from && a.Day <= to && InStream(a, stream))
                .GroupBy(a => (long)a.Command)
                .ToDictionary(g => g.Key, g => (long)g.Select(a => a.Key).Distinct().Count());
            var walked = ReachCounts.Distinct(segments, from, to, FilterOf(stream), r => r.Command)
                .ToDictionary(c => (long)c.Key.Group, c => c.Value);

            var counted = index.Distinct(stream, from, to);

            Assert.Equal(expected.OrderBy(e => e.Key), counted.OrderBy(e => e.Key));
            Assert.Equal(walked.OrderBy(e => e.Key), counted.OrderBy(e => e.Key));
        }
    }

    [Theory]
    [InlineData(5)]
    [InlineData(6)]
    public void Daily_RandomActivity_EqualsRowWalkPerDay(int seed)
    {
        var random = new Random(seed);
        var activity = RandomActivity(random, 250);
        var segments = InstallationSegments(activity);
        var index = ReachIndex.Build(segments, s_first, _ => 0L);

        for (var trial = 0; trial < 30; trial++)
        {
            var (from, to) = RandomRange(random, index);
            var stream = random.Next(ReachIndex.Streams);
            var walked = ReachCounts.Daily(segments, from, to, FilterOf(stream));

            var daily = index.Daily(stream, 0, from, to);

            for (var i = 0; i < daily.Length; i++)
            {
                Assert.Equal(walked.GetValueOrDefault(from.AddDays(i)), daily[i]);
            }
        }
    }

    [Theory]
    [InlineData(7, ReachIndex.DefaultDenseCells)]
    [InlineData(8, ReachIndex.DefaultDenseCells)]
    [InlineData(9, 0L)]
    public void New_RandomFirstSightings_CountsActiveInstallationsFirstSeenInRange(int seed, long denseCells)
    {
        var random = new Random(seed);
        var activity = RandomActivity(random, 300);
        var segments = InstallationSegments(activity);
        // First sightings on or before the first active day: some in the window, some before it, some
        // installations without a row at all.
        var firstDays = new InstallationDays[302];
        foreach (var installation in activity.GroupBy(a => a.Key))
        {
            if (random.Next(10) == 0)
            {
                continue;
            }
            var first = installation.Min(a => a.Day).AddDays(-random.Next(0, 3) * random.Next(0, 40));
            firstDays[installation.Key] = new InstallationDays(first.DayNumber, installation.Max(a => a.Day).DayNumber);
        }
        var index = ReachIndex.Build(segments, s_first, _ => 0L, firstDays, denseCells);
        Assert.True(index.CanCountNew);

        for (var trial = 0; trial < 200; trial++)
        {
            var (from, to) = RandomRange(random, index);
            var stream = random.Next(ReachIndex.Streams);
            var expected = activity
                .Where(a => a.Day >= from && a.Day <= to && InStream(a, stream))
                .Select(a => a.Key).Distinct()
                .Count(k => firstDays[k].Known && firstDays[k].First >= from.DayNumber && firstDays[k].First <= to.DayNumber);

            Assert.Equal(expected, index.New(stream, 0, from, to));
        }
    }

    [Fact]
    public void New_ActivityBeforeFirstSighting_CannotCountNew()
    {
        var segments = InstallationSegments([new Activity(1, new DateOnly(2026, 7, 3), 0, false)]);
        var firstDays = new InstallationDays[2];
        firstDays[1] = new InstallationDays(new DateOnly(2026, 7, 5).DayNumber, new DateOnly(2026, 7, 5).DayNumber);

        var index = ReachIndex.Build(segments, s_first, _ => 0L, firstDays);

        Assert.False(index.CanCountNew);
        Assert.Throws<InvalidOperationException>(() => index.New(0, 0, s_first, s_first.AddDays(10)));
    }

    [Fact]
    public void Distinct_RangeOutsideTheIndex_Throws()
    {
        var index = ReachIndex.Build(CommandSegments([new Activity(1, new DateOnly(2026, 8, 3), 0, false)]), new DateOnly(2026, 8, 1), r => r.Command);

        Assert.Equal(new DateOnly(2026, 8, 1), index.CoversFrom);
        Assert.Equal(new DateOnly(2026, 8, 31), index.CoversTo);
        Assert.Throws<ArgumentOutOfRangeException>(() => index.Distinct(0, new DateOnly(2026, 7, 31), new DateOnly(2026, 8, 10)));
        Assert.Equal(1, index.Distinct(0, new DateOnly(2026, 8, 1), new DateOnly(2026, 8, 31))[0]);
    }

    [Fact]
    public void Build_SegmentBeforeCoversFrom_Throws() =>
        Assert.Throws<ArgumentException>(() =>
            ReachIndex.Build(CommandSegments([new Activity(1, new DateOnly(2026, 7, 3), 0, false)]), new DateOnly(2026, 8, 1), r => r.Command));

    [Fact]
    public void Build_TwoTools_Throws()
    {
        var rows = new[] { new CommandMonthRow(1, 0, false, 0, 0, 1) };
        Assert.Throws<ArgumentException>(() => ReachIndex.Build(
            [new MonthSegment<CommandMonthRow>("dbt", s_first, rows), new MonthSegment<CommandMonthRow>("meltano", s_first, rows)], s_first, r => r.Command));
    }
}
