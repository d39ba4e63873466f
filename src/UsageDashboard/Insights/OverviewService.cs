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
        var totals = OnOwnConnectionAsync(conn => TotalsAsync(conn, query, rollups, ct), ct);
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

    /// <summary>Headline numbers of both periods, overall and per tool, from one scan of installation-days.</summary>
    private static async Task<(PeriodTotals Current, PeriodTotals Previous, IReadOnlyList<ToolComparison> ByTool)> TotalsAsync(
        NpgsqlConnection conn, InsightQuery query, RollupSource rollups, CancellationToken ct)
    {
        var (prevFrom, _) = query.PreviousPeriod;
        await using var cmd = conn.CreateCommand();
        var filters = RunFilterSql.Dimensions(query, cmd, "d");
        var days = rollups.InstallationDays(cmd, prevFrom, query.To);
        var existsDays = RunFilterSql.HasDimensionFilters(query) ? rollups.InstallationDays(cmd, prevFrom, query.To) : "";
        // One scan covers both periods (FILTER splits them) and every tool (the overall numbers are the
        // sums: installations are (tool, id) pairs). Installations are counted by grouping first, a hash
        // aggregate, where count(DISTINCT) would sort every row.
        cmd.CommandText = $"""
            SELECT i.tool,
                   count(*) FILTER (WHERE i.cur_runs > 0), sum(i.cur_runs)::bigint,
                   sum(i.cur_ok)::bigint, sum(i.cur_failed)::bigint, sum(i.cur_aborted)::bigint,
                   count(*) FILTER (WHERE i.prev_runs > 0), sum(i.prev_runs)::bigint,
                   sum(i.prev_ok)::bigint, sum(i.prev_failed)::bigint, sum(i.prev_aborted)::bigint
            FROM (
                SELECT d.tool,
                       coalesce(sum(d.runs) FILTER (WHERE d.day >= @from_day), 0) AS cur_runs,
                       coalesce(sum(d.succeeded) FILTER (WHERE d.day >= @from_day), 0) AS cur_ok,
                       coalesce(sum(d.failed) FILTER (WHERE d.day >= @from_day), 0) AS cur_failed,
                       coalesce(sum(d.aborted) FILTER (WHERE d.day >= @from_day), 0) AS cur_aborted,
                       coalesce(sum(d.runs) FILTER (WHERE d.day < @from_day), 0) AS prev_runs,
                       coalesce(sum(d.succeeded) FILTER (WHERE d.day < @from_day), 0) AS prev_ok,
                       coalesce(sum(d.failed) FILTER (WHERE d.day < @from_day), 0) AS prev_failed,
                       coalesce(sum(d.aborted) FILTER (WHERE d.day < @from_day), 0) AS prev_aborted
                FROM {days} d
                WHERE d.day >= @prev_from_day AND d.day <= @to_day{filters}
                GROUP BY d.tool, d.installation_key
            ) i
            GROUP BY i.tool;

            SELECT count(*) FILTER (WHERE i.first_seen >= @from),
                   count(*) FILTER (WHERE i.first_seen < @from)
            FROM installations i
            WHERE i.first_seen >= @prev_from AND i.first_seen < @to{(query.Tool is null ? "" : " AND i.tool = @tool")}
            {(RunFilterSql.HasDimensionFilters(query)
                ? $"AND EXISTS (SELECT 1 FROM {existsDays} d WHERE d.installation_key = i.id AND d.day >= @prev_from_day AND d.day <= @to_day{filters})"
                : "")};
            """;
        cmd.Parameters.AddWithValue("from_day", query.From);
        cmd.Parameters.AddWithValue("to_day", query.To);
        cmd.Parameters.AddWithValue("prev_from_day", prevFrom);
        cmd.Parameters.AddWithValue("from", query.FromUtc);
        cmd.Parameters.AddWithValue("to", query.ToUtcExclusive);
        cmd.Parameters.AddWithValue("prev_from", prevFrom.ToDateTime(TimeOnly.MinValue, DateTimeKind.Utc));
        var byTool = new List<ToolComparison>();
        await using var reader = await cmd.ExecuteReaderAsync(ct);
        while (await reader.ReadAsync(ct))
        {
            byTool.Add(new ToolComparison(reader.GetString(0),
                reader.GetInt64(1), new Outcomes(reader.GetInt64(2), reader.GetInt64(3), reader.GetInt64(4), reader.GetInt64(5)),
                reader.GetInt64(6), new Outcomes(reader.GetInt64(7), reader.GetInt64(8), reader.GetInt64(9), reader.GetInt64(10))));
        }
        await reader.NextResultAsync(ct);
        await reader.ReadAsync(ct);
        var newCurrent = reader.GetInt64(0);
        var newPrevious = reader.GetInt64(1);
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

    private static async Task<IReadOnlyList<DailyPoint>> DailyAsync(NpgsqlConnection conn, InsightQuery query, RollupSource rollups, CancellationToken ct)
    {
        await using var cmd = conn.CreateCommand();
        var filters = RunFilterSql.Dimensions(query, cmd, "d");
        var days = rollups.InstallationDays(cmd, query.From, query.To);
        cmd.CommandText = $"""
            SELECT x.day, count(*), sum(x.runs)::bigint
            FROM (
                SELECT d.day, sum(d.runs) AS runs
                FROM {days} d
                WHERE d.day >= @from_day AND d.day <= @to_day{filters}
                GROUP BY d.day, d.installation_key
            ) x
            GROUP BY x.day
            """;
        cmd.Parameters.AddWithValue("from_day", query.From);
        cmd.Parameters.AddWithValue("to_day", query.To);
        var byDay = new Dictionary<DateOnly, DailyPoint>();
        await using (var reader = await cmd.ExecuteReaderAsync(ct))
        {
            while (await reader.ReadAsync(ct))
            {
                var day = reader.GetFieldValue<DateOnly>(0);
                byDay[day] = new DailyPoint(day, reader.GetInt64(1), reader.GetInt64(2));
            }
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
        var filters = RunFilterSql.Dimensions(query, cmd, "d");
        var days = rollups.CommandDays(cmd, query.From, query.To);
        cmd.CommandText = $"""
            SELECT c.tool, c.command, sum(c.runs)::bigint, sum(c.ok)::bigint, sum(c.failed)::bigint, sum(c.aborted)::bigint, count(*)
            FROM (
                SELECT d.tool, d.command, sum(d.runs) AS runs, sum(d.succeeded) AS ok, sum(d.failed) AS failed, sum(d.aborted) AS aborted
                FROM {days} d
                WHERE d.day >= @from_day AND d.day <= @to_day{filters}
                GROUP BY 1, 2, d.installation_key
            ) c
            GROUP BY 1, 2
            ORDER BY 3 DESC, 1, 2
            LIMIT @limit
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
