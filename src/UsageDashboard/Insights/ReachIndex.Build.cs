namespace UsageDashboard.Insights;

/// <summary>Building a reach index from its counted rows, and the distinct, daily and new counts read from it.</summary>
public sealed partial class ReachIndex
{
    private static ReachIndex Finish(DayWindow window, List<long> groups, Dictionary<long, int> groupIds, GapCounts counts,
        Dictionary<long, int>[]? lagCounts, bool mirrored, bool canCountNew)
    {
        var series = new Series?[Streams * groups.Count];
        long entries = 0;
        var sparse = counts.Sparse();
        for (var s = 0; s < Streams; s++)
        {
            var lags = lagCounts is null ? null : Split(lagCounts[s]);
            for (var g = 0; g < groups.Count; g++)
            {
                if ((counts.Entries(s, g) ?? sparse.GetValueOrDefault((g * Streams) + s)) is { Count: > 0 } list)
                {
                    series[s * groups.Count + g] = Series.From(list, window.Length, lags?.GetValueOrDefault(g) ?? (lagCounts is null ? null : []));
                    entries += list.Count;
                }
            }
        }
        return new ReachIndex(window.From.DayNumber, window.Length, [.. groups], groupIds, series, mirrored)
        {
            Entries = entries,
            CanCountNew = canCountNew,
        };
    }

    // (group, day, value) in one long (the group may be a group × stream slot): group in the top 22 bits, day in the next 10, the value (a gap or a
    // lag, offset by 2^31 so negative lags sort first) in the low 32.
    private static long Pack(int group, int day, int value) => ((long)group << 42) | ((long)day << 32) | (uint)(value ^ int.MinValue);

    private static Dictionary<int, List<(int Day, int Value, int Count)>> Split(Dictionary<long, int> counts)
    {
        var byGroup = new Dictionary<int, List<(int, int, int)>>();
        foreach (var key in counts.Keys.Order())
        {
            var g = (int)(key >> 42);
            if (!byGroup.TryGetValue(g, out var list))
            {
                byGroup[g] = list = [];
            }
            list.Add(((int)((key >> 32) & 0x3FF), (int)(uint)key ^ int.MinValue, counts[key]));
        }
        return byGroup;
    }

    /// <summary>The groups the index holds (as <see cref="Build{T}"/>'s group function named them).</summary>
    public IReadOnlyList<long> Groups => _groups;

    /// <summary>Installations active in [<paramref name="from"/>, <paramref name="to"/>] in <paramref name="stream"/>, per group with any (of those <paramref name="groups"/> accepts).</summary>
    public Dictionary<long, long> Distinct(int stream, DateOnly from, DateOnly to, Func<long, bool>? groups = null)
    {
        var result = new Dictionary<long, long>();
        for (var g = 0; g < _groups.Length; g++)
        {
            if (groups is not null && !groups(_groups[g]))
            {
                continue;
            }
            var n = Distinct(stream, g, from, to);
            if (n > 0)
            {
                result[_groups[g]] = n;
            }
        }
        return result;
    }

    /// <summary>Installations active in [<paramref name="from"/>, <paramref name="to"/>] in <paramref name="stream"/> and group <paramref name="groupKey"/>.</summary>
    public long DistinctOf(int stream, long groupKey, DateOnly from, DateOnly to) =>
        _groupIds.TryGetValue(groupKey, out var g) ? Distinct(stream, g, from, to) : 0;

    private long Distinct(int stream, int g, DateOnly from, DateOnly to)
    {
        Check(from, to);
        if (_series[stream * _groups.Length + g] is not { } series)
        {
            return 0;
        }
        var (a, b) = (from.DayNumber - _start, to.DayNumber - _start);
        if (_mirrored)
        {
            (a, b) = (_length - 1 - b, _length - 1 - a);
        }
        long total = 0;
        for (var d = a; d <= b; d++)
        {
            total += series.GapsAbove(d, d - a);
        }
        return total;
    }

