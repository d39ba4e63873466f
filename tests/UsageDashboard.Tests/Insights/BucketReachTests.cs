using UsageDashboard.Insights;

namespace UsageDashboard.Tests.Insights;

/// <summary>Distinct installations per value and bucket, counted from month-rollup rows (the plugin page's adoption).</summary>
public sealed class BucketReachTests
{
    private static readonly DateOnly s_from = new(2026, 10, 20);
    private static readonly DateOnly s_to = new(2026, 11, 12);

    private static BucketReach CreateReach(Grain grain) =>
        new(s_from, s_to, TimeBuckets.For(s_from, s_to, grain, today: new DateOnly(2026, 12, 31)));

    private static int Days(params int[] daysOfMonth) => daysOfMonth.Aggregate(0, (mask, d) => mask | (1 << (d - 1)));

    [Fact]
    public void Add_SameInstallationInTwoRowsOfOneValue_CountedOnce()
    {
        var reach = CreateReach(Grain.Day);
        // Two rows of one installation and version (say linux and mac), one day in common.
        reach.Add(7, new DateOnly(2026, 11, 1), Days(2, 3), "1.0");
        reach.Add(7, new DateOnly(2026, 11, 1), Days(3), "1.0");

        Assert.Equal(1, reach.Installations);
        Assert.Equal(1, reach.ByValue()["1.0"]);
        Assert.Equal(1, reach.ByBucket()[new DateOnly(2026, 11, 3)]["1.0"]);
    }

    [Fact]
    public void Add_WeekAcrossAMonthBoundary_CountsTheInstallationOnceInThatWeek()
    {
        var reach = CreateReach(Grain.Week);
        // The week of Monday October 26th holds Friday Oct 30 and Sunday Nov 1, from two month rows;
        // Monday Nov 2 starts the next week.
        reach.Add(7, new DateOnly(2026, 10, 1), Days(30), "1.0");
        reach.Add(7, new DateOnly(2026, 11, 1), Days(1, 2), "1.0");
        reach.Add(8, new DateOnly(2026, 11, 1), Days(2), "2.0");

        var byBucket = reach.ByBucket();

        Assert.Equal(new Dictionary<string, long> { ["1.0"] = 1 }, byBucket[new DateOnly(2026, 10, 26)]);
        Assert.Equal(new Dictionary<string, long> { ["1.0"] = 1, ["2.0"] = 1 }, byBucket[new DateOnly(2026, 11, 2)]);
        Assert.Equal(2, reach.Installations);
    }

    [Fact]
    public void Add_DaysOutsideTheWindow_NotCounted()
    {
        var reach = CreateReach(Grain.Day);
        reach.Add(7, new DateOnly(2026, 10, 1), Days(1, 19), "1.0"); // before October 20th
        reach.Add(8, new DateOnly(2026, 11, 1), Days(13, 30), "1.0"); // after November 12th
        reach.Add(9, new DateOnly(2026, 11, 1), Days(12, 13), "1.0"); // the last day counts

        Assert.Equal(1, reach.Installations);
        Assert.Equal(new Dictionary<string, long> { ["1.0"] = 1 }, reach.ByValue());
        Assert.Equal([new DateOnly(2026, 11, 12)], reach.ByBucket().Keys);
    }

    [Fact]
    public void ByValue_InstallationWithTwoValues_CountedForEachAndOnceInTotal()
    {
        var reach = CreateReach(Grain.Month);
        reach.Add(7, new DateOnly(2026, 10, 1), Days(25), "1.0");
        reach.Add(7, new DateOnly(2026, 11, 1), Days(5), "1.1");

        Assert.Equal(1, reach.Installations);
        Assert.Equal(new Dictionary<string, long> { ["1.0"] = 1, ["1.1"] = 1 }, reach.ByValue());
        Assert.Equal(new Dictionary<string, long> { ["1.0"] = 1 }, reach.ByBucket()[new DateOnly(2026, 10, 1)]);
        Assert.Equal(new Dictionary<string, long> { ["1.1"] = 1 }, reach.ByBucket()[new DateOnly(2026, 11, 1)]);
    }
}
