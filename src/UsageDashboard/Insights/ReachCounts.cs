using UsageDashboard.Rollups;

namespace UsageDashboard.Insights;

/// <summary>
/// Distinct installation counts over in-memory month rows (<see cref="RollupCache"/>): the exact
/// equivalent of grouping the month rollup by installation and counting, without a hash aggregate in
/// PostgreSQL. Pure functions over the segments a service fetched.
/// </summary>
public static class ReachCounts
{
    /// <summary>
    /// Installations per (tool, group) with any active day in [<paramref name="from"/>, <paramref name="to"/>]
    /// on a row the filter accepts; <paramref name="group"/> splits them (a command, a plugin; a constant
    /// for one total per tool); a negative group leaves the row out.
    /// </summary>
    public static Dictionary<(string Tool, int Group), long> Distinct<T>(
        IReadOnlyList<MonthSegment<T>> segments, DateOnly from, DateOnly to, ReachFilter filter, Func<T, int> group)
        where T : struct, IMonthRow
    {
        var result = new Dictionary<(string, int), long>();
        foreach (var tool in segments.GroupBy(s => s.Tool, StringComparer.Ordinal))
        {
            var merge = new KeyMerge<T>(tool);
            var masks = merge.Segments.Select(s => MonthMask.For(s.Month, from, to)).ToArray();
            var counter = new StampCounter();
            while (merge.MoveNext())
            {
                for (var p = 0; p < merge.Parts; p++)
                {
                    var mask = masks[merge.SegmentOf(p)];
                    foreach (var row in merge.Rows(p))
                    {
                        if ((row.Days & mask) == 0 || !filter.Matches(in row))
                        {
                            continue;
                        }
                        var g = group(row);
                        if (g >= 0)
                        {
                            counter.Add(g, merge.Key);
                        }
                    }
                }
            }
            for (var g = 0; g < counter.Length; g++)
            {
                if (counter[g] > 0)
                {
                    result[(tool.Key, g)] = counter[g];
                }
            }
        }
        return result;
    }

    /// <summary>
    /// <see cref="Distinct{T}(IReadOnlyList{MonthSegment{T}}, DateOnly, DateOnly, ReachFilter, Func{T, int})"/>, answered
    /// from each tool's <see cref="ReachIndex"/> for the filter where <paramref name="indexFor"/> has one covering the
    /// range (built over the rows the filter keeps, <see cref="ReachFilter.IndexRows"/>), and by the walk otherwise. <paramref name="groupOfKey"/>
    /// maps an index group key to the same group <paramref name="group"/> gives its rows, one key to one group
    /// (a negative group leaves it out).
    /// </summary>
    public static Dictionary<(string Tool, int Group), long> Distinct<T>(
        IReadOnlyList<MonthSegment<T>> segments, DateOnly from, DateOnly to, ReachFilter filter, Func<T, int> group,
        Func<IReadOnlyList<MonthSegment<T>>, ReachFilter, ReachIndex?> indexFor, Func<long, int> groupOfKey)
        where T : struct, IMonthRow
    {
        if (filter.IndexStream is not { } stream)
        {
            return Distinct(segments, from, to, filter, group);
        }
        var result = new Dictionary<(string, int), long>();
        var walk = new List<MonthSegment<T>>();
        foreach (var tool in segments.GroupBy(s => s.Tool, StringComparer.Ordinal))
        {
            var toolSegments = tool.ToList();
            if (indexFor(toolSegments, filter) is not { } index || !index.Covers(from, to))
            {
                walk.AddRange(toolSegments);
                continue;
            }
            foreach (var (key, count) in index.Distinct(stream, from, to))
            {
                var g = groupOfKey(key);
                if (g >= 0)
                {
                    result[(tool.Key, g)] = count;
                }
            }
        }
        if (walk.Count > 0)
        {
            foreach (var (key, count) in Distinct(walk, from, to, filter, group))
            {
                result[key] = count;
            }
        }
        return result;
    }

