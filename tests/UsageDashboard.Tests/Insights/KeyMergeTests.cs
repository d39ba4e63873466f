using UsageDashboard.Insights;
using UsageDashboard.Rollups;

namespace UsageDashboard.Tests.Insights;

/// <summary>The key-ordered walk over month segments that the distinct counts rely on.</summary>
public sealed class KeyMergeTests
{
    private static MonthSegment<CommandMonthRow> Segment(int month, params (int Key, int Command)[] rows) =>
        new("dbt", new DateOnly(2026, month, 1), [.. rows.Select(r => new CommandMonthRow(r.Key, r.Command, false, 0, 0, 1))]);

    [Fact]
    public void MoveNext_KeysSpreadOverSegments_EachKeyOnceWithAllItsRows()
    {
        var merge = new KeyMerge<CommandMonthRow>(
        [
            Segment(9, (1, 10), (1, 11), (4, 10)),
            Segment(10),
            Segment(11, (2, 10), (4, 12), (4, 13), (9, 10)),
        ]);

        var seen = new List<(int Key, string Rows)>();
        while (merge.MoveNext())
        {
            var rows = new List<string>();
            for (var p = 0; p < merge.Parts; p++)
            {
                foreach (var row in merge.Rows(p))
                {
                    rows.Add($"{merge.Segments[merge.SegmentOf(p)].Month.Month}:{row.Command}");
                }
            }
            seen.Add((merge.Key, string.Join(",", rows)));
        }

        Assert.Equal([(1, "9:10,9:11"), (2, "11:10"), (4, "9:10,11:12,11:13"), (9, "11:10")], seen);
    }

    [Fact]
    public void MoveNext_NoSegments_False() => Assert.False(new KeyMerge<CommandMonthRow>([]).MoveNext());

    [Fact]
    public void StampCounter_SameKeyTwiceInARow_CountsOnce()
    {
        var counter = new StampCounter();
        counter.Add(3, 1);
        counter.Add(3, 1);
        counter.Add(0, 1);
        counter.Add(3, 2);
        counter.Add(700, 2);

        Assert.Equal(2, counter[3]);
        Assert.Equal(1, counter[0]);
        Assert.Equal(1, counter[700]);
        Assert.Equal(0, counter[5]);
        Assert.Equal(0, counter[100_000]);
    }

    [Fact]
    public void Distinct_InstallationInSeveralMonthsAndCommands_CountedOncePerCommand()
    {
        var segments = new[]
        {
            Segment(9, (1, 10), (1, 11), (2, 10)),
            Segment(10, (1, 10), (3, 11)),
        };

        var counts = ReachCounts.Distinct(segments, new DateOnly(2026, 9, 1), new DateOnly(2026, 10, 31), ReachFilter.All, r => r.Command);

        Assert.Equal(2, counts.Count);
        Assert.Equal(2, counts[("dbt", 10)]);
        Assert.Equal(2, counts[("dbt", 11)]);
    }
}
