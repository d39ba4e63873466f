using Npgsql;
using UsageDashboard.Rollups;

namespace UsageDashboard.Insights;

/// <summary>
/// Queries behind the overview page and its API. Reads the installation-day and command-day rollups
/// (see <see cref="RollupSource"/>) and <c>installations</c>.
/// </summary>
public sealed class OverviewService(NpgsqlDataSource dataSource, TimeProvider time, RollupSource rollups)
{
    public DateOnly Today => DateOnly.FromDateTime(time.GetUtcNow().UtcDateTime);

    public async Task<OverviewData> GetAsync(InsightQuery query, CancellationToken ct)
    {
        // The statements are independent scans: on their own connections they run side by side, one per
        // core, instead of one after another.
        var totals = TotalsAsync(query, ct);
        var daily = OnOwnConnectionAsync(conn => DailyAsync(conn, query, rollups, ct), ct);
        var previousDaily = query.ComparePrevious
            ? OnOwnConnectionAsync(conn => DailyAsync(conn, query with { From = query.PreviousPeriod.From, To = query.PreviousPeriod.To, Range = null }, rollups, ct), ct)
            : Task.FromResult<IReadOnlyList<DailyPoint>>([]);
        var commands = OnOwnConnectionAsync(conn => CommandsAsync(conn, query, rollups, 10, ct), ct);
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
        return await CommandsAsync(conn, query, rollups, limit, ct);
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
        var reach = OnOwnConnectionAsync(conn => ReachAsync(conn, query, rollups, filtered, ct), ct);
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
    /// Active installations per tool in both periods (one scan: the day masks split them); with filters
    /// also how many of them were first seen in each period.
    /// </summary>
    private static async Task<Dictionary<string, (long Current, long Previous, long NewCurrent, long NewPrevious)>> ReachAsync(
        NpgsqlConnection conn, InsightQuery query, RollupSource rollups, bool withNew, CancellationToken ct)
    {
        var (prevFrom, prevTo) = query.PreviousPeriod;
        await using var cmd = conn.CreateCommand();
        var filters = RunFilterSql.Dimensions(query, cmd, "m");
        var months = rollups.InstallationMonths(cmd, prevFrom, query.To);
        // Installations are counted by grouping first, a hash aggregate, where count(DISTINCT) would sort.
        var newCounts = withNew
            ? """
              count(*) FILTER (WHERE n.first_seen >= @from AND n.first_seen < @to),
              count(*) FILTER (WHERE n.first_seen >= @prev_from AND n.first_seen < @from)
              """
            : "0::bigint, 0::bigint";
        cmd.CommandText = $"""
            {InsightsSql.WorkMem}
            SELECT i.tool, count(*) FILTER (WHERE i.cur), count(*) FILTER (WHERE i.prev), {newCounts}
            FROM (
                SELECT m.tool, m.installation_key,
                       bool_or((m.days & rollup_day_mask(m.month, @from_day, @to_day)) <> 0) AS cur,
                       bool_or((m.days & rollup_day_mask(m.month, @prev_from_day, @prev_to_day)) <> 0) AS prev
                FROM {months} m
                WHERE {RollupSql.ActiveIn("m", "@prev_from_day", "@to_day")}{filters}
                GROUP BY m.tool, m.installation_key
            ) i
            {(withNew ? "LEFT JOIN installations n ON n.id = i.installation_key" : "")}
            GROUP BY i.tool;
            """;
        cmd.Parameters.AddWithValue("from_day", query.From);
        cmd.Parameters.AddWithValue("to_day", query.To);
        cmd.Parameters.AddWithValue("prev_from_day", prevFrom);
        cmd.Parameters.AddWithValue("prev_to_day", prevTo);
        cmd.Parameters.AddWithValue("from", query.FromUtc);
        cmd.Parameters.AddWithValue("to", query.ToUtcExclusive);
        cmd.Parameters.AddWithValue("prev_from", prevFrom.ToDateTime(TimeOnly.MinValue, DateTimeKind.Utc));
        var result = new Dictionary<string, (long, long, long, long)>(StringComparer.Ordinal);
        await using var reader = await cmd.ExecuteReaderAsync(ct);
        while (await reader.ReadAsync(ct))
        {
            result[reader.GetString(0)] = (reader.GetInt64(1), reader.GetInt64(2), reader.GetInt64(3), reader.GetInt64(4));
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

    private static async Task<IReadOnlyList<DailyPoint>> DailyAsync(NpgsqlConnection conn, InsightQuery query, RollupSource rollups, CancellationToken ct)
    {
        await using var cmd = conn.CreateCommand();
        var monthFilters = RunFilterSql.Dimensions(query, cmd, "m");
        var dayFilters = RunFilterSql.Dimensions(query, cmd, "d");
        var months = rollups.InstallationMonths(cmd, query.From, query.To);
        var days = rollups.RunDays(cmd, query.From, query.To);
        // Active installations per day: one mask per installation and month (its rows OR-ed), then per
        // month the sum of each day's bit, 31 sums in one pass instead of one row per installation-day.
        var bitSums = string.Join(", ", Enumerable.Range(0, 31).Select(b => $"sum((x.days >> {b}) & 1)::bigint"));
        cmd.CommandText = $"""
            SELECT x.month, {bitSums}
            FROM (
                SELECT m.month, bit_or(m.days) & rollup_day_mask(m.month, @from_day, @to_day) AS days
                FROM {months} m
                WHERE {RollupSql.ActiveIn("m", "@from_day", "@to_day")}{monthFilters}
                GROUP BY m.tool, m.installation_key, m.month
            ) x
            GROUP BY x.month;

            SELECT d.day, sum(d.runs)::bigint
            FROM {days} d
            WHERE d.day >= @from_day AND d.day <= @to_day{dayFilters}
            GROUP BY d.day;
            """;
        cmd.Parameters.AddWithValue("from_day", query.From);
        cmd.Parameters.AddWithValue("to_day", query.To);
        var active = new Dictionary<DateOnly, long>();
        var runs = new Dictionary<DateOnly, long>();
        await using (var reader = await cmd.ExecuteReaderAsync(ct))
        {
            while (await reader.ReadAsync(ct))
            {
                var month = reader.GetFieldValue<DateOnly>(0);
                for (var day = month; day.Month == month.Month; day = day.AddDays(1))
                {
                    active[day] = reader.GetInt64(day.Day);
                }
            }
            await reader.NextResultAsync(ct);
            while (await reader.ReadAsync(ct))
            {
                runs[reader.GetFieldValue<DateOnly>(0)] = reader.GetInt64(1);
            }
        }
        var byDay = new Dictionary<DateOnly, DailyPoint>();
        foreach (var day in active.Keys.Union(runs.Keys))
        {
            byDay[day] = new DailyPoint(day, active.GetValueOrDefault(day), runs.GetValueOrDefault(day));
        }
        // Days without runs are zeros, not gaps: a chart must not join across a silent day.
        var points = new List<DailyPoint>(query.Days);
        for (var day = query.From; day <= query.To; day = day.AddDays(1))
        {
            points.Add(byDay.GetValueOrDefault(day) ?? new DailyPoint(day, 0, 0));
        }
        return points;
    }

    private static async Task<IReadOnlyList<CommandRow>> CommandsAsync(NpgsqlConnection conn, InsightQuery query, RollupSource rollups, int limit, CancellationToken ct)
    {
        await using var cmd = conn.CreateCommand();
        var dayFilters = RunFilterSql.Dimensions(query, cmd, "d");
        var monthFilters = RunFilterSql.Dimensions(query, cmd, "m");
        var days = rollups.CommandDays(cmd, query.From, query.To);
        var months = rollups.CommandMonths(cmd, query.From, query.To);
        // The top commands by runs first (counts, no installations), then installations for just those.
        cmd.CommandText = $"""
            WITH top AS (
                SELECT d.tool, d.command, sum(d.runs)::bigint AS runs, sum(d.succeeded)::bigint AS ok,
                       sum(d.failed)::bigint AS failed, sum(d.aborted)::bigint AS aborted
                FROM {days} d
                WHERE d.day >= @from_day AND d.day <= @to_day{dayFilters}
                GROUP BY 1, 2
                ORDER BY 3 DESC, 1, 2
                LIMIT @limit
            ),
            reach AS (
                SELECT x.tool, x.command, count(*) AS installations
                FROM (
                    SELECT m.tool, m.command, m.installation_key
                    FROM {months} m
                    JOIN top t ON t.tool = m.tool AND t.command = m.command
                    WHERE {RollupSql.ActiveIn("m", "@from_day", "@to_day")}{monthFilters}
                    GROUP BY 1, 2, 3
                ) x
                GROUP BY 1, 2
            )
            SELECT t.tool, t.command, t.runs, t.ok, t.failed, t.aborted, coalesce(r.installations, 0)
            FROM top t
            LEFT JOIN reach r ON r.tool = t.tool AND r.command = t.command
            ORDER BY 3 DESC, 1, 2
            """;
        cmd.Parameters.AddWithValue("from_day", query.From);
        cmd.Parameters.AddWithValue("to_day", query.To);
        cmd.Parameters.AddWithValue("limit", limit);
        var rows = new List<CommandRow>();
        await using var reader = await cmd.ExecuteReaderAsync(ct);
        while (await reader.ReadAsync(ct))
        {
            rows.Add(new CommandRow(reader.GetString(0), reader.GetString(1), reader.GetInt64(2), reader.GetInt64(3),
                reader.GetInt64(4), reader.GetInt64(5), reader.GetInt64(6)));
        }
        return rows;
    }
}