    /// <summary>
    /// Adds index counts whose group keys end in a text's code (the low 32 bits) to counts by that text (or by
    /// <paramref name="textOf"/> a key, when given): keys are unique across tools, so per-tool counts add up.
    /// </summary>
    public static void AddByText(Dictionary<string, long> into, Dictionary<long, long> counts, StringCodes codes, Func<long, string>? textOf = null)
    {
        foreach (var (key, n) in counts)
        {
            var text = textOf?.Invoke(key) ?? codes.Text((int)key)!;
            into[text] = into.GetValueOrDefault(text) + n;
        }
    }

    /// <summary>
    /// <see cref="AddByText"/> for each bucket's days within [<paramref name="from"/>, <paramref name="to"/>], keyed by
    /// bucket start; buckets without any installation get no entry.
    /// </summary>
    public static void AddPerBucket(Dictionary<DateOnly, Dictionary<string, long>> into, ReachIndex index, int stream,
        IReadOnlyList<Bucket> buckets, DateOnly from, DateOnly to, StringCodes codes, Func<long, bool>? groups = null, Func<long, string>? textOf = null)
    {
        foreach (var bucket in buckets)
        {
            var (first, last) = (bucket.Start < from ? from : bucket.Start, bucket.End.AddDays(-1) > to ? to : bucket.End.AddDays(-1));
            var counts = first > last ? [] : index.Distinct(stream, first, last, groups);
            if (counts.Count == 0)
            {
                continue;
            }
            if (!into.TryGetValue(bucket.Start, out var values))
            {
                into[bucket.Start] = values = new Dictionary<string, long>(StringComparer.Ordinal);
            }
            AddByText(values, counts, codes, textOf);
        }
    }

    /// <summary>Active installations per day of [<paramref name="from"/>, <paramref name="to"/>] (all tools together: keys are unique across tools).</summary>
    public static Dictionary<DateOnly, long> Daily(IReadOnlyList<MonthSegment<InstallationMonthRow>> segments, DateOnly from, DateOnly to, ReachFilter filter)
    {
        var result = new Dictionary<DateOnly, long>();
        var perMonth = new Dictionary<DateOnly, long[]>();
        foreach (var segment in segments)
        {
            var window = MonthMask.For(segment.Month, from, to);
            if (window == 0)
            {
                continue;
            }
            if (!perMonth.TryGetValue(segment.Month, out var counts))
            {
                perMonth[segment.Month] = counts = new long[31];
            }
            // Rows are sorted by installation: OR the masks of each installation's rows (its environments,
            // versions) so it counts once a day, then count the days of that mask.
            var rows = segment.Rows;
            for (var i = 0; i < rows.Length;)
            {
                var key = rows[i].Key;
                var mask = 0;
                for (; i < rows.Length && rows[i].Key == key; i++)
                {
                    if ((rows[i].Days & window) != 0 && filter.Matches(in rows[i]))
                    {
                        mask |= rows[i].Days & window;
                    }
                }
                for (var bits = (uint)mask; bits != 0; bits &= bits - 1)
                {
                    counts[System.Numerics.BitOperations.TrailingZeroCount(bits)]++;
                }
            }
        }
        foreach (var (month, counts) in perMonth)
        {
            for (var day = month; day.Month == month.Month; day = day.AddDays(1))
            {
                if (counts[day.Day - 1] > 0)
                {
                    result[day] = counts[day.Day - 1];
                }
            }
        }
        return result;
    }

    /// <summary>Whether a day row's day (month + 0-based day) is in [<paramref name="from"/>, <paramref name="to"/>].</summary>
    public static bool InRange(DateOnly month, int day, DateOnly from, DateOnly to)
    {
        var n = month.DayNumber + day;
        return n >= from.DayNumber && n <= to.DayNumber;
    }
}

/// <summary>Runs and outcomes summed from day rows.</summary>
public sealed class Tally
{
    public long Runs { get; private set; }
    public long Succeeded { get; private set; }
    public long Failed { get; private set; }
    public long Aborted { get; private set; }

    public void Add(long runs, long succeeded, long failed, long aborted)
    {
        Runs += runs;
        Succeeded += succeeded;
        Failed += failed;
        Aborted += aborted;
    }

    public Outcomes ToOutcomes() => new(Runs, Succeeded, Failed, Aborted);
}
