using Npgsql;

namespace UsageDashboard.Insights;

/// <summary>
/// Turns the dimension filters of an <see cref="InsightQuery"/> into SQL conditions on <c>runs</c>.
/// Values only ever travel as parameters; only fixed column names are written into the text.
/// </summary>
internal static class RunFilterSql
{
    /// <summary>Conditions (each starting with " AND ") for tool, env, os and version.</summary>
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
        return sql;
    }

    public static bool HasDimensionFilters(InsightQuery query) =>
        query.Environment != EnvironmentFilter.All || query.Os is not null || query.Version is not null;
}
