using System.Runtime.CompilerServices;
using UsageDashboard.Insights;

namespace UsageDashboard.Rollups;

/// <summary>
/// Day-rollup segments as a view reads them: each segment's rows summed over the dimensions the view never looks
/// at (OS, OS version, runtime, tool version; the OS or the tool version stays when the view filters by it),
/// keeping the day, the environment and the view's own subject. A day row exists per combination of every
/// dimension, so the rows of a month grow with the variety of installations; their sums grow only with the
/// subjects. On the 10M bench store the 90-day plugin-day rows shrink from 221k to 35k, the command-day rows from
/// 137k to 8k and the run-day rows from 119k to 728 (without a filter), and the views that loop over them no longer
/// grow with the installations. Computed once per segment object and kind of filter: a segment is replaced, never
/// changed, when its rows move, so the sums of a segment stay right for as long as it is read, and are collected
/// with it.
/// </summary>
public sealed class CollapsedRows<T>(Func<T[], bool, bool, T[]> collapse) where T : struct
{
    // By what the sums keep: 0 = neither OS nor tool version, 1 = the OS, 2 = the tool version.
    private readonly ConditionalWeakTable<MonthSegment<T>, MonthSegment<T>>[] _collapsed = [[], [], []];

    /// <summary>
    /// <paramref name="segments"/> (read from <paramref name="cache"/>) with their rows summed over every dimension
    /// <paramref name="filter"/> does not read; as they are when it filters by both OS and version, or with rollups off
    /// (the segments are then new on every request, so summing them would only add work).
    /// </summary>
    public IReadOnlyList<MonthSegment<T>> For(IReadOnlyList<MonthSegment<T>> segments, ReachFilter filter, RollupCache cache)
    {
        if ((filter.ByOs && filter.ByVersion) || filter.ByPlatform || !cache.HoldsRows)
        {
            return segments;
        }
        var (keepOs, keepVersion) = (filter.ByOs, filter.ByVersion);
        var table = _collapsed[keepOs ? 1 : keepVersion ? 2 : 0];
        var result = new MonthSegment<T>[segments.Count];
        for (var i = 0; i < result.Length; i++)
        {
            result[i] = table.GetValue(segments[i], s => s with { Rows = collapse(s.Rows, keepOs, keepVersion) });
        }
        return result;
    }

    /// <summary>
    /// <paramref name="segment"/> with every row summed as the collapse has it, whatever the filter (for a collapse that
    /// keeps every dimension a filter reads, such as <see cref="Collapse.RunMonths"/>); as it is with rollups off.
    /// </summary>
    public MonthSegment<T> Whole(MonthSegment<T> segment, RollupCache cache) =>
        cache.HoldsRows ? _collapsed[0].GetValue(segment, s => s with { Rows = collapse(s.Rows, true, true) }) : segment;
}

/// <summary>The collapses the views use (<see cref="CollapsedRows{T}"/>): what each keeps of a row.</summary>
public static class Collapse
{
    /// <summary>Run-day rows by (day, environment): the overview's totals and daily runs.</summary>
    public static readonly CollapsedRows<RunDayRow> RunDays = new((rows, os, version) => Sum(rows,
        r => (r.Day, r.IsCi, os ? r.OsName : 0, version ? r.ToolVersion : 0),
        static (a, b) => a with { Runs = a.Runs + b.Runs, Succeeded = a.Succeeded + b.Succeeded, Failed = a.Failed + b.Failed, Aborted = a.Aborted + b.Aborted },
        r => r with { OsName = os ? r.OsName : 0, OsVersion = 0, RuntimeName = 0, RuntimeVersion = 0, ToolVersion = version ? r.ToolVersion : 0, Environment = 0 }));

    /// <summary>Command-day rows by (day, command, environment): the command rankings.</summary>
    public static readonly CollapsedRows<CommandDayRow> CommandDays = new((rows, os, version) => Sum(rows,
        r => (r.Day, r.Command, r.IsCi, os ? r.OsName : 0, version ? r.ToolVersion : 0),
        static (a, b) => a with { Runs = a.Runs + b.Runs, Succeeded = a.Succeeded + b.Succeeded, Failed = a.Failed + b.Failed, Aborted = a.Aborted + b.Aborted },
        r => r with { OsName = os ? r.OsName : 0, ToolVersion = version ? r.ToolVersion : 0, RuntimeName = 0, RuntimeVersion = 0, Environment = 0 }));

    /// <summary>Plugin-day rows by (day, name, type, plugin version, environment): the plugin list.</summary>
    public static readonly CollapsedRows<PluginDayRow> PluginDays = new((rows, os, version) => Sum(rows,
        r => (r.Day, r.Name, r.Type, r.Version, r.IsCi, os ? r.OsName : 0, version ? r.ToolVersion : 0),
        static (a, b) => a with { Runs = a.Runs + b.Runs, Succeeded = a.Succeeded + b.Succeeded, Failed = a.Failed + b.Failed, Aborted = a.Aborted + b.Aborted,
            FirstAt = a.FirstAt < b.FirstAt ? a.FirstAt : b.FirstAt },
        r => r with { OsName = os ? r.OsName : 0, ToolVersion = version ? r.ToolVersion : 0, RuntimeName = 0, RuntimeVersion = 0, Environment = 0 }));

    /// <summary>
    /// Run-day rows of a month summed over its days (day 0), every dimension kept: the environments breakdown's runs
    /// over the months its range covers whole (about a month's rows instead of one per day and combination).
    /// </summary>
    public static readonly CollapsedRows<RunDayRow> RunMonths = new((rows, _, _) => Sum(rows,
        r => (r.IsCi, r.OsName, r.OsVersion, r.RuntimeName, r.RuntimeVersion, r.ToolVersion, r.Environment),
        static (a, b) => a with { Runs = a.Runs + b.Runs, Succeeded = a.Succeeded + b.Succeeded, Failed = a.Failed + b.Failed, Aborted = a.Aborted + b.Aborted },
        static r => r with { Day = 0 }));

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

    private static CommandDurationRow[] CollapseDurations(CommandDurationRow[] rows, bool os, bool version)
    {
        var sums = new Dictionary<(int Day, int Command, bool IsCi, int Os, int Version), SortedDictionary<short, int>>();
        foreach (var row in rows)
        {
            var key = (row.Day, row.Command, row.IsCi, os ? row.OsName : 0, version ? row.ToolVersion : 0);
            if (!sums.TryGetValue(key, out var buckets))
            {
                sums[key] = buckets = [];
            }
            for (var i = 0; i < row.Buckets.Length; i++)
            {
                buckets[row.Buckets[i]] = buckets.GetValueOrDefault(row.Buckets[i]) + row.Counts[i];
            }
        }
        return [.. sums.Select(s => new CommandDurationRow(s.Key.Day, s.Key.Command, s.Key.IsCi, s.Key.Os, s.Key.Version, [.. s.Value.Keys], [.. s.Value.Values]))];
    }
}
