using System.Collections.Concurrent;
using Npgsql;

namespace UsageDashboard.Insights;

/// <summary>A <c>rollup_feature_days</c> row: text as interned ids (-1 for NULL), the day as its day of the month.</summary>
internal readonly record struct FeatureDayRow(byte Day, int Key, int Value, bool IsCi, int Os, int ToolVersion, int Runtime, int RuntimeVersion,
    int Environment, int Runs, int Succeeded, int Failed, int Aborted);

/// <summary>A <c>rollup_feature_months</c> row: text as interned ids (-1 for NULL), active days as bits (bit 0 = the 1st).</summary>
internal readonly record struct FeatureMonthRow(int Installation, int Key, int Value, int Project, bool IsCi, int Os, int ToolVersion, int Runtime,
    int RuntimeVersion, int Environment, int Days);

/// <summary>
/// The feature rollups in memory, one segment per (table, month, tool) as <see cref="Rollups.RollupCache"/>
/// keeps the others, reloaded when the refresher bumps its version in <c>rollup_month_versions</c> (one indexed
/// query per read finds out). Distinct counts over a few hundred thousand month rows took PostgreSQL 0.2–0.5 s
/// per page on the 1M store (sorting text for <c>count(DISTINCT …)</c>); the same rows as int structs, filtered
/// and counted into hash sets of ids, take milliseconds (docs/scaling.md).
/// </summary>
public sealed class FeatureCache(NpgsqlDataSource dataSource, TimeProvider? time = null, TimeSpan? maxStaleness = null)
{
    private readonly TimeProvider _time = time ?? TimeProvider.System;

    /// <summary>
    /// A changed segment is reloaded at most this often (<c>Rollups:Cache:MaxStaleness</c>, as for the other
    /// rollups): under continuous ingest the current month's version moves at every refresh pass.
    /// </summary>
    private readonly TimeSpan _maxStaleness = maxStaleness ?? TimeSpan.Zero;

    internal const string DaysTable = "rollup_feature_days";
    internal const string MonthsTable = "rollup_feature_months";

    internal sealed record Segment(string Tool, DateOnly Month, long Version, FeatureDayRow[] Days, FeatureMonthRow[] Months, DateTimeOffset LoadedAt);

    private readonly ConcurrentDictionary<(string Table, DateOnly Month, string Tool), Segment> _segments = new();
    private readonly Lock _intern = new();
    private readonly Dictionary<string, int> _ids = new(StringComparer.Ordinal);
    private string[] _texts = new string[1024];
    private int _count;

    /// <summary>The id of <paramref name="text"/>, or -2 (matches no row) when no loaded row holds it; -1 for null.</summary>
    internal int Find(string? text)
    {
        if (text is null)
        {
            return -1;
        }
        lock (_intern)
        {
            return _ids.TryGetValue(text, out var id) ? id : -2;
        }
    }

    internal string Text(int id)
    {
        lock (_intern)
        {
            return _texts[id];
        }
    }

    private int Intern(NpgsqlDataReader reader, int ordinal)
    {
        if (reader.IsDBNull(ordinal))
        {
            return -1;
        }
        var text = reader.GetString(ordinal);
        lock (_intern)
        {
            if (_ids.TryGetValue(text, out var id))
            {
                return id;
            }
            if (_count == _texts.Length)
            {
                Array.Resize(ref _texts, _count * 2);
            }
            _texts[_count] = text;
            _ids[text] = _count;
            return _count++;
        }
    }

    /// <summary>
    /// The current segments of <paramref name="table"/> for <paramref name="tool"/> (every tool when null) whose
    /// months overlap [<paramref name="from"/>, <paramref name="to"/>]. The version is read before the rows, so
    /// a segment held is never older than its version says; a refresh in between costs one more reload.
    /// </summary>
    internal async Task<IReadOnlyList<Segment>> SegmentsAsync(string table, string? tool, DateOnly from, DateOnly to, CancellationToken ct)
    {
        await using var conn = await dataSource.OpenConnectionAsync(ct);
        var current = new List<(DateOnly Month, string Tool, long Version)>();
        await using (var cmd = new NpgsqlCommand("""
            SELECT month, tool, version FROM rollup_month_versions
            WHERE table_name = @table AND month >= @from AND month <= @to AND (@tool::text IS NULL OR tool = @tool)
            """, conn))
        {
            cmd.Parameters.AddWithValue("table", table);
            cmd.Parameters.AddWithValue("from", new DateOnly(from.Year, from.Month, 1));
            cmd.Parameters.AddWithValue("to", to);
            cmd.Parameters.Add(new NpgsqlParameter("tool", NpgsqlTypes.NpgsqlDbType.Text) { Value = (object?)tool ?? DBNull.Value });
            await using var reader = await cmd.ExecuteReaderAsync(ct);
            while (await reader.ReadAsync(ct))
            {
                current.Add((reader.GetFieldValue<DateOnly>(0), reader.GetString(1), reader.GetInt64(2)));
            }
        }
        var segments = new List<Segment>(current.Count);
        foreach (var (month, segmentTool, version) in current)
        {
            if (!_segments.TryGetValue((table, month, segmentTool), out var segment)
                || (segment.Version != version && _time.GetUtcNow() - segment.LoadedAt >= _maxStaleness))
            {
                segment = await LoadAsync(conn, table, segmentTool, month, version, ct);
                _segments[(table, month, segmentTool)] = segment;
            }
            segments.Add(segment);
        }
        return segments;
    }

