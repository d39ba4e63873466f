using Npgsql;
using UsageDashboard.Rollups;

namespace UsageDashboard.Insights;

/// <summary>
/// Queries behind the overview page and its API. Counts come from the run-day and command-day rollups
/// (see <see cref="RollupSource"/>), installations from the month rows held by <see cref="ReachCache"/>,
/// first sightings from <c>installations</c>.
/// </summary>
public sealed class OverviewService(NpgsqlDataSource dataSource, TimeProvider time, RollupSource rollups, ReachCache? reach = null)
{
    private readonly ReachCache _reach = reach ?? new ReachCache(dataSource, rollups);

    public DateOnly Today => DateOnly.FromDateTime(time.GetUtcNow().UtcDateTime);

    public async Task<OverviewData> GetAsync(InsightQuery query, CancellationToken ct)
    {
        // The statements are independent scans: on their own connections they run side by side, one per
        // core, instead of one after another.
        var totals = TotalsAsync(query, ct);
        var daily = OnOwnConnectionAsync(conn => DailyAsync(conn, query, ct), ct);
        var previousDaily = query.ComparePrevious
            ? OnOwnConnectionAsync(conn => DailyAsync(conn, query with { From = query.PreviousPeriod.From, To = query.PreviousPeriod.To, Range = null }, ct), ct)
            : Task.FromResult<IReadOnlyList<DailyPoint>>([]);
        var commands = OnOwnConnectionAsync(conn => CommandsAsync(conn, query, 10, ct), ct);
        var tools = OnOwnConnectionAsync(conn => InsightsSql.ToolsAsync(conn, ct), ct);
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

    public async Task<IReadOnlyList<CommandRow>> GetCommandsAsync(InsightQuery query, int limit, CancellationToken ct)
    {
        await using var conn = await dataSource.OpenConnectionAsync(ct);
        return await CommandsAsync(conn, query, limit, ct);
    }

    public async Task<IReadOnlyList<string>> GetToolsAsync(CancellationToken ct)
    {
        await using var conn = await dataSource.OpenConnectionAsync(ct);
        return await InsightsSql.ToolsAsync(conn, ct);
    }

    /// <summary>
    /// Headline numbers of both periods, overall and per tool (the overall numbers are the sums:
    /// installations are (tool, id) pairs). Three independent statements on their own connections, so
    /// they run side by side: installations from the month rollup, runs from the run-day rollup, and new
    /// installations from <c>installations</c> (unfiltered) or with the reach scan (filtered: new and
    /// active under the filters).
    /// </summary>
    private async Task<(PeriodTotals Current, PeriodTotals Previous, IReadOnlyList<ToolComparison> ByTool)> TotalsAsync(
        InsightQuery query, CancellationToken ct)
    {
        var filtered = RunFilterSql.HasDimensionFilters(query);
        var reach = ReachAsync(query, filtered, ct);
        var runs = OnOwnConnectionAsync(conn => RunTotalsAsync(conn, query, rollups, ct), ct);
        var unfilteredNew = filtered ? Task.FromResult((0L, 0L)) : OnOwnConnectionAsync(conn => NewInstallationsAsync(conn, query, ct), ct);
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
        var firstSeen = withNew ? OnOwnConnectionAsync(conn => FirstSeenAsync(conn, query, ct), ct) : Task.FromResult(new Dictionary<int, bool>());
        var segments = await _reach.InstallationMonthsAsync(query.Tool, prevFrom, query.To, ct);
        var filter = ReachFilter.For(query, _reach.Codes);
        var news = await firstSeen;
        var result = new Dictionary<string, (long, long, long, long)>(StringComparer.Ordinal);
        var periods = new Dictionary<int, int>();
        foreach (var tool in segments.GroupBy(s => s.Tool, StringComparer.Ordinal))
        {
            // Per installation: bit 0 = active in the current period, bit 1 = in the previous one.
            periods.Clear();
            foreach (var segment in tool)
            {
                var current = MonthMask.For(segment.Month, query.From, query.To);
                var previous = MonthMask.For(segment.Month, prevFrom, prevTo);
                foreach (var row in segment.Rows)
                {
                    var bits = ((row.Days & current) != 0 ? 1 : 0) | ((row.Days & previous) != 0 ? 2 : 0);
                    if (bits != 0 && filter.Matches(row.IsCi, row.OsName, row.ToolVersion))
                    {
                        periods[row.Key] = periods.GetValueOrDefault(row.Key) | bits;
                    }
                }
            }
            long cur = 0, prev = 0, newCur = 0, newPrev = 0;
            foreach (var (key, bits) in periods)
            {
                cur += bits & 1;
                prev += bits >> 1;
                if (news.TryGetValue(key, out var inCurrent))
                {
                    newCur += inCurrent ? 1 : 0;
                    newPrev += inCurrent ? 0 : 1;
                }
            }
            result[tool.Key] = (cur, prev, newCur, newPrev);
        }
        return result;
    }

    /// <summary>Installations first seen in either period: true when in the current one.</summary>
    private static async Task<Dictionary<int, bool>> FirstSeenAsync(NpgsqlConnection conn, InsightQuery query, CancellationToken ct)
    {
        await using var cmd = conn.CreateCommand();
        cmd.CommandText = $"""
            SELECT i.id, i.first_seen >= @from
            FROM installations i
            WHERE i.first_seen >= @prev_from AND i.first_seen < @to{(query.Tool is null ? "" : " AND i.tool = @tool")}
            """;
        if (query.Tool is not null)
        {
            cmd.Parameters.AddWithValue("tool", query.Tool);
        }
        InsightsSql.AddPeriod(cmd, query, previous: true);
        var result = new Dictionary<int, bool>();
        await using var reader = await cmd.ExecuteReaderAsync(ct);
        while (await reader.ReadAsync(ct))
        {
            result[reader.GetInt32(0)] = reader.GetBoolean(1);
        }
        return result;
    }

    /// <summary>Runs and outcomes per tool in both periods, from one scan of the run-day rollup.</summary>
    private static async Task<List<(string Tool, Outcomes Current, Outcomes Previous)>> RunTotalsAsync(
        NpgsqlConnection conn, InsightQuery query, RollupSource rollups, CancellationToken ct)
    {
        var (prevFrom, _) = query.PreviousPeriod;
        await using var cmd = conn.CreateCommand();
        var filters = RunFilterSql.Dimensions(query, cmd, "d");
        var days = rollups.RunDays(cmd, prevFrom, query.To);
        cmd.CommandText = $"""
            SELECT d.tool,
                   coalesce(sum(d.runs) FILTER (WHERE d.day >= @from_day), 0)::bigint,
                   coalesce(sum(d.succeeded) FILTER (WHERE d.day >= @from_day), 0)::bigint,
                   coalesce(sum(d.failed) FILTER (WHERE d.day >= @from_day), 0)::bigint,
                   coalesce(sum(d.aborted) FILTER (WHERE d.day >= @from_day), 0)::bigint,
                   coalesce(sum(d.runs) FILTER (WHERE d.day < @from_day), 0)::bigint,
                   coalesce(sum(d.succeeded) FILTER (WHERE d.day < @from_day), 0)::bigint,
                   coalesce(sum(d.failed) FILTER (WHERE d.day < @from_day), 0)::bigint,
                   coalesce(sum(d.aborted) FILTER (WHERE d.day < @from_day), 0)::bigint
            FROM {days} d
            WHERE d.day >= @prev_from_day AND d.day <= @to_day{filters}
            GROUP BY d.tool
            """;
        cmd.Parameters.AddWithValue("from_day", query.From);
        cmd.Parameters.AddWithValue("to_day", query.To);
        cmd.Parameters.AddWithValue("prev_from_day", prevFrom);
        var rows = new List<(string, Outcomes, Outcomes)>();
        await using var reader = await cmd.ExecuteReaderAsync(ct);
        while (await reader.ReadAsync(ct))
        {
            rows.Add((reader.GetString(0),
                new Outcomes(reader.GetInt64(1), reader.GetInt64(2), reader.GetInt64(3), reader.GetInt64(4)),
                new Outcomes(reader.GetInt64(5), reader.GetInt64(6), reader.GetInt64(7), reader.GetInt64(8))));
        }
        return rows;
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

    private async Task<IReadOnlyList<DailyPoint>> DailyAsync(NpgsqlConnection conn, InsightQuery query, CancellationToken ct)
    {
        var segments = _reach.InstallationMonthsAsync(query.Tool, query.From, query.To, ct);
        await using var cmd = conn.CreateCommand();
        var dayFilters = RunFilterSql.Dimensions(query, cmd, "d");
        var days = rollups.RunDays(cmd, query.From, query.To);
        cmd.CommandText = $"""
            SELECT d.day, sum(d.runs)::bigint
            FROM {days} d
            WHERE d.day >= @from_day AND d.day <= @to_day{dayFilters}
            GROUP BY d.day;
            """;
        cmd.Parameters.AddWithValue("from_day", query.From);
        cmd.Parameters.AddWithValue("to_day", query.To);
        var runs = new Dictionary<DateOnly, long>();
        await using (var reader = await cmd.ExecuteReaderAsync(ct))
        {
            while (await reader.ReadAsync(ct))
            {
                runs[reader.GetFieldValue<DateOnly>(0)] = reader.GetInt64(1);
            }
        }
        var active = ReachCounts.Daily(await segments, query.From, query.To, ReachFilter.For(query, _reach.Codes));
        // Days without runs are zeros, not gaps: a chart must not join across a silent day.
        var points = new List<DailyPoint>(query.Days);
        for (var day = query.From; day <= query.To; day = day.AddDays(1))
        {
            points.Add(new DailyPoint(day, active.GetValueOrDefault(day), runs.GetValueOrDefault(day)));
        }
        return points;
    }

    /// <summary>The top commands by runs (counts from the command-day rollup), then installations for just those.</summary>
    private async Task<IReadOnlyList<CommandRow>> CommandsAsync(NpgsqlConnection conn, InsightQuery query, int limit, CancellationToken ct)
    {
        var segments = _reach.CommandMonthsAsync(query.Tool, query.From, query.To, ct);
        await using var cmd = conn.CreateCommand();
        var dayFilters = RunFilterSql.Dimensions(query, cmd, "d");
        var days = rollups.CommandDays(cmd, query.From, query.To);
        cmd.CommandText = $"""
            SELECT d.tool, d.command, sum(d.runs)::bigint AS runs, sum(d.succeeded)::bigint AS ok,
                   sum(d.failed)::bigint AS failed, sum(d.aborted)::bigint AS aborted
            FROM {days} d
            WHERE d.day >= @from_day AND d.day <= @to_day{dayFilters}
            GROUP BY 1, 2
            ORDER BY 3 DESC, 1, 2
            LIMIT @limit
            """;
        cmd.Parameters.AddWithValue("from_day", query.From);
        cmd.Parameters.AddWithValue("to_day", query.To);
        cmd.Parameters.AddWithValue("limit", limit);
        var top = new List<(string Tool, string Command, long Runs, long Ok, long Failed, long Aborted)>();
        await using (var reader = await cmd.ExecuteReaderAsync(ct))
        {
            while (await reader.ReadAsync(ct))
            {
                top.Add((reader.GetString(0), reader.GetString(1), reader.GetInt64(2), reader.GetInt64(3), reader.GetInt64(4), reader.GetInt64(5)));
            }
        }
        // The rows are in memory first, so every command they hold has its code.
        var monthRows = await segments;
        var wanted = top.Select(t => _reach.Codes.Find(t.Command)).Where(c => c > 0).ToHashSet();
        var reach = ReachCounts.Distinct(monthRows, query.From, query.To, ReachFilter.For(query, _reach.Codes),
            (CommandMonthRow r) => wanted.Contains(r.Command) ? r.Command : -1);
        return top.Select(t => new CommandRow(t.Tool, t.Command, t.Runs, t.Ok, t.Failed, t.Aborted,
            reach.GetValueOrDefault((t.Tool, _reach.Codes.Find(t.Command))))).ToList();
    }
}