    /// <summary>Installations active on each day of [<paramref name="from"/>, <paramref name="to"/>] in <paramref name="stream"/> and group <paramref name="groupKey"/> (index 0 = <paramref name="from"/>).</summary>
    public long[] Daily(int stream, long groupKey, DateOnly from, DateOnly to)
    {
        Check(from, to);
        if (_mirrored)
        {
            throw new InvalidOperationException("An index built by BuildLast counts ranges only (Distinct).");
        }
        var result = new long[to.DayNumber - from.DayNumber + 1];
        if (_groupIds.TryGetValue(groupKey, out var g) && _series[stream * _groups.Length + g] is { } series)
        {
            for (var i = 0; i < result.Length; i++)
            {
                result[i] = series.GapsAbove(from.DayNumber - _start + i, 0);
            }
        }
        return result;
    }

    /// <summary>
    /// Installations active in [<paramref name="from"/>, <paramref name="to"/>] in <paramref name="stream"/> and
    /// group <paramref name="groupKey"/> whose first sighting is in that range too (built with first days only).
    /// </summary>
    public long New(int stream, long groupKey, DateOnly from, DateOnly to)
    {
        Check(from, to);
        if (!CanCountNew)
        {
            throw new InvalidOperationException("This index cannot count new installations exactly (see CanCountNew).");
        }
        if (!_groupIds.TryGetValue(groupKey, out var g) || _series[stream * _groups.Length + g] is not { } series)
        {
            return 0;
        }
        var (a, b) = (from.DayNumber - _start, to.DayNumber - _start);
        long total = 0;
        for (var d = a; d <= b; d++)
        {
            total += series.LagsWithin(d, d - b, d - a);
        }
        return total;
    }

    private void Check(DateOnly from, DateOnly to)
    {
        if (!Covers(from, to))
        {
            throw new ArgumentOutOfRangeException(nameof(from), $"[{from:yyyy-MM-dd}, {to:yyyy-MM-dd}] is outside the index's [{CoversFrom:yyyy-MM-dd}, {CoversTo:yyyy-MM-dd}].");
        }
    }

    /// <summary>
    /// How many installations had each (day, gap) per (stream, group) while an index is built (gap 0 = the first
    /// active day). A (stream, group) gets a dense triangle of counters (day d has gaps 0..d) while their total
    /// stays within the build's dense budget (<see cref="DefaultDenseCells"/>), and a hash of packed keys after that: the hash was most of a build
    /// (a cache miss per active day of every installation on the 10M store), the counters for every group of a
    /// fine-grained index would take hundreds of megabytes.
    /// </summary>
    private sealed class GapCounts(int days, long denseBudget)
    {
        private readonly List<int[]?> _dense = [];
        private readonly Dictionary<long, int> _sparse = [];
        private long _denseCells;

        public void Add(int stream, int g, int day, int gap)
        {
            var at = (g * Streams) + stream;
            while (_dense.Count <= at)
            {
                var cells = (long)days * (days + 1) / 2;
                _dense.Add(_denseCells + cells <= denseBudget ? new int[cells] : null);
                _denseCells += _dense[^1] is null ? 0 : cells;
            }
            if (_dense[at] is { } counters)
            {
                counters[(day * (day + 1) / 2) + gap]++;
            }
            else
            {
                System.Runtime.InteropServices.CollectionsMarshal.GetValueRefOrAddDefault(_sparse, Pack(at, day, gap), out _)++;
            }
        }

        /// <summary>(day, gap, count) of one (stream, group), sorted by day and gap, the first active day as <see cref="FirstGap"/>.</summary>
        public List<(int Day, int Value, int Count)>? Entries(int stream, int g)
        {
            var at = (g * Streams) + stream;
            if (at >= _dense.Count)
            {
                return null;
            }
            var list = new List<(int, int, int)>();
            if (_dense[at] is { } counters)
            {
                for (var day = 0; day < days; day++)
                {
                    var row = day * (day + 1) / 2;
                    for (var gap = 1; gap <= day; gap++)
                    {
                        if (counters[row + gap] > 0)
                        {
                            list.Add((day, gap, counters[row + gap]));
                        }
                    }
                    if (counters[row] > 0)
                    {
                        list.Add((day, FirstGap, counters[row]));
                    }
                }
                return list;
            }
            return null;
        }

