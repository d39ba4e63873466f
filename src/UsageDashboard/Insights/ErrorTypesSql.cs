using Npgsql;
using UsageDashboard.Rollups;

namespace UsageDashboard.Insights;

/// <summary>
/// The "error types" table of the command and plugin pages, from an error-day rollup (runs and the
/// latest failure per error type) and its error-month rollup (which installations hit it).
/// Installations are installation keys, i.e. (tool, installation id) pairs as in every other count on
/// these pages; the statements over <c>runs</c> this replaces counted bare installation ids, which
/// differ only where two tools report the same id for a command or plugin of the same name.
/// </summary>
internal static class ErrorTypesSql
{
    public const int Limit = 10;

    /// <summary>
    /// The most frequent error types of the subject (<c>d.{column} = @{parameter}</c>) in
    /// [@from_day, @to_day], most runs first; installations are counted for those types only.
    /// </summary>
    public static string Top(string days, string months, string column, string parameter, string dayFilters, string monthFilters) => $"""
        WITH counts AS (
            SELECT d.error_type, sum(d.runs)::bigint AS runs, max(d.last_at) AS last_at
            FROM {days} d
            WHERE d.day >= @from_day AND d.day <= @to_day AND d.{column} = @{parameter}{dayFilters}
            GROUP BY 1
            ORDER BY 2 DESC, 1
            LIMIT {Limit}
        ), reach AS (
            SELECT m.error_type, count(DISTINCT m.installation_key) AS installations
            FROM {months} m
            WHERE {RollupSql.ActiveIn("m", "@from_day", "@to_day")} AND m.{column} = @{parameter}
              AND m.error_type IN (SELECT error_type FROM counts){monthFilters}
            GROUP BY 1
        )
        SELECT c.error_type, c.runs, coalesce(r.installations, 0), c.last_at
        FROM counts c
        LEFT JOIN reach r ON r.error_type = c.error_type
        ORDER BY 2 DESC, 1;
        """;

    /// <summary>Reads the result of <see cref="Top"/>.</summary>
    public static async Task<List<ErrorTypeStats>> ReadAsync(NpgsqlDataReader reader, CancellationToken ct)
    {
        var errors = new List<ErrorTypeStats>();
        while (await reader.ReadAsync(ct))
        {
            errors.Add(new ErrorTypeStats(reader.GetString(0), reader.GetInt64(1), reader.GetInt64(2), reader.GetDateTime(3)));
        }
        return errors;
    }
}
