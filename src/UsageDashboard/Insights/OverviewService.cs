using Npgsql;
using UsageDashboard.Rollups;

namespace UsageDashboard.Insights;

/// <summary>
/// Queries behind the overview page and its API. Counts come from the run-day and command-day rollups
/// (see <see cref="RollupSource"/>), installations from the month rows held by <see cref="RollupCache"/>,
/// first sightings from <c>installations</c> (a count) or, with filters, from the first days the cache holds.
/// </summary>
public sealed class OverviewService(NpgsqlDataSource dataSource, TimeProvider time, RollupSource rollups, RollupCache? cache = null)
{
    private readonly RollupCache _cache = cache ?? new RollupCache(dataSource, rollups);

    public DateOnly Today => DateOnly.FromDateTime(time.GetUtcNow().UtcDateTime);

    public async Task<OverviewData> GetAsync(InsightQuery query, CancellationToken ct)
    {
        // Independent parts, started together: counts and reach from the in-memory rollup rows, first
        // sightings and the tool list by small statements on their own connections.
        var totals = TotalsAsync(query, ct);
        var daily = DailyAsync(query, ct);
        var previousDaily = query.ComparePrevious
            ? DailyAsync(query with { From = query.PreviousPeriod.From, To = query.PreviousPeriod.To, Range = null }, ct)
            : Task.FromResult<IReadOnlyList<DailyPoint>>([]);
        var commands = CommandsAsync(query, 10, ct);
        var tools = InsightsSql.ToolsAsync(dataSource, ct);
        await Task.WhenAll(totals, daily, previousDaily, commands, tools);
        var (current, previous, byTool) = await totals;
        return new OverviewData(query, Today, current, previous, await daily, await commands, await tools)
        {
            PreviousDaily = await previousDaily,
            ToolComparison = query.Tool is null ? byTool : [],
        };
    }

    private async Task<T> OnOwnConnectionAsync<T>(Func<NpgsqlConnection, Task<T>> query, CancellationToken ct)
    {
        await using var conn = await dataSource.OpenConnectionAsync(ct);
        return await query(conn);
    }

    public Task<IReadOnlyList<CommandRow>> GetCommandsAsync(InsightQuery query, int limit, CancellationToken ct) => CommandsAsync(query, limit, ct);

    public Task<IReadOnlyList<string>> GetToolsAsync(CancellationToken ct) => InsightsSql.ToolsAsync(dataSource, ct);

    /// <summary>
    /// Headline numbers of both periods, overall and per tool (the overall numbers are the sums:
    /// installations are (tool, id) pairs), from three independent parts started together: installations
    /// from the in-memory month rows, runs from the in-memory run-day rows, and new installations from
    /// <c>installations</c> (unfiltered: a count; filtered: the cached first days of the installations
    /// active under the filters).
    /// </summary>
    private async Task<(PeriodTotals Current, PeriodTotals Previous, IReadOnlyList<ToolComparison> ByTool)> TotalsAsync(
        InsightQuery query, CancellationToken ct)
    {
        var filtered = RunFilterSql.HasDimensionFilters(query);
        var reach = ReachAsync(query, filtered, ct);
        var runs = RunTotalsAsync(query, ct);
        var unfilteredNew = filtered ? Task.FromResult((0L, 0L))
            : _cache.HoldsRows ? NewInstallationsFromDaysAsync(query, ct)
            : OnOwnConnectionAsync(conn => NewInstallationsAsync(conn, query, ct), ct);
        await Task.WhenAll(reach, runs, unfilteredNew);
        var installations = await reach;
        var byTool = (await runs).Select(r =>
        {
            var i = installations.GetValueOrDefault(r.Tool);
            return new ToolComparison(r.Tool, i.Current, r.Current, i.Previous, r.Previous);
        }).ToList();
        var (newCurrent, newPrevious) = filtered
            ? (installations.Values.Sum(i => i.NewCurrent), installations.Values.Sum(i => i.NewPrevious))
            : await unfilteredNew;
        var current = new PeriodTotals(byTool.Sum(t => t.ActiveInstallations), newCurrent, byTool.Sum(t => t.Current.Runs),
            byTool.Sum(t => t.Current.Succeeded), byTool.Sum(t => t.Current.Failed), byTool.Sum(t => t.Current.Aborted));
        var previous = new PeriodTotals(byTool.Sum(t => t.PreviousActiveInstallations), newPrevious, byTool.Sum(t => t.Previous.Runs),
            byTool.Sum(t => t.Previous.Succeeded), byTool.Sum(t => t.Previous.Failed), byTool.Sum(t => t.Previous.Aborted));
        // Busiest tools first, as the comparison table shows them; tools without runs this period are left out.
        byTool.RemoveAll(t => t.Current.Runs == 0 && t.Previous.Runs == 0);
        byTool.Sort((a, b) => b.ActiveInstallations != a.ActiveInstallations
            ? b.ActiveInstallations.CompareTo(a.ActiveInstallations)
            : b.Current.Runs != a.Current.Runs ? b.Current.Runs.CompareTo(a.Current.Runs) : string.CompareOrdinal(a.Tool, b.Tool));
        return (current, previous, byTool);
    }