        /// <summary>The sparse (stream, group)s' entries, by (stream × group) slot, each sorted like <see cref="Entries"/>.</summary>
        public Dictionary<int, List<(int Day, int Value, int Count)>> Sparse()
        {
            var result = Split(_sparse);
            foreach (var list in result.Values)
            {
                // Gap 0 (the first active day) sorts last within its day, as FirstGap.
                for (var i = 0; i < list.Count; i++)
                {
                    if (list[i].Value == 0)
                    {
                        list[i] = (list[i].Day, FirstGap, list[i].Count);
                    }
                }
                list.Sort((x, y) => x.Day != y.Day ? x.Day.CompareTo(y.Day) : x.Value.CompareTo(y.Value));
            }
            return result;
        }
    }

    /// <summary>One (stream, group)'s entries by day: values sorted within a day, with counts summed from the top (gaps) or the bottom (lags).</summary>
    private sealed class Series
    {
        private readonly int[] _dayStart;
        private readonly int[] _gaps;
        private readonly long[] _above;
        private readonly int[]? _lagStart;
        private readonly int[]? _lags;
        private readonly long[]? _upTo;

        private Series(int[] dayStart, int[] gaps, long[] above, int[]? lagStart, int[]? lags, long[]? upTo)
        {
            (_dayStart, _gaps, _above, _lagStart, _lags, _upTo) = (dayStart, gaps, above, lagStart, lags, upTo);
        }

        public static Series From(List<(int Day, int Value, int Count)> gaps, int days, List<(int Day, int Value, int Count)>? lags)
        {
            var (gapStart, gapValues, gapCounts) = Lay(gaps, days);
            // Counts of gaps greater or equal to each entry's, within its day.
            var above = new long[gapCounts.Length];
            for (var d = 0; d < days; d++)
            {
                long sum = 0;
                for (var i = gapStart[d + 1] - 1; i >= gapStart[d]; i--)
                {
                    sum += gapCounts[i];
                    above[i] = sum;
                }
            }
            if (lags is null)
            {
                return new Series(gapStart, gapValues, above, null, null, null);
            }
            var (lagStart, lagValues, lagCounts) = Lay(lags, days);
            // Counts of lags less or equal to each entry's, within its day.
            var upTo = new long[lagCounts.Length];
            for (var d = 0; d < days; d++)
            {
                long sum = 0;
                for (var i = lagStart[d]; i < lagStart[d + 1]; i++)
                {
                    sum += lagCounts[i];
                    upTo[i] = sum;
                }
            }
            return new Series(gapStart, gapValues, above, lagStart, lagValues, upTo);
        }

        private static (int[] Start, int[] Values, int[] Counts) Lay(List<(int Day, int Value, int Count)> entries, int days)
        {
            // Entries arrive sorted by (day, value): Split orders the packed keys.
            var start = new int[days + 1];
            var values = new int[entries.Count];
            var counts = new int[entries.Count];
            for (var i = 0; i < entries.Count; i++)
            {
                start[entries[i].Day + 1]++;
                values[i] = entries[i].Value;
                counts[i] = entries[i].Count;
            }
            for (var d = 0; d < days; d++)
            {
                start[d + 1] += start[d];
            }
            return (start, values, counts);
        }

        /// <summary>Installations active on <paramref name="day"/> whose gap is greater than <paramref name="gap"/>.</summary>
        public long GapsAbove(int day, int gap)
        {
            var (lo, hi) = (_dayStart[day], _dayStart[day + 1]);
            var i = UpperBound(_gaps, lo, hi, gap);
            return i < hi ? _above[i] : 0;
        }

        /// <summary>First active days on <paramref name="day"/> whose lag is in [<paramref name="min"/>, <paramref name="max"/>].</summary>
        public long LagsWithin(int day, int min, int max)
        {
            var (lo, hi) = (_lagStart![day], _lagStart[day + 1]);
            var upper = UpperBound(_lags!, lo, hi, max);
            var lower = UpperBound(_lags!, lo, hi, min - 1);
            return (upper > lo ? _upTo![upper - 1] : 0) - (lower > lo ? _upTo![lower - 1] : 0);
        }

        /// <summary>The first index in [lo, hi) whose value is greater than <paramref name="value"/>.</summary>
        private static int UpperBound(int[] values, int lo, int hi, int value)
        {
            while (lo < hi)
            {
                var mid = (lo + hi) >>> 1;
                if (values[mid] <= value)
                {
                    lo = mid + 1;
                }
                else
                {
                    hi = mid;
                }
            }
            return lo;
        }
    }
}
