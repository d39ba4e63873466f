using System.Data;
using Npgsql;
using UsageDashboard.Insights;

namespace UsageDashboard.Rollups;

/// <summary>Segment loads from the rollup tables, and the reach indexes the cache builds over its segments.</summary>
public sealed partial class RollupCache
{
    /// <summary>
    /// One month of one tool from a rollup table (parameters <c>@month</c>, <c>@next_month</c>, <c>@tool</c>). Day
    /// tables are read by their (day, tool) index, month tables by their unique key's leading columns
    /// (tests/UsageDashboard.Tests/Rollups/PlanShapeTests.cs holds them to it).
    /// </summary>
    internal static string SegmentLoad(string table, bool dayTable, string columns) =>
        $"SELECT tool, {MonthOf(dayTable)}, {columns} FROM {table} WHERE {(dayTable ? "day >= @month AND day < @next_month" : "month = @month")} AND tool = @tool";

    /// <summary>Rollups off: the month rows computed from runs for just this request's days.</summary>
    private async Task<IReadOnlyList<MonthSegment<T>>> ReadRawAsync<T>(bool dayTable, string columns, Func<NpgsqlDataReader, StringCodes, T> read,
        Func<NpgsqlCommand, DateOnly, DateOnly, string> relation, string? tool, DateOnly from, DateOnly to, Func<T, int>? sortKey, CancellationToken ct)
        where T : struct
    {
        await using var conn = await dataSource.OpenConnectionAsync(ct);
        await using var cmd = conn.CreateCommand();
        var source = relation(cmd, from, to);
        cmd.CommandText = $"SELECT m.tool, {MonthOf(dayTable)}, {columns} FROM {source} m{(tool is null ? "" : " WHERE m.tool = @tool")} ORDER BY 2, 1";
        if (tool is not null)
        {
            cmd.Parameters.AddWithValue("tool", tool);
        }
        var result = new List<MonthSegment<T>>();
        var rows = new List<T>();
        (string Tool, DateOnly Month)? current = null;
        await using var reader = await cmd.ExecuteReaderAsync(ct);
        while (await reader.ReadAsync(ct))
        {
            var key = (reader.GetString(0), reader.GetFieldValue<DateOnly>(1));
            if (current != key)
            {
                Flush();
                current = key;
            }
            rows.Add(read(reader, Codes));
        }
        Flush();
        return result;

        void Flush()
        {
            if (current is { } c && rows.Count > 0)
            {
                result.Add(new MonthSegment<T>(c.Tool, c.Month, Sorted(rows, sortKey)));
                rows.Clear();
            }
        }
    }

    /// <summary>
    /// The rows as an array, month rows ordered by installation key: readers walk several months of one
    /// tool in key order (<c>Insights.KeyMerge</c>) and keep per-installation state in a few reused
    /// arrays, where hashing every (installation, value) pair was most of a page's time.
    /// </summary>
    private static T[] Sorted<T>(List<T> rows, Func<T, int>? sortKey)
    {
        var array = rows.ToArray();
        if (sortKey is not null)
        {
            var keys = new int[array.Length];
            for (var i = 0; i < array.Length; i++)
            {
                keys[i] = sortKey(array[i]);
            }
            Array.Sort(keys, array);
        }
        return array;
    }

    /// <summary>Whether rows are held in memory (rollups on): only then are reach indexes built and kept.</summary>
    public bool HoldsRows => rollups.Enabled;

    /// <summary>
    /// The <see cref="ReachIndex"/> over one tool's installation-month segments (one group per tool), with
    /// <paramref name="firstDays"/> (<see cref="InstallationDaysAsync"/>, read once per request), so it also counts
    /// new installations; null with rollups off or when it cannot be built.
    /// </summary>
    public ReachIndex? InstallationReach(IReadOnlyList<MonthSegment<InstallationMonthRow>> toolSegments, DateOnly from, InstallationDays[] firstDays,
        ReachFilter filter) =>
        Reach(InstallationTable, toolSegments, from, static _ => 0L, firstDays, InstallationFetch(toolSegments), filter);