    /// <summary>
    /// Active installations per tool in both periods, from the in-memory month rows (one pass: the day
    /// masks split the periods); with filters also how many of them were first seen in each period.
    /// </summary>
    private async Task<Dictionary<string, (long Current, long Previous, long NewCurrent, long NewPrevious)>> ReachAsync(
        InsightQuery query, bool withNew, CancellationToken ct)
    {
        var (prevFrom, prevTo) = query.PreviousPeriod;
        // First sightings from the days the cache holds for /installations (no statement of its own); the
        // reach index is built with them.
        var firstSeen = withNew || _cache.HoldsRows ? _cache.InstallationDaysAsync(ct) : Task.FromResult<InstallationDays[]>([]);
        var segments = await _cache.InstallationMonthsOfViewAsync(query, prevFrom, query.To, ct);
        var filter = ReachFilter.For(query, _cache.Codes);
        var firstDays = await firstSeen;
        var result = new Dictionary<string, (long, long, long, long)>(StringComparer.Ordinal);
        foreach (var tool in segments.GroupBy(s => s.Tool, StringComparer.Ordinal))
        {
            if (filter.IndexStream is { } stream && _cache.InstallationReach([.. tool], prevFrom, firstDays, filter) is { } index
                && index.Covers(prevFrom, query.To) && (!withNew || index.CanCountNew))
            {
                result[tool.Key] = (index.DistinctOf(stream, 0, query.From, query.To), index.DistinctOf(stream, 0, prevFrom, prevTo),
                    withNew ? index.New(stream, 0, query.From, query.To) : 0, withNew ? index.New(stream, 0, prevFrom, prevTo) : 0);
                continue;
            }
            // One installation at a time across the months: bit 0 = active in the current period, bit 1 = in the previous one.
            var merge = new KeyMerge<InstallationMonthRow>(tool);
            var current = merge.Segments.Select(s => MonthMask.For(s.Month, query.From, query.To)).ToArray();
            var previous = merge.Segments.Select(s => MonthMask.For(s.Month, prevFrom, prevTo)).ToArray();
            long cur = 0, prev = 0, newCur = 0, newPrev = 0;
            while (merge.MoveNext())
            {
                var bits = 0;
                for (var p = 0; p < merge.Parts && bits != 3; p++)
                {
                    var (c, pr) = (current[merge.SegmentOf(p)], previous[merge.SegmentOf(p)]);
                    foreach (var row in merge.Rows(p))
                    {
                        var b = ((row.Days & c) != 0 ? 1 : 0) | ((row.Days & pr) != 0 ? 2 : 0);
                        if (b != 0 && filter.Matches(in row))
                        {
                            bits |= b;
                        }
                    }
                }
                if (bits == 0)
                {
                    continue;
                }
                cur += bits & 1;
                prev += bits >> 1;
                var first = merge.Key < firstDays.Length ? firstDays[merge.Key].First : 0;
                newCur += first >= query.From.DayNumber && first <= query.To.DayNumber ? 1 : 0;
                newPrev += first >= prevFrom.DayNumber && first < query.From.DayNumber ? 1 : 0;
            }
            result[tool.Key] = (cur, prev, newCur, newPrev);
        }
        return result;
    }

