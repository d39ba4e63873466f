using System.Runtime.CompilerServices;
using UsageDashboard.Insights;

namespace UsageDashboard.Rollups;

/// <summary>
/// Day-rollup segments as a view without an OS or tool-version filter reads them: each segment's rows summed over
/// the dimensions such a view never looks at (OS, OS version, runtime, tool version), keeping the day, the
/// environment and the view's own subject. A day row exists per combination of every dimension, so the rows of a
/// month grow with the variety of installations; their sums grow only with the subjects. On the 10M bench store
/// the 90-day plugin-day rows shrink from 221k to 35k, the command-day rows from 137k to 8k and the run-day rows
/// from 119k to 728, and the views that loop over them no longer grow with the installations.
/// Computed once per segment object: a segment is replaced, never changed, when its rows move, so the sums of a
/// segment stay right for as long as it is read, and are collected with it.
/// </summary>
public sealed class CollapsedRows<T> where T : struct
{
    private readonly ConditionalWeakTable<MonthSegment<T>, MonthSegment<T>> _collapsed = [];
    private readonly Func<T[], T[]> _collapse;

    public CollapsedRows(Func<T[], T[]> collapse) => _collapse = collapse;

    /// <summary>
    /// <paramref name="segments"/> (read from <paramref name="cache"/>) with their rows summed, when <paramref name="filter"/>
    /// keeps rows by environment only; as they are otherwise: an OS or version filter reads the dimensions the sums drop,
    /// and with rollups off the segments are new on every request, so summing them would only add work.
    /// </summary>
    public IReadOnlyList<MonthSegment<T>> For(IReadOnlyList<MonthSegment<T>> segments, ReachFilter filter, RollupCache cache)
    {
        if (filter.NarrowsRows || !cache.HoldsRows)
        {
            return segments;
        }
        var result = new MonthSegment<T>[segments.Count];
        for (var i = 0; i < result.Length; i++)
        {
            result[i] = _collapsed.GetValue(segments[i], s => s with { Rows = _collapse(s.Rows) });
        }
        return result;
    }
}

/// <summary>The collapses the views use (<see cref="CollapsedRows{T}"/>): what each keeps of a row.</summary>
public static class Collapse
{
    /// <summary>Run-day rows by (day, environment): the overview's totals and daily runs.</summary>
    public static readonly CollapsedRows<RunDayRow> RunDays = new(rows => Sum(rows, r => (r.Day, r.IsCi),
        static (a, b) => a with { Runs = a.Runs + b.Runs, Succeeded = a.Succeeded + b.Succeeded, Failed = a.Failed + b.Failed, Aborted = a.Aborted + b.Aborted },
        static r => r with { OsName = 0, OsVersion = 0, RuntimeName = 0, RuntimeVersion = 0, ToolVersion = 0 }));

    /// <summary>Command-day rows by (day, command, environment): the command rankings.</summary>
    public static readonly CollapsedRows<CommandDayRow> CommandDays = new(rows => Sum(rows, r => (r.Day, r.Command, r.IsCi),
        static (a, b) => a with { Runs = a.Runs + b.Runs, Succeeded = a.Succeeded + b.Succeeded, Failed = a.Failed + b.Failed, Aborted = a.Aborted + b.Aborted },
        static r => r with { OsName = 0, ToolVersion = 0 }));

    /// <summary>Plugin-day rows by (day, name, type, plugin version, environment): the plugin list.</summary>
    public static readonly CollapsedRows<PluginDayRow> PluginDays = new(rows => Sum(rows, r => (r.Day, r.Name, r.Type, r.Version, r.IsCi),
        static (a, b) => a with { Runs = a.Runs + b.Runs, Succeeded = a.Succeeded + b.Succeeded, Failed = a.Failed + b.Failed, Aborted = a.Aborted + b.Aborted },
        static r => r with { OsName = 0, ToolVersion = 0 }));

    /// <summary>Duration histograms by (day, command, environment), bucket counts added: the command list's percentiles.</summary>
    public static readonly CollapsedRows<CommandDurationRow> CommandDurations = new(CollapseDurations);

    /// <summary>
    /// The rows summed per key, in the order each key first appears (the views' own orders never depend on it), each
    /// sum with the dropped dimensions cleared (<paramref name="clear"/>).
    /// </summary>
    private static T[] Sum<T, TKey>(T[] rows, Func<T, TKey> key, Func<T, T, T> add, Func<T, T> clear) where T : struct where TKey : notnull
    {
        var at = new Dictionary<TKey, int>();
        var sums = new List<T>();
        foreach (var row in rows)
        {
            var k = key(row);
            if (at.TryGetValue(k, out var i))
            {
                sums[i] = add(sums[i], row);
            }
            else
            {
                at[k] = sums.Count;
                sums.Add(clear(row));
            }
        }
        return [.. sums];
    }

    private static CommandDurationRow[] CollapseDurations(CommandDurationRow[] rows)
    {
        var sums = new Dictionary<(int Day, int Command, bool IsCi), SortedDictionary<short, int>>();
        foreach (var row in rows)
        {
            var key = (row.Day, row.Command, row.IsCi);
            if (!sums.TryGetValue(key, out var buckets))
            {
                sums[key] = buckets = [];
            }
            for (var i = 0; i < row.Buckets.Length; i++)
            {
                buckets[row.Buckets[i]] = buckets.GetValueOrDefault(row.Buckets[i]) + row.Counts[i];
            }
        }
        return [.. sums.Select(s => new CommandDurationRow(s.Key.Day, s.Key.Command, s.Key.IsCi, 0, 0, [.. s.Value.Keys], [.. s.Value.Values]))];
    }
}