    /// <summary>The <see cref="ReachIndex"/> over one tool's command-month segments, grouped by command code.</summary>
    public ReachIndex? CommandReach(IReadOnlyList<MonthSegment<CommandMonthRow>> toolSegments, DateOnly from, ReachFilter filter) =>
        Reach(CommandTable, toolSegments, from, static r => r.Command, null, CommandMonthsAsync, filter);

    /// <summary>
    /// Over one tool's command-month segments, grouped by (command, tool version or OS) as <see cref="PairGroup"/>
    /// of their codes, a NULL value under the code of "unknown" (the command page merges the two).
    /// </summary>
    public ReachIndex? CommandVersionReach(IReadOnlyList<MonthSegment<CommandMonthRow>> toolSegments, DateOnly from, ReachFilter filter)
    {
        var unknown = Codes.Code("unknown");
        return Reach("command versions", toolSegments, from, r => PairGroup(r.Command, r.ToolVersion == 0 ? unknown : r.ToolVersion), null,
            CommandMonthsAsync, filter);
    }

    /// <inheritdoc cref="CommandVersionReach"/>
    public ReachIndex? CommandOsReach(IReadOnlyList<MonthSegment<CommandMonthRow>> toolSegments, DateOnly from, ReachFilter filter)
    {
        var unknown = Codes.Code("unknown");
        return Reach("command systems", toolSegments, from, r => PairGroup(r.Command, r.OsName == 0 ? unknown : r.OsName), null, CommandMonthsAsync,
            filter);
    }

    /// <summary>Over one tool's plugin-month segments, grouped by plugin name.</summary>
    public ReachIndex? PluginNameReach(IReadOnlyList<MonthSegment<PluginMonthRow>> toolSegments, DateOnly from, ReachFilter filter) =>
        Reach("plugin names", toolSegments, from, static r => r.Name, null, PluginMonthsAsync, filter);

    /// <summary>
    /// Over one tool's plugin-month segments, grouped by (plugin name, version) as <see cref="PairGroup"/>, a
    /// missing or empty version under the code of "unknown" (the plugin page merges the three).
    /// </summary>
    public ReachIndex? PluginVersionReach(IReadOnlyList<MonthSegment<PluginMonthRow>> toolSegments, DateOnly from, ReachFilter filter)
    {
        var unknown = Codes.Code("unknown");
        var empty = Codes.Code("");
        return Reach("plugin versions", toolSegments, from, r => PairGroup(r.Name, r.Version == 0 || r.Version == empty ? unknown : r.Version), null,
            PluginMonthsAsync, filter);
    }

    /// <summary>
    /// Over one tool's installation-month segments, grouped by <paramref name="group"/>: <paramref name="name"/>
    /// names that grouping, and every caller that uses a name passes the same function.
    /// </summary>
    public ReachIndex? InstallationReach(string name, IReadOnlyList<MonthSegment<InstallationMonthRow>> toolSegments, DateOnly from,
        Func<InstallationMonthRow, long> group, ReachFilter filter) => Reach(name, toolSegments, from, group, null, InstallationFetch(toolSegments), filter);

    /// <summary>
    /// The indexes behind <c>/installations</c> over one tool's installation-month segments (see
    /// <see cref="InstallationIndexes"/>); null when any of them cannot be built.
    /// </summary>
    public InstallationIndexes? InstallationPageReach(IReadOnlyList<MonthSegment<InstallationMonthRow>> toolSegments, DateOnly from,
        InstallationDays[] firstDays, ReachFilter filter, bool successfulDays)
    {
        var rows = filter.IndexRows;
        var over = successfulDays ? " over successful days" : "";
        var span = Reach("installations by span" + rows, toolSegments, from, (s, f, days) => InstallationIndexes.BuildSpan(s, f, days!, filter), firstDays,
            InstallationFetch(toolSegments));
        var ok = Reach("installations by successful day" + rows, toolSegments, from, (s, f, days) => InstallationIndexes.BuildOk(s, f, days!, filter),
            firstDays, InstallationFetch(toolSegments));
        var cohorts = Reach("installations by cohort" + over + rows, toolSegments, from,
            (s, f, days) => InstallationIndexes.BuildCohorts(s, f, days!, filter, successfulDays), firstDays, InstallationFetch(toolSegments));
        var versions = Reach("installations by last version" + over + rows, toolSegments, from,
            (s, f, days) => InstallationIndexes.BuildVersions(s, f, days!, Codes, filter, successfulDays), firstDays, InstallationFetch(toolSegments));
        return span is null || ok is null || cohorts is null || versions is null ? null : new InstallationIndexes(span, ok, cohorts, versions, successfulDays);
    }