    /// <summary>Runs and outcomes per tool in both periods, from one pass over the in-memory run-day rows.</summary>
    private async Task<List<(string Tool, Outcomes Current, Outcomes Previous)>> RunTotalsAsync(InsightQuery query, CancellationToken ct)
    {
        var (prevFrom, prevTo) = query.PreviousPeriod;
        // The filter after the rows: codes exist once every row is in memory.
        var loaded = await _cache.RunDaysAsync(query.Tool, prevFrom, query.To, ct);
        var filter = ReachFilter.For(query, _cache.Codes);
        var segments = Collapse.RunDays.For(loaded, filter, _cache);
        var tallies = new Dictionary<string, (Tally Current, Tally Previous)>(StringComparer.Ordinal);
        foreach (var segment in segments)
        {
            foreach (var row in segment.Rows)
            {
                var current = ReachCounts.InRange(segment.Month, row.Day, query.From, query.To);
                if ((!current && !ReachCounts.InRange(segment.Month, row.Day, prevFrom, prevTo)) || !filter.Matches(in row))
                {
                    continue;
                }
                if (!tallies.TryGetValue(segment.Tool, out var t))
                {
                    tallies[segment.Tool] = t = (new Tally(), new Tally());
                }
                (current ? t.Current : t.Previous).Add(row.Runs, row.Succeeded, row.Failed, row.Aborted);
            }
        }
        return tallies.Select(t => (t.Key, t.Value.Current.ToOutcomes(), t.Value.Previous.ToOutcomes())).ToList();
    }

    /// <summary>
    /// <see cref="NewInstallationsAsync"/> from the first days the cache holds (<see cref="RollupCache.InstallationDaysAsync"/>):
    /// the statement read every installation first seen since the previous period began (14.7 ms on the 10M store's
    /// 97k installations, on the overview's critical path), this is a pass over an array already in memory.
    /// </summary>
    private async Task<(long Current, long Previous)> NewInstallationsFromDaysAsync(InsightQuery query, CancellationToken ct)
    {
        var days = await _cache.InstallationDaysAsync(ct);
        var tool = query.Tool is null ? 0 : _cache.Codes.Find(query.Tool);
        if (tool < 0)
        {
            return (0, 0);
        }
        var (from, to, prevFrom) = (query.From.DayNumber, query.To.DayNumber, query.PreviousPeriod.From.DayNumber);
        long current = 0, previous = 0;
        foreach (var d in days)
        {
            if (d.Known && (tool == 0 || d.Tool == tool) && d.First >= prevFrom && d.First <= to)
            {
                if (d.First >= from)
                {
                    current++;
                }
                else
                {
                    previous++;
                }
            }
        }
        return (current, previous);
    }

    /// <summary>Installations first seen in each period (no dimension filters: any installation of the tool).</summary>
    private static async Task<(long Current, long Previous)> NewInstallationsAsync(NpgsqlConnection conn, InsightQuery query, CancellationToken ct)
    {
        await using var cmd = conn.CreateCommand();
        cmd.CommandText = $"""
            SELECT count(*) FILTER (WHERE i.first_seen >= @from), count(*) FILTER (WHERE i.first_seen < @from)
            FROM installations i
            WHERE i.first_seen >= @prev_from AND i.first_seen < @to{(query.Tool is null ? "" : " AND i.tool = @tool")}
            """;
        if (query.Tool is not null)
        {
            cmd.Parameters.AddWithValue("tool", query.Tool);
        }
        cmd.Parameters.AddWithValue("from", query.FromUtc);
        cmd.Parameters.AddWithValue("to", query.ToUtcExclusive);
        cmd.Parameters.AddWithValue("prev_from", query.PreviousPeriod.From.ToDateTime(TimeOnly.MinValue, DateTimeKind.Utc));
        await using var reader = await cmd.ExecuteReaderAsync(ct);
        await reader.ReadAsync(ct);
        return (reader.GetInt64(0), reader.GetInt64(1));
    }

    private async Task<IReadOnlyList<DailyPoint>> DailyAsync(InsightQuery query, CancellationToken ct)
    {
        var reach = _cache.InstallationMonthsOfViewAsync(query, query.From, query.To, ct);
        // The filter after the rows: codes exist once every row is in memory.
        var loaded = await _cache.RunDaysAsync(query.Tool, query.From, query.To, ct);
        var filter = ReachFilter.For(query, _cache.Codes);
        var days = Collapse.RunDays.For(loaded, filter, _cache);
        var runs = new long[query.Days];
        foreach (var segment in days)
        {
            foreach (var row in segment.Rows)
            {
                var i = segment.Month.DayNumber + row.Day - query.From.DayNumber;
                if (i >= 0 && i < runs.Length && filter.Matches(in row))
                {
                    runs[i] += row.Runs;
                }
            }
        }
        var active = await DailyActiveAsync(await reach, query, filter, ct);
        // Days without runs are zeros, not gaps: a chart must not join across a silent day.
        var points = new List<DailyPoint>(query.Days);
        for (var day = query.From; day <= query.To; day = day.AddDays(1))
        {
            points.Add(new DailyPoint(day, active.GetValueOrDefault(day), runs[day.DayNumber - query.From.DayNumber]));
        }
        return points;
    }

