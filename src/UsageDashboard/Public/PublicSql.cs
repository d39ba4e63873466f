using UsageDashboard.Rollups;

namespace UsageDashboard.Public;

/// <summary>The public pages' statements over the rollups (<c>@tool</c>, <c>@from_day</c>, <c>@to_day</c>, <c>@grain</c>, <c>@exclude_ci</c>, <c>@k</c>).</summary>
internal static class PublicSql
{
    /// <summary>
    /// Per bucket (and over the range, <c>whole</c> = 1): active installations, runs and outcomes, for buckets
    /// at least @k installations were active in; the range total covers those buckets only.
    /// </summary>
    public static string ToolSeries(string installationMonths, string runDays) => $"""
        WITH i AS MATERIALIZED (
            SELECT DISTINCT date_trunc(@grain, g)::date AS bucket, p.installation_key
            FROM generate_series(@from_day::timestamp, @to_day::timestamp, interval '1 day') g
            JOIN {installationMonths} p ON p.tool = @tool AND p.month = date_trunc('month', g)::date
                 AND (p.days & (1 << (extract(day FROM g)::integer - 1))) <> 0
            WHERE (NOT @exclude_ci OR NOT p.is_ci)
        ), pub AS (
            SELECT bucket FROM i GROUP BY 1 HAVING count(*) >= @k
        ), ri AS (
            SELECT i.bucket, GROUPING(i.bucket) AS whole, count(DISTINCT i.installation_key) AS installations
            FROM i JOIN pub ON pub.bucket = i.bucket
            GROUP BY GROUPING SETS ((i.bucket), ())
        ), rs AS (
            SELECT s.bucket, GROUPING(s.bucket) AS whole, sum(s.runs)::bigint AS runs, sum(s.succeeded)::bigint AS ok,
                   sum(s.succeeded + s.failed + s.aborted)::bigint AS judged
            FROM (SELECT date_trunc(@grain, d.day::timestamp)::date AS bucket, d.runs, d.succeeded, d.failed, d.aborted
                  FROM {runDays} d
                  WHERE d.tool = @tool AND d.day >= @from_day AND d.day <= @to_day AND (NOT @exclude_ci OR NOT d.is_ci)) s
            JOIN pub ON pub.bucket = s.bucket
            GROUP BY GROUPING SETS ((s.bucket), ())
        )
        SELECT ri.bucket, ri.whole, ri.installations, coalesce(rs.runs, 0), coalesce(rs.ok, 0), coalesce(rs.judged, 0)
        FROM ri LEFT JOIN rs ON rs.whole = ri.whole AND rs.bucket IS NOT DISTINCT FROM ri.bucket
        """;

    /// <summary>
    /// The most-run commands that at least @k installations used over the range. A command name is telemetry
    /// text and may itself say who runs it; under the threshold it is not shown at all.
    /// </summary>
    public static string Commands(string commandMonths, string commandDays) => $"""
        WITH c AS (
            SELECT p.command, count(DISTINCT p.installation_key) AS installations
            FROM {commandMonths} p
            WHERE p.tool = @tool AND {RollupSql.ActiveIn("p", "@from_day", "@to_day")} AND (NOT @exclude_ci OR NOT p.is_ci)
            GROUP BY 1
            HAVING count(DISTINCT p.installation_key) >= @k
        )
        SELECT c.command, c.installations, sum(d.runs)::bigint, sum(d.succeeded)::bigint, sum(d.succeeded + d.failed + d.aborted)::bigint
        FROM {commandDays} d JOIN c ON c.command = d.command
        WHERE d.tool = @tool AND d.day >= @from_day AND d.day <= @to_day AND (NOT @exclude_ci OR NOT d.is_ci)
        GROUP BY 1, 2
        ORDER BY 3 DESC, 1
        LIMIT @top
        """;
}
