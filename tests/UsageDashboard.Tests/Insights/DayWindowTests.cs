using UsageDashboard.Insights;

namespace UsageDashboard.Tests.Insights;

/// <summary>Bit sets over a window of days, fed by the month rollups' day masks.</summary>
public sealed class DayWindowTests
{
    private static readonly DayWindow s_window = new(new DateOnly(2026, 9, 25), new DateOnly(2026, 12, 5));

    [Fact]
    public void AddMonthMask_MonthOverlapsTheWindowStart_SetsOnlyDaysInside()
    {
        var set = s_window.NewSet();
        // September 1st, 24th (before the window), 25th and 30th.
        s_window.AddMonthMask(set, new DateOnly(2026, 9, 1), (1 << 0) | (1 << 23) | (1 << 24) | (1 << 29));

        var days = new List<DateOnly>();
        DayWindow.ForEach(set, 0, s_window.Length - 1, i => days.Add(s_window.DayAt(i)));

        Assert.Equal([new DateOnly(2026, 9, 25), new DateOnly(2026, 9, 30)], days);
    }

    [Fact]
    public void AddMonthMask_HighestBit_IsTheThirtyFirst()
    {
        var set = s_window.NewSet();
        s_window.AddMonthMask(set, new DateOnly(2026, 10, 1), 1 << 30);

        Assert.Equal(s_window.IndexOf(new DateOnly(2026, 10, 31)), DayWindow.First(set));
    }

    [Fact]
    public void Any_RangeAcrossWordBoundary_FindsOnlyDaysInRange()
    {
        var set = s_window.NewSet();
        var day = new DateOnly(2026, 11, 28); // index 64: the first bit of the second word
        s_window.AddMonthMask(set, new DateOnly(2026, 11, 1), 1 << 27);
        var i = s_window.IndexOf(day);

        Assert.Equal(64, i);
        Assert.True(DayWindow.Any(set, 60, 64));
        Assert.True(DayWindow.Any(set, 64, 70));
        Assert.False(DayWindow.Any(set, 0, 63));
        Assert.False(DayWindow.Any(set, 65, s_window.Length - 1));
        Assert.Equal(64, DayWindow.Last(set, 0, s_window.Length - 1));
        Assert.Equal(-1, DayWindow.Last(set, 0, 63));
    }

    [Fact]
    public void AddMonthMask_EveryMonthOffsetAndMask_SameDaysAsOneBitAtATime()
    {
        // Windows whose ends fall on and around word boundaries, months starting before, inside and past them.
        var random = new Random(7);
        foreach (var length in new[] { 1, 31, 32, 63, 64, 65, 95, 128, 130 })
        {
            var window = new DayWindow(new DateOnly(2026, 1, 1), new DateOnly(2026, 1, 1).AddDays(length - 1));
            for (var first = -40; first <= length + 2; first++)
            {
                var mask = random.Next() & 0x7FFFFFFF;
                var set = window.NewSet();
                window.AddMask(set, first, (uint)mask);

                var expected = window.NewSet();
                for (var bit = 0; bit < 31; bit++)
                {
                    var index = first + bit;
                    if ((mask & (1 << bit)) != 0 && index >= 0 && index < length)
                    {
                        expected[index >> 6] |= 1UL << (index & 63);
                    }
                }
                Assert.True(expected.SequenceEqual(set), $"length {length}, first {first}, mask {mask:x}");
            }
        }
    }

    [Fact]
    public void Constructor_EndBeforeStart_NamesBothDays()
    {
        var e = Assert.Throws<ArgumentException>(() => new DayWindow(new DateOnly(2026, 11, 2), new DateOnly(2026, 11, 1)));

        Assert.Contains("2026-11-01", e.Message, StringComparison.Ordinal);
        Assert.Contains("2026-11-02", e.Message, StringComparison.Ordinal);
    }
}
