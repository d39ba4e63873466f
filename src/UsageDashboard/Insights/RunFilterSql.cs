using Npgsql;

namespace UsageDashboard.Insights;

/// <summary>
/// Turns the dimension filters of an <see cref="InsightQuery"/> into SQL conditions on <c>runs</c>.
/// Values only ever travel as parameters; only fixed column names are written into the text.
/// </summary>
internal static class RunFilterSql
{
    /// <summary>
    /// Conditions (each starting with " AND ") for tool, env, os and version, runtime, runtime version and build
    /// environment (<see cref="Platform"/>): columns of <c>runs</c> and of every rollup.
    /// </summary>
    public static string Dimensions(InsightQuery query, NpgsqlCommand command, string alias = "r")
    {
        var sql = "";
        if (query.Tool is not null)
        {
            sql += $" AND {alias}.tool = @tool";
            command.Parameters.AddWithValue("tool", query.Tool);
        }
        sql += query.Environment switch
        {
            EnvironmentFilter.Ci => $" AND {alias}.is_ci",
            EnvironmentFilter.NotCi => $" AND NOT {alias}.is_ci",
            _ => "",
        };
        if (query.Os is not null)
        {
            sql += $" AND {alias}.os_name = @os";
            command.Parameters.AddWithValue("os", query.Os);
        }
        if (query.Version is not null)
        {
            sql += $" AND {alias}.tool_version = @version";
            command.Parameters.AddWithValue("version", query.Version);
        }
        return sql + Platform(query, command, alias);
    }

    /// <summary>
    /// Conditions for runtime, runtime version (the version or a sub-version, <see cref="InsightQuery.RuntimeVersionMatches"/>)
    /// and build environment on <paramref name="alias"/>.
    /// </summary>
    public static string Platform(InsightQuery query, NpgsqlCommand command, string alias = "r")
    {
        var sql = "";
        if (query.Runtime is not null)
        {
            sql += $" AND {alias}.runtime_name = @runtime";
            command.Parameters.AddWithValue("runtime", query.Runtime);
        }
        if (query.RuntimeVersion is not null)
        {
            sql += $" AND ({alias}.runtime_version = @runtime_version OR starts_with({alias}.runtime_version, @runtime_version || '.'))";
            command.Parameters.AddWithValue("runtime_version", query.RuntimeVersion);
        }
        if (query.ToolEnvironmentFilter is { } environment)
        {
            sql += $" AND {alias}.environment = @tool_environment";
            command.Parameters.AddWithValue("tool_environment", environment);
        }
        return sql;
    }

    /// <summary>
    /// Filters for <c>run_plugins rp</c>: tool and CI live on the row; OS and tool version need the run,
    /// so the join to <c>runs r</c> is added only when they are filtered on (or when asked for).
    /// </summary>
    public static (string Join, string Where) Plugins(InsightQuery query, NpgsqlCommand command, bool joinRuns = false)
    {
        var sql = "";
        if (query.Tool is not null)
        {
            sql += " AND rp.tool = @tool";
            command.Parameters.AddWithValue("tool", query.Tool);
        }
        sql += query.Environment switch
        {
            EnvironmentFilter.Ci => " AND rp.is_ci",
            EnvironmentFilter.NotCi => " AND NOT rp.is_ci",
            _ => "",
        };
        if (query.Os is not null)
        {
            sql += " AND r.os_name = @os";
            command.Parameters.AddWithValue("os", query.Os);
        }
        if (query.Version is not null)
        {
            sql += " AND r.tool_version = @version";
            command.Parameters.AddWithValue("version", query.Version);
        }
        var join = joinRuns || query.Os is not null || query.Version is not null ? " JOIN runs r ON r.id = rp.run_id" : "";
        return (join, sql);
    }

    public static bool HasDimensionFilters(InsightQuery query) =>
        query.Environment != EnvironmentFilter.All || query.Os is not null || query.Version is not null || query.HasPlatformFilter;
}