    private async Task<Segment> LoadAsync(NpgsqlConnection conn, string table, string tool, DateOnly month, long version, CancellationToken ct)
    {
        var days = new List<FeatureDayRow>();
        var months = new List<FeatureMonthRow>();
        await using var cmd = new NpgsqlCommand(table == DaysTable
            ? """
              SELECT extract(day FROM day)::int, key, value, is_ci, os_name, tool_version, runtime_name, runtime_version, environment,
                     runs, succeeded, failed, aborted
              FROM rollup_feature_days WHERE tool = @tool AND day >= @month AND day < (@month + interval '1 month')::date
              """
            : """
              SELECT installation_key, key, value, project, is_ci, os_name, tool_version, runtime_name, runtime_version, environment, days
              FROM rollup_feature_months WHERE month = @month AND tool = @tool
              """, conn);
        cmd.Parameters.AddWithValue("tool", tool);
        cmd.Parameters.AddWithValue("month", month);
        await using var reader = await cmd.ExecuteReaderAsync(ct);
        while (await reader.ReadAsync(ct))
        {
            if (table == DaysTable)
            {
                days.Add(new FeatureDayRow((byte)reader.GetInt32(0), Intern(reader, 1), Intern(reader, 2), reader.GetBoolean(3), Intern(reader, 4),
                    Intern(reader, 5), Intern(reader, 6), Intern(reader, 7), Intern(reader, 8),
                    reader.GetInt32(9), reader.GetInt32(10), reader.GetInt32(11), reader.GetInt32(12)));
            }
            else
            {
                months.Add(new FeatureMonthRow(reader.GetInt32(0), Intern(reader, 1), Intern(reader, 2), Intern(reader, 3), reader.GetBoolean(4),
                    Intern(reader, 5), Intern(reader, 6), Intern(reader, 7), Intern(reader, 8), Intern(reader, 9), reader.GetInt32(10)));
            }
        }
        return new Segment(tool, month, version, [.. days], [.. months], _time.GetUtcNow());
    }

    /// <summary>
    /// Results already computed, per query shape, with the segments they were computed from: a page asked again
    /// while those segments stand gets the same figures without walking the month rows again (that walk grows with
    /// installations). A reloaded segment is a new object, so a result over an old one is never served.
    /// </summary>
    private readonly ConcurrentDictionary<object, (Segment[] Over, object Result)> _results = new();

    /// <summary>Past this many shapes the memo starts over: shapes come from query strings, so they must not grow without bound.</summary>
    internal const int MaxResults = 512;

    internal bool TryResult<T>(object shape, IReadOnlyList<Segment> segments, out T result) where T : class
    {
        if (_results.TryGetValue(shape, out var held) && held.Result is T found && SameSegments(held.Over, segments))
        {
            result = found;
            return true;
        }
        result = null!;
        return false;
    }

    internal void StoreResult(object shape, IReadOnlyList<Segment> segments, object result)
    {
        if (_results.Count >= MaxResults)
        {
            _results.Clear();
        }
        _results[shape] = ([.. segments], result);
    }

    private static bool SameSegments(Segment[] held, IReadOnlyList<Segment> current)
    {
        if (held.Length != current.Count)
        {
            return false;
        }
        // The version query has no order: compare as sets of objects (a handful of months and tools).
        foreach (var segment in current)
        {
            if (!held.Any(h => ReferenceEquals(h, segment)))
            {
                return false;
            }
        }
        return true;
    }

    /// <summary>Brings the segments of the last <paramref name="months"/> months of every tool up to date (the background sync).</summary>
    internal async Task SyncAsync(int months, DateOnly today, CancellationToken ct)
    {
        var from = new DateOnly(today.Year, today.Month, 1).AddMonths(1 - months);
        await SegmentsAsync(DaysTable, null, from, today, ct);
        await SegmentsAsync(MonthsTable, null, from, today, ct);
    }

    /// <summary>The bits of <paramref name="month"/>'s days that fall in [<paramref name="from"/>, <paramref name="to"/>] (as <c>rollup_day_mask</c>).</summary>
    internal static int Mask(DateOnly month, DateOnly from, DateOnly to)
    {
        var last = month.AddMonths(1).AddDays(-1);
        if (to < month || from > last)
        {
            return 0;
        }
        var first = from < month ? 1 : from.Day;
        var end = to > last ? last.Day : to.Day;
        return (int)((2L << (end - 1)) - (1L << (first - 1)));
    }
}

/// <summary>Keeps the warm months of <see cref="FeatureCache"/> loaded, so a page rarely waits for a reload.</summary>
public sealed class FeatureCacheSyncService(FeatureCache cache, TimeProvider time, Microsoft.Extensions.Options.IOptions<Rollups.RollupCacheOptions> options,
    ILogger<FeatureCacheSyncService> logger) : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(options.Value.SyncEvery, TimeProvider.System);
        do
        {
            try
            {
                await cache.SyncAsync(options.Value.WarmMonths, DateOnly.FromDateTime(time.GetUtcNow().UtcDateTime), stoppingToken);
            }
            catch (Exception e) when (e is not OperationCanceledException || !stoppingToken.IsCancellationRequested)
            {
                // The database may be down or not migrated yet; requests load what they need themselves.
                logger.LogWarning(e, "Feature cache sync failed; retrying at the next tick");
            }
        }
        while (await timer.WaitForNextTickAsync(stoppingToken));
    }
}