    /// <summary>Active installations per day: from each tool's reach index where the filter allows, else by walking the rows.</summary>
    private async Task<Dictionary<DateOnly, long>> DailyActiveAsync(IReadOnlyList<MonthSegment<InstallationMonthRow>> segments, InsightQuery query,
        ReachFilter filter, CancellationToken ct)
    {
        if (filter.IndexStream is not { } stream)
        {
            return ReachCounts.Daily(segments, query.From, query.To, filter);
        }
        var result = new Dictionary<DateOnly, long>();
        var walk = new List<MonthSegment<InstallationMonthRow>>();
        var firstDays = _cache.HoldsRows ? await _cache.InstallationDaysAsync(ct) : [];
        foreach (var tool in segments.GroupBy(s => s.Tool, StringComparer.Ordinal))
        {
            var index = _cache.InstallationReach([.. tool], query.From, firstDays, filter);
            if (index is null || !index.Covers(query.From, query.To))
            {
                walk.AddRange(tool);
                continue;
            }
            var daily = index.Daily(stream, 0, query.From, query.To);
            for (var i = 0; i < daily.Length; i++)
            {
                if (daily[i] > 0)
                {
                    var day = query.From.AddDays(i);
                    result[day] = result.GetValueOrDefault(day) + daily[i];
                }
            }
        }
        foreach (var (day, count) in walk.Count == 0 ? [] : ReachCounts.Daily(walk, query.From, query.To, filter))
        {
            result[day] = result.GetValueOrDefault(day) + count;
        }
        return result;
    }

    /// <summary>The top commands by runs (counts from the command-day rows), then installations for just those.</summary>
    private async Task<IReadOnlyList<CommandRow>> CommandsAsync(InsightQuery query, int limit, CancellationToken ct)
    {
        var months = _cache.CommandMonthsAsync(query.Tool, query.From, query.To, ct);
        // The filter after the rows: codes exist once every row is in memory.
        var loaded = await _cache.CommandDaysAsync(query.Tool, query.From, query.To, ct);
        var filter = ReachFilter.For(query, _cache.Codes);
        var days = Collapse.CommandDays.For(loaded, filter, _cache);
        var tallies = new Dictionary<(string Tool, int Command), Tally>();
        foreach (var segment in days)
        {
            foreach (var row in segment.Rows)
            {
                if (ReachCounts.InRange(segment.Month, row.Day, query.From, query.To) && filter.Matches(in row))
                {
                    if (!tallies.TryGetValue((segment.Tool, row.Command), out var t))
                    {
                        tallies[(segment.Tool, row.Command)] = t = new Tally();
                    }
                    t.Add(row.Runs, row.Succeeded, row.Failed, row.Aborted);
                }
            }
        }
        var codes = _cache.Codes;
        var top = tallies
            .OrderByDescending(t => t.Value.Runs).ThenBy(t => t.Key.Tool, StringComparer.Ordinal)
            .ThenBy(t => codes.Text(t.Key.Command), StringComparer.Ordinal)
            .Take(limit).ToList();
        // The top commands by code: an array probe per row, not a hash lookup.
        var wanted = new bool[top.Count == 0 ? 0 : top.Max(t => t.Key.Command) + 1];
        foreach (var t in top)
        {
            wanted[t.Key.Command] = true;
        }
        var reach = ReachCounts.Distinct(await months, query.From, query.To, ReachFilter.For(query, codes),
            (CommandMonthRow r) => r.Command < wanted.Length && wanted[r.Command] ? r.Command : -1,
            (tool, f) => _cache.CommandReach(tool, query.From, f), key => key < wanted.Length && wanted[key] ? (int)key : -1);
        return top.Select(t => new CommandRow(t.Key.Tool, codes.Text(t.Key.Command)!, t.Value.Runs, t.Value.Succeeded, t.Value.Failed,
            t.Value.Aborted, reach.GetValueOrDefault(t.Key))).ToList();
    }
}
