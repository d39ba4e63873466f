using System.Numerics;

namespace UsageDashboard.Insights;

/// <summary>
/// A span of days [<see cref="From"/>, <see cref="To"/>] and bit sets over it (one bit per day, as
/// <c>ulong[]</c>). The month rollups store activity as a mask of the days of a month; pages turn those
/// masks into sets over their own window and count with bit operations instead of one row per day.
/// </summary>
public sealed class DayWindow
{
    public DayWindow(DateOnly from, DateOnly to)
    {
        if (to < from)
        {
            throw new ArgumentException($"Window ends ({to:yyyy-MM-dd}) before it starts ({from:yyyy-MM-dd}).", nameof(to));
        }
        From = from;
        To = to;
        Length = to.DayNumber - from.DayNumber + 1;
        Words = (Length + 63) / 64;
    }

    public DateOnly From { get; }
    public DateOnly To { get; }
    public int Length { get; }
    public int Words { get; }

    public ulong[] NewSet() => new ulong[Words];

    public int IndexOf(DateOnly day) => day.DayNumber - From.DayNumber;

    public DateOnly DayAt(int index) => From.AddDays(index);

    /// <summary>Sets the days of <paramref name="monthMask"/> (bit b = day b + 1 of <paramref name="month"/>) that fall in the window.</summary>
    public void AddMonthMask(ulong[] set, DateOnly month, int monthMask) => AddMask(set, month.DayNumber - From.DayNumber, (uint)monthMask);

    /// <summary>Sets the days of <paramref name="mask"/> (bit b = window index <paramref name="first"/> + b) that fall in the window: two word operations, not one per day.</summary>
    public void AddMask(ulong[] set, int first, uint mask)
    {
        ulong bits = mask;
        if (first < 0)
        {
            if (first <= -32)
            {
                return;
            }
            bits >>= -first;
            first = 0;
        }
        if (first >= Length || bits == 0)
        {
            return;
        }
        // Days past the window's end are dropped: the last word's spare bits must stay clear.
        var room = Length - first;
        if (room < 32)
        {
            bits &= (1UL << room) - 1;
        }
        var word = first >> 6;
        var shift = first & 63;
        set[word] |= bits << shift;
        if (shift > 32 && word + 1 < set.Length)
        {
            set[word + 1] |= bits >> (64 - shift);
        }
    }

    public static bool Get(ulong[] set, int index) => (set[index >> 6] & (1UL << (index & 63))) != 0;

    /// <summary>Whether any day with index in [<paramref name="from"/>, <paramref name="to"/>] is set.</summary>
    public static bool Any(ulong[] set, int from, int to)
    {
        if (to < from)
        {
            return false;
        }
        for (var w = from >> 6; w <= to >> 6; w++)
        {
            var bits = set[w];
            if (w == from >> 6)
            {
                bits &= ulong.MaxValue << (from & 63);
            }
            if (w == to >> 6)
            {
                bits &= ulong.MaxValue >> (63 - (to & 63));
            }
            if (bits != 0)
            {
                return true;
            }
        }
        return false;
    }

    /// <summary>The highest set index in [<paramref name="from"/>, <paramref name="to"/>], or -1.</summary>
    public static int Last(ulong[] set, int from, int to)
    {
        for (var i = to; i >= from; i--)
        {
            if (Get(set, i))
            {
                return i;
            }
        }
        return -1;
    }

    /// <summary>The lowest set index, or -1.</summary>
    public static int First(ulong[] set)
    {
        for (var w = 0; w < set.Length; w++)
        {
            if (set[w] != 0)
            {
                return (w << 6) + BitOperations.TrailingZeroCount(set[w]);
            }
        }
        return -1;
    }

    public static bool IsEmpty(ulong[] set) => Array.TrueForAll(set, w => w == 0);

    /// <summary>Calls <paramref name="action"/> with each set index in [<paramref name="from"/>, <paramref name="to"/>].</summary>
    public static void ForEach(ulong[] set, int from, int to, Action<int> action)
    {
        for (var w = Math.Max(from, 0) >> 6; w <= to >> 6 && w < set.Length; w++)
        {
            var bits = set[w];
            while (bits != 0)
            {
                var index = (w << 6) + BitOperations.TrailingZeroCount(bits);
                bits &= bits - 1;
                if (index >= from && index <= to)
                {
                    action(index);
                }
            }
        }
    }
}