    /// <summary>Over one tool's command error-month segments (<see cref="ErrorMonthsAsync(string?, DateOnly, DateOnly, CancellationToken)"/>), grouped by (command, error type) as <see cref="PairGroup"/>.</summary>
    public ReachIndex? CommandErrorReach(IReadOnlyList<MonthSegment<ErrorMonthRow>> toolSegments, DateOnly from, ReachFilter filter) =>
        Reach(ErrorMonthTable, toolSegments, from, static r => PairGroup(r.Subject, r.ErrorType), null, ErrorMonthsAsync, filter);

    /// <summary>Over one tool's plugin error-month segments, grouped by (plugin name, error type) as <see cref="PairGroup"/>.</summary>
    public ReachIndex? PluginErrorReach(IReadOnlyList<MonthSegment<ErrorMonthRow>> toolSegments, DateOnly from, ReachFilter filter) =>
        Reach(PluginErrorMonthTable, toolSegments, from, static r => PairGroup(r.Subject, r.ErrorType), null, PluginErrorMonthsAsync, filter);

    /// <summary>Two codes as one group key (the first in the high half).</summary>
    public static long PairGroup(int first, int second) => ((long)first << 32) | (uint)second;

    /// <summary>The <see cref="ReachIndex"/> over one tool's plugin-month segments, grouped by <see cref="PluginGroup"/>.</summary>
    public ReachIndex? PluginReach(IReadOnlyList<MonthSegment<PluginMonthRow>> toolSegments, DateOnly from, ReachFilter filter) =>
        Reach(PluginTable, toolSegments, from, static r => PluginGroup(r.Name, r.Type), null, PluginMonthsAsync, filter);

    /// <summary>A plugin's (name, type) codes as one group key.</summary>
    public static long PluginGroup(int name, int type) => PairGroup(name, type);

    /// <summary>
    /// The <see cref="ReachIndex"/> named <paramref name="name"/> over one tool's segments: every caller that uses
    /// a name must pass the same <paramref name="group"/> function (the index is built by the first of them).
    /// An index is kept per (name, tool, first month it covers) for as long as the request's segments are the
    /// very ones it was built from (a reload replaces a segment object, so it rebuilds once after a change);
    /// the build is the walk a page did per request before, now once per change instead of per request.
    /// Null with rollups off (the rows are new for every request, so an index would cost more than the walk
    /// it saves) or when the segments span more than <see cref="ReachIndex.MaxDays"/>.
    /// An OS or tool-version <paramref name="filter"/> gets an index of its own over just the rows it keeps
    /// (<see cref="ReachFilter.IndexRows"/>), built on its first request and forgotten like any other when unused.
    /// </summary>
    private ReachIndex? Reach<T>(string name, IReadOnlyList<MonthSegment<T>> toolSegments, DateOnly from, Func<T, long> group,
        InstallationDays[]? firstDays, Func<string?, DateOnly, DateOnly, CancellationToken, Task<IReadOnlyList<MonthSegment<T>>>> fetch,
        ReachFilter filter)
        where T : struct, IMonthRow
    {
        var rowGroup = filter.Narrow(group);
        return Reach(name + filter.IndexRows, toolSegments, from, (segments, coversFrom, days) => ReachIndex.Build(segments, coversFrom, rowGroup, days),
            firstDays, fetch);
    }

