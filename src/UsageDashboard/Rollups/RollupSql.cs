namespace UsageDashboard.Rollups;

/// <summary>
/// What each rollup holds, written once as the aggregate over <c>runs r</c> (and <c>run_plugins rp</c>)
/// that defines it. The same text builds the tables (a slice at a time, or everything after a bulk load)
/// and, when rollups are switched off, stands in for them as a subquery, so "the rollup equals the raw
/// aggregate" is true by construction of the SQL and checked against the data by the exactness tests.
/// A rollup row belongs to the UTC day of its run's <c>occurred_at</c>.
/// </summary>
internal static class RollupSql
{
    /// <summary>The UTC day of <c>r.occurred_at</c>; the only day expression rollups and pages use.</summary>
    public const string RunDay = "(r.occurred_at AT TIME ZONE 'UTC')::date";

    private const string Outcomes = """
        count(*)::int AS runs,
        count(*) FILTER (WHERE r.status = 'succeeded')::int AS succeeded,
        count(*) FILTER (WHERE r.status = 'failed')::int AS failed,
        count(*) FILTER (WHERE r.status = 'aborted')::int AS aborted
        """;

    /// <summary>
    /// Log-scale duration bucket: <c>floor(8·log2(ms + 1))</c>, so each bucket is 2^(1/8) ≈ 9 % wide and a
    /// percentile read from it is within about 4.5 % of the exact one. <see cref="DurationHistogram"/> inverts it.
    /// </summary>
    public const string DurationBucket = "floor(ln(r.duration_ms + 1.0) * 11.541560327111707)::smallint";

    /// <summary>
    /// Rollups name an installation by <c>installations.id</c>, a dense integer: hashing and comparing it
    /// is several times cheaper than (tool, installation_id) text pairs in every distinct count.
    /// </summary>
    private const string JoinInstallation = "JOIN installations i ON i.tool = r.tool AND i.installation_id = r.installation_id";

    public const string InstallationDaysColumns =
        "tool, day, installation_key, is_ci, os_name, os_version, runtime_name, runtime_version, tool_version, runs, succeeded, failed, aborted";

    /// <summary>Runs per installation, UTC day and environment: distinct installation counts stay exact.</summary>
    public static string InstallationDays(string where) => $"""
        SELECT r.tool, {RunDay} AS day, i.id AS installation_key, r.is_ci, r.os_name, r.os_version, r.runtime_name,
               r.runtime_version, r.tool_version,
               {Outcomes}
        FROM runs r
        {JoinInstallation}
        WHERE {where}
        GROUP BY r.tool, 2, i.id, r.is_ci, r.os_name, r.os_version, r.runtime_name, r.runtime_version, r.tool_version
        """;

    public const string CommandDaysColumns =
        "tool, day, installation_key, command, is_ci, os_name, tool_version, runs, succeeded, failed, aborted";

    public static string CommandDays(string where) => $"""
        SELECT r.tool, {RunDay} AS day, i.id AS installation_key, coalesce(r.command, '(none)') AS command, r.is_ci, r.os_name,
               r.tool_version,
               {Outcomes}
        FROM runs r
        {JoinInstallation}
        WHERE {where}
        GROUP BY r.tool, 2, i.id, 4, r.is_ci, r.os_name, r.tool_version
        """;

    public const string CommandDurationsColumns = "tool, day, command, is_ci, os_name, tool_version, buckets, counts";

    /// <summary>Sparse histograms: the buckets that occur, in order, and how many runs fell in each.</summary>
    public static string CommandDurations(string where) => $"""
        SELECT h.tool, h.day, h.command, h.is_ci, h.os_name, h.tool_version,
               array_agg(h.bucket ORDER BY h.bucket) AS buckets, array_agg(h.n ORDER BY h.bucket) AS counts
        FROM (
            SELECT r.tool, {RunDay} AS day, coalesce(r.command, '(none)') AS command, r.is_ci, r.os_name, r.tool_version,
                   {DurationBucket} AS bucket, count(*)::int AS n
            FROM runs r
            WHERE r.duration_ms IS NOT NULL AND r.duration_ms >= 0 AND {where}
            GROUP BY 1, 2, 3, 4, 5, 6, 7
        ) h
        GROUP BY 1, 2, 3, 4, 5, 6
        """;

    public const string PluginDaysColumns =
        "tool, day, installation_key, name, type, version, is_ci, os_name, tool_version, runs, succeeded, failed, aborted";

    /// <summary>
    /// Plugin outcomes per installation and day. OS and tool version come from the run at the time the
    /// slice is built, which is why a run's change re-marks its day even when its plugins did not change.
    /// </summary>
    public static string PluginDays(string where) => $"""
        SELECT rp.tool, {RunDay} AS day, i.id AS installation_key, rp.name, rp.type, rp.version, rp.is_ci, r.os_name,
               r.tool_version,
               count(*)::int AS runs,
               count(*) FILTER (WHERE rp.status = 'succeeded')::int AS succeeded,
               count(*) FILTER (WHERE rp.status = 'failed')::int AS failed,
               count(*) FILTER (WHERE rp.status = 'aborted')::int AS aborted
        FROM runs r
        JOIN run_plugins rp ON rp.run_id = r.id
        {JoinInstallation}
        WHERE {where}
        GROUP BY rp.tool, 2, i.id, rp.name, rp.type, rp.version, rp.is_ci, r.os_name, r.tool_version
        """;

    /// <summary>The rollup tables, in the order slices are rebuilt.</summary>
    public static readonly (string Table, string Columns, Func<string, string> Select)[] Tables =
    [
        ("rollup_installation_days", InstallationDaysColumns, InstallationDays),
        ("rollup_command_days", CommandDaysColumns, CommandDays),
        ("rollup_command_durations", CommandDurationsColumns, CommandDurations),
        ("rollup_plugin_days", PluginDaysColumns, PluginDays),
    ];

    /// <summary>
    /// Rebuilds the slices listed in the temp table <c>rollup_slices(tool, day)</c>: delete, then insert
    /// from the runs of that tool and day. Recomputing a whole slice (rather than adding deltas) makes a
    /// refresh idempotent: late, re-sent or re-derived events can never be counted twice.
    /// </summary>
    public static string RebuildSlices()
    {
        const string inSlices = """
            EXISTS (SELECT 1 FROM rollup_slices s WHERE s.tool = r.tool
                    AND r.occurred_at >= s.day::timestamp AT TIME ZONE 'UTC'
                    AND r.occurred_at < (s.day + 1)::timestamp AT TIME ZONE 'UTC')
            """;
        var sql = new System.Text.StringBuilder();
        foreach (var (table, columns, select) in Tables)
        {
            sql.Append($"DELETE FROM {table} t USING rollup_slices s WHERE t.tool = s.tool AND t.day = s.day;\n");
            sql.Append($"INSERT INTO {table} ({columns})\n{select(inSlices)};\n");
        }
        return sql.ToString();
    }

    /// <summary>Everything from scratch, set-based: after a bulk load, or to repair.</summary>
    public static string RebuildAll()
    {
        var sql = new System.Text.StringBuilder("TRUNCATE rollup_dirty, ");
        sql.Append(string.Join(", ", Tables.Select(t => t.Table))).Append(";\n");
        foreach (var (table, columns, select) in Tables)
        {
            sql.Append($"INSERT INTO {table} ({columns})\n{select("true")};\n");
        }
        // Fresh statistics at once: the first page views must not be planned for empty tables.
        sql.Append("ANALYZE ").Append(string.Join(", ", Tables.Select(t => t.Table))).Append(";\n");
        return sql.ToString();
    }
}
