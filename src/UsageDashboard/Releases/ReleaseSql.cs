namespace UsageDashboard.Releases;

/// <summary>
/// The statements behind release diffs, parameterised (<c>@tool</c>, <c>@exclude_ci</c>, and each one's
/// own). Relations in braces are <see cref="Rollups.RollupSource"/>'s: the rollup tables, or their defining
/// aggregate over runs when rollups are off.
/// </summary>
internal static class ReleaseSql
{
    /// <summary>"All time" for the day rollups: no telemetry predates it.</summary>
    public static readonly DateOnly Epoch = new(2000, 1, 1);

    private const string NotCi = "(NOT @exclude_ci OR NOT {0}.is_ci)";

    private static string Ci(string alias) => string.Format(System.Globalization.CultureInfo.InvariantCulture, NotCi, alias);

    /// <summary>One tool version over [@from_day, @to_day]: cells, then error types, then plugin outcomes.</summary>
    public static string ToolSide(string commandDays, string errorDays, string pluginDays) => $"""
        SELECT c.os_name, c.runtime_name, c.runtime_version, c.command,
               sum(c.succeeded + c.failed + c.aborted)::bigint, sum(c.failed + c.aborted)::bigint
        FROM {commandDays} c
        WHERE c.tool = @tool AND c.tool_version = @version AND c.day >= @from_day AND c.day <= @to_day AND {Ci("c")}
        GROUP BY 1, 2, 3, 4;
        SELECT e.error_type, sum(e.runs)::bigint
        FROM {errorDays} e
        WHERE e.tool = @tool AND e.tool_version = @version AND e.day >= @from_day AND e.day <= @to_day AND {Ci("e")}
        GROUP BY 1;
        SELECT p.name, sum(p.succeeded + p.failed + p.aborted)::bigint, sum(p.failed + p.aborted)::bigint
        FROM {pluginDays} p
        WHERE p.tool = @tool AND p.tool_version = @version AND p.day >= @from_day AND p.day <= @to_day AND {Ci("p")}
        GROUP BY 1;
        """;

    /// <summary>
    /// One plugin (a version, or all when @version is null) over [@from_at, @to_at): its own outcomes per
    /// cell of its runs, then the runs' error types where the plugin failed.
    /// </summary>
    public static readonly string PluginSide = $"""
        SELECT r.os_name, r.runtime_name, r.runtime_version, coalesce(r.command, '(none)'),
               count(*) FILTER (WHERE rp.status IN ('succeeded', 'failed', 'aborted')), count(*) FILTER (WHERE rp.status IN ('failed', 'aborted'))
        FROM run_plugins rp
        JOIN runs r ON r.id = rp.run_id
        WHERE rp.tool = @tool AND rp.name = @name AND (@version IS NULL OR rp.version = @version)
          AND rp.occurred_at >= @from_at AND rp.occurred_at < @to_at AND {Ci("rp")}
        GROUP BY 1, 2, 3, 4;
        SELECT coalesce(r.error_type, '(not reported)'), count(*)
        FROM run_plugins rp
        JOIN runs r ON r.id = rp.run_id
        WHERE rp.tool = @tool AND rp.name = @name AND (@version IS NULL OR rp.version = @version)
          AND rp.occurred_at >= @from_at AND rp.occurred_at < @to_at AND rp.status IN ('failed', 'aborted') AND {Ci("rp")}
        GROUP BY 1;
        """;

    /// <summary>A month row's day bit for day <c>d</c>.</summary>
    private const string DayBit = "(1 << (extract(day FROM d)::integer - 1))";

    /// <summary>Per day: distinct installations on @version, and on the tool at all.</summary>
    public static string ToolAdoption(string installationMonths) => $"""
        SELECT d::date, count(DISTINCT m.installation_key) FILTER (WHERE m.tool_version = @version), count(DISTINCT m.installation_key)
        FROM generate_series(@from_day::timestamp, @to_day::timestamp, interval '1 day') d
        JOIN {installationMonths} m ON m.tool = @tool AND m.month = date_trunc('month', d)::date AND (m.days & {DayBit}) <> 0
        WHERE {Ci("m")}
        GROUP BY 1 ORDER BY 1
        """;

    /// <summary>Per day: distinct installations on @version of plugin @name, and on the plugin at all.</summary>
    public static string PluginAdoption(string pluginMonths) => $"""
        SELECT d::date, count(DISTINCT m.installation_key) FILTER (WHERE m.version = @version), count(DISTINCT m.installation_key)
        FROM generate_series(@from_day::timestamp, @to_day::timestamp, interval '1 day') d
        JOIN {pluginMonths} m ON m.tool = @tool AND m.name = @name AND m.month = date_trunc('month', d)::date AND (m.days & {DayBit}) <> 0
        WHERE {Ci("m")}
        GROUP BY 1 ORDER BY 1
        """;

    /// <summary>The first day of a month row's lowest day bit, and the last of its highest.</summary>
    private const string FirstDay = "(m.month + floor(log(2, (m.days & -m.days)::numeric))::integer)";
    private const string LastDay = "(m.month + floor(log(2, m.days::numeric))::integer)";

    /// <summary>
    /// Installations that ran @version, and how many of them ran one of @older on a later UTC day (a
    /// rollback; the same day cannot be ordered at the month rollups' day grain, so it does not count).
    /// </summary>
    public static string ToolRollback(string installationMonths) => Rollback(installationMonths, "m.tool_version", "");

    public static string PluginRollback(string pluginMonths) => Rollback(pluginMonths, "m.version", "AND m.name = @name");

    private static string Rollback(string months, string versionColumn, string filter) => $"""
        WITH n AS (
            SELECT m.installation_key, min({FirstDay}) AS first_day
            FROM {months} m
            WHERE m.tool = @tool {filter} AND {versionColumn} = @version AND m.days <> 0 AND {Ci("m")}
            GROUP BY 1
        ), o AS (
            SELECT m.installation_key, max({LastDay}) AS last_day
            FROM {months} m
            WHERE m.tool = @tool {filter} AND {versionColumn} = ANY(@older) AND m.days <> 0 AND {Ci("m")}
            GROUP BY 1
        )
        SELECT count(*), count(*) FILTER (WHERE o.last_day > n.first_day)
        FROM n LEFT JOIN o ON o.installation_key = n.installation_key
        """;
}