    /// <summary>
    /// <see cref="Reach{T}(string, IReadOnlyList{MonthSegment{T}}, DateOnly, Func{T, long}, InstallationDays[], Func{string?, DateOnly, DateOnly, CancellationToken, Task{IReadOnlyList{MonthSegment{T}}}}, ReachFilter)"/>
    /// with the index made by <paramref name="build"/> from the segments, the first month and the first days
    /// (for indexes whose groups depend on the installation as a whole, not on one row).
    /// </summary>
    private ReachIndex? Reach<T>(string name, IReadOnlyList<MonthSegment<T>> toolSegments, DateOnly from,
        Func<IReadOnlyList<MonthSegment<T>>, DateOnly, InstallationDays[]?, ReachIndex> build,
        InstallationDays[]? firstDays, Func<string?, DateOnly, DateOnly, CancellationToken, Task<IReadOnlyList<MonthSegment<T>>>> fetch)
        where T : struct, IMonthRow
    {
        if (!rollups.Enabled || toolSegments.Count == 0)
        {
            return null;
        }
        var coversFrom = new DateOnly(from.Year, from.Month, 1);
        var last = toolSegments.Max(s => s.Month);
        if (!ReachIndex.CanSpan(coversFrom, last))
        {
            return null;
        }
        var tool = toolSegments[0].Tool;
        var key = (name, tool, coversFrom);
        if (_indexes.GetValueOrDefault(key) is { } entry && Matches(entry))
        {
            entry.UsedAt = _time.GetTimestamp();
            return entry.Index;
        }
        lock (_indexGates.GetOrAdd(key, _ => new Lock()))
        {
            if (_indexes.TryGetValue(key, out var built) && Matches(built))
            {
                built.UsedAt = _time.GetTimestamp();
                return built.Index;
            }
            var watch = System.Diagnostics.Stopwatch.StartNew();
            var index = build(toolSegments, coversFrom, firstDays);
            var through = last.AddMonths(1).AddDays(-1);
            var withFirstDays = firstDays is not null;
            _indexes[key] = new IndexEntry([.. toolSegments], firstDays, index, async ct =>
            {
                var segments = await fetch(tool, coversFrom, through, ct);
                Reach(name, segments, coversFrom, build, withFirstDays ? await InstallationDaysAsync(ct) : null, fetch);
            }) { UsedAt = _time.GetTimestamp() };
            Interlocked.Increment(ref _indexBuilds);
            Interlocked.Add(ref _indexBuildTicks, watch.Elapsed.Ticks);
            return index;
        }

        bool Matches(IndexEntry? entry) =>
            entry is not null && ReferenceEquals(entry.FirstDays, firstDays) && entry.Segments.Length == toolSegments.Count
            && entry.Segments.Select((s, i) => ReferenceEquals(s, toolSegments[i])).All(same => same);
    }

    /// <summary>
    /// Rebuilds the reach indexes that requests used in the last <paramref name="usedWithin"/> whose segments have
    /// changed (after a sync, so a request rarely waits for a build), and forgets those unused for longer.
    /// </summary>
    public async Task<int> RefreshIndexesAsync(TimeSpan usedWithin, CancellationToken ct)
    {
        var rebuilt = 0;
        foreach (var (key, entry) in _indexes)
        {
            if (_time.GetElapsedTime(entry.UsedAt) >= usedWithin)
            {
                _indexes.TryRemove(key, out _);
                continue;
            }
            var before = entry.Index;
            await entry.Rebuild(ct);
            rebuilt += _indexes.TryGetValue(key, out var now) && !ReferenceEquals(now.Index, before) ? 1 : 0;
        }
        return rebuilt;
    }

    private sealed record IndexEntry(object[] Segments, object? FirstDays, ReachIndex Index, Func<CancellationToken, Task> Rebuild)
    {
        /// <summary>When a request last read this index (a <see cref="TimeProvider.GetTimestamp"/>).</summary>
        public long UsedAt { get; set; }
    }

    private sealed record Loaded(object Segment, long Version, int Count, long LoadedAt);

    private sealed record LoadedDays(InstallationDays[] Days, (long Max, long Count) Stamp, long LoadedAt);
}
