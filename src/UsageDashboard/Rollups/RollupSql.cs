namespace UsageDashboard.Rollups;

/// <summary>
/// What each rollup holds, written once as the aggregate over <c>runs r</c> (and <c>run_plugins rp</c>)
/// that defines it. The same text builds the tables (a slice at a time, or everything after a bulk load)
/// and, when rollups are switched off, stands in for them as a subquery, so "the rollup equals the raw
/// aggregate" is true by construction of the SQL and checked against the data by the exactness tests.
/// A day-table row belongs to the UTC day of its run's <c>occurred_at</c>; a month-table row to its UTC
/// month, with one bit per day of that month.
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

    /// <summary>The first day of the UTC month of <c>r.occurred_at</c>: the key of the month (reach) rollups.</summary>
    public const string RunMonth = "date_trunc('month', r.occurred_at AT TIME ZONE 'UTC')::date";

    /// <summary>The bit of <c>r.occurred_at</c>'s day in a month row's <c>days</c> mask (bit 0 = the 1st).</summary>
    public const string RunDayBit = "(1 << (extract(day FROM r.occurred_at AT TIME ZONE 'UTC')::integer - 1))";

    /// <summary>
    /// Rollups name an installation by <c>installations.id</c>, a dense integer: hashing and comparing it
    /// is several times cheaper than (tool, installation_id) text pairs in every distinct count.
    /// </summary>
    private const string JoinInstallation = "JOIN installations i ON i.tool = r.tool AND i.installation_id = r.installation_id";

    /// <summary>
    /// Condition on a month row (alias <paramref name="alias"/>) that it was active on a day in
    /// [<paramref name="fromDay"/>, <paramref name="toDay"/>] (SQL date expressions, usually parameters).
    /// </summary>
    public static string ActiveIn(string alias, string fromDay, string toDay) =>
        $"{alias}.month >= date_trunc('month', {fromDay}::timestamp)::date AND {alias}.month <= {toDay} " +
        $"AND ({alias}.days & rollup_day_mask({alias}.month, {fromDay}, {toDay})) <> 0";

    public const string RunDaysColumns =
        "tool, day, is_ci, os_name, os_version, runtime_name, runtime_version, tool_version, runs, succeeded, failed, aborted";

    /// <summary>Runs and outcomes per UTC day and environment.</summary>
    public static string RunDays(string where) => $"""
        SELECT r.tool, {RunDay} AS day, r.is_ci, r.os_name, r.os_version, r.runtime_name, r.runtime_version, r.tool_version,
               {Outcomes}
        FROM runs r
        WHERE {where}
        GROUP BY r.tool, 2, r.is_ci, r.os_name, r.os_version, r.runtime_name, r.runtime_version, r.tool_version
        """;

    private const string InstallationMonthsKey =
        "month, tool, installation_key, is_ci, os_name, os_version, runtime_name, runtime_version, tool_version";

    public const string InstallationMonthsColumns =
        "tool, month, installation_key, is_ci, os_name, os_version, runtime_name, runtime_version, tool_version, days, ok_days";

    /// <summary>
    /// Which days of each month an installation ran anything (<c>days</c>) and ran something that succeeded
    /// (<c>ok_days</c>), per environment: distinct installation counts over any day range stay exact.
    /// </summary>
    public static string InstallationMonths(string where) => $"""
        SELECT r.tool, {RunMonth} AS month, i.id AS installation_key, r.is_ci, r.os_name, r.os_version, r.runtime_name,
               r.runtime_version, r.tool_version,
               bit_or({RunDayBit}) AS days, coalesce(bit_or({RunDayBit}) FILTER (WHERE r.status = 'succeeded'), 0) AS ok_days
        FROM runs r
        {JoinInstallation}
        WHERE {where}
        GROUP BY r.tool, 2, i.id, r.is_ci, r.os_name, r.os_version, r.runtime_name, r.runtime_version, r.tool_version
        """;

    public const string CommandDaysColumns =
        "tool, day, command, is_ci, os_name, tool_version, runs, succeeded, failed, aborted";

    public static string CommandDays(string where) => $"""
        SELECT r.tool, {RunDay} AS day, coalesce(r.command, '(none)') AS command, r.is_ci, r.os_name, r.tool_version,
               {Outcomes}
        FROM runs r
        WHERE {where}
        GROUP BY r.tool, 2, 3, r.is_ci, r.os_name, r.tool_version
        """;

    private const string CommandMonthsKey = "month, tool, installation_key, command, is_ci, os_name, tool_version";

    public const string CommandMonthsColumns = "tool, month, installation_key, command, is_ci, os_name, tool_version, days";

    public static string CommandMonths(string where) => $"""
        SELECT r.tool, {RunMonth} AS month, i.id AS installation_key, coalesce(r.command, '(none)') AS command, r.is_ci,
               r.os_name, r.tool_version, bit_or({RunDayBit}) AS days
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
        "tool, day, name, type, version, is_ci, os_name, tool_version, runs, succeeded, failed, aborted, first_at";

    /// <summary>
    /// Plugin outcomes per day. OS and tool version come from the run at the time the slice is built,
    /// which is why a run's change re-marks its day even when its plugins did not change. <c>first_at</c>,
    /// the earliest run of the row, makes a version's "first seen" (over all time) the min over its rows.
    /// </summary>
    public static string PluginDays(string where) => $"""
        SELECT rp.tool, {RunDay} AS day, rp.name, rp.type, rp.version, rp.is_ci, r.os_name, r.tool_version,
               count(*)::int AS runs,
               count(*) FILTER (WHERE rp.status = 'succeeded')::int AS succeeded,
               count(*) FILTER (WHERE rp.status = 'failed')::int AS failed,
               count(*) FILTER (WHERE rp.status = 'aborted')::int AS aborted,
               min(rp.occurred_at) AS first_at
        FROM runs r
        JOIN run_plugins rp ON rp.run_id = r.id
        WHERE {where}
        GROUP BY rp.tool, 2, rp.name, rp.type, rp.version, rp.is_ci, r.os_name, r.tool_version
        """;

    private const string PluginMonthsKey = "month, tool, installation_key, name, type, version, is_ci, os_name, tool_version";

    public const string PluginMonthsColumns = "tool, month, installation_key, name, type, version, is_ci, os_name, tool_version, days";

    public static string PluginMonths(string where) => $"""
        SELECT rp.tool, {RunMonth} AS month, i.id AS installation_key, rp.name, rp.type, rp.version, rp.is_ci, r.os_name,
               r.tool_version, bit_or({RunDayBit}) AS days
        FROM runs r
        JOIN run_plugins rp ON rp.run_id = r.id
        {JoinInstallation}
        WHERE {where}
        GROUP BY rp.tool, 2, i.id, rp.name, rp.type, rp.version, rp.is_ci, r.os_name, r.tool_version
        """;

    /// <summary>What a failed or aborted run reported as its error; the label pages show when it reported none.</summary>
    private const string ErrorType = "coalesce(r.error_type, '(not reported)')";

    private const string Failures = "r.status IN ('failed', 'aborted')";

    public const string ErrorDaysColumns = "tool, day, command, error_type, is_ci, os_name, tool_version, runs, last_at";

    /// <summary>
    /// Failed and aborted runs per error type and day (a small fraction of all runs), with the latest
    /// one: a command's error types without reading its runs.
    /// </summary>
    public static string ErrorDays(string where) => $"""
        SELECT r.tool, {RunDay} AS day, coalesce(r.command, '(none)') AS command, {ErrorType} AS error_type, r.is_ci,
               r.os_name, r.tool_version, count(*)::int AS runs, max(r.occurred_at) AS last_at
        FROM runs r
        WHERE {Failures} AND {where}
        GROUP BY r.tool, 2, 3, 4, r.is_ci, r.os_name, r.tool_version
        """;

    private const string ErrorMonthsKey = "month, tool, installation_key, command, error_type, is_ci, os_name, tool_version";

    public const string ErrorMonthsColumns = "tool, month, installation_key, command, error_type, is_ci, os_name, tool_version, days";

    /// <summary>Which installations hit each error type, on which days: exact installations per error type.</summary>
    public static string ErrorMonths(string where) => $"""
        SELECT r.tool, {RunMonth} AS month, i.id AS installation_key, coalesce(r.command, '(none)') AS command,
               {ErrorType} AS error_type, r.is_ci, r.os_name, r.tool_version, bit_or({RunDayBit}) AS days
        FROM runs r
        {JoinInstallation}
        WHERE {Failures} AND {where}
        GROUP BY r.tool, 2, i.id, 4, 5, r.is_ci, r.os_name, r.tool_version
        """;

    /// <summary>A plugin's own failure (its outcome, which is its run's where the source reports none).</summary>
    private const string PluginFailures = "rp.status IN ('failed', 'aborted')";

    public const string PluginErrorDaysColumns = "tool, day, name, error_type, is_ci, os_name, tool_version, runs, last_at";

    /// <summary>
    /// Failed and aborted plugin rows per error type (the run's: plugins report none of their own) and day.
    /// Plugin type and version are left out: the plugin page lists error types across them.
    /// </summary>
    public static string PluginErrorDays(string where) => $"""
        SELECT rp.tool, {RunDay} AS day, rp.name, {ErrorType} AS error_type, rp.is_ci, r.os_name, r.tool_version,
               count(*)::int AS runs, max(rp.occurred_at) AS last_at
        FROM runs r
        JOIN run_plugins rp ON rp.run_id = r.id
        WHERE {PluginFailures} AND {where}
        GROUP BY rp.tool, 2, rp.name, 4, rp.is_ci, r.os_name, r.tool_version
        """;

    private const string PluginErrorMonthsKey = "month, tool, installation_key, name, error_type, is_ci, os_name, tool_version";

    public const string PluginErrorMonthsColumns = "tool, month, installation_key, name, error_type, is_ci, os_name, tool_version, days";

    public static string PluginErrorMonths(string where) => $"""
        SELECT rp.tool, {RunMonth} AS month, i.id AS installation_key, rp.name, {ErrorType} AS error_type, rp.is_ci,
               r.os_name, r.tool_version, bit_or({RunDayBit}) AS days
        FROM runs r
        JOIN run_plugins rp ON rp.run_id = r.id
        {JoinInstallation}
        WHERE {PluginFailures} AND {where}
        GROUP BY rp.tool, 2, i.id, rp.name, 5, rp.is_ci, r.os_name, r.tool_version
        """;

    /// <summary>The rollup tables, in the order slices are rebuilt.</summary>
    public static readonly RollupTable[] Tables =
    [
        new("rollup_run_days", RunDaysColumns, RunDays),
        new("rollup_installation_months", InstallationMonthsColumns, InstallationMonths, InstallationMonthsKey, ["days", "ok_days"]),
        new("rollup_command_days", CommandDaysColumns, CommandDays),
        new("rollup_command_months", CommandMonthsColumns, CommandMonths, CommandMonthsKey, ["days"]),
        new("rollup_command_durations", CommandDurationsColumns, CommandDurations),
        new("rollup_plugin_days", PluginDaysColumns, PluginDays),
        new("rollup_plugin_months", PluginMonthsColumns, PluginMonths, PluginMonthsKey, ["days"]),
        new("rollup_error_days", ErrorDaysColumns, ErrorDays),
        new("rollup_error_months", ErrorMonthsColumns, ErrorMonths, ErrorMonthsKey, ["days"]),
        new("rollup_plugin_error_days", PluginErrorDaysColumns, PluginErrorDays),
        new("rollup_plugin_error_months", PluginErrorMonthsColumns, PluginErrorMonths, PluginErrorMonthsKey, ["days"]),
    ];

    /// <summary>
    /// Rebuilds the slices listed in the temp table <c>rollup_slices(tool, day)</c>. A day table's slice is
    /// deleted and inserted again from the runs of that tool and day. A month table's rows cover a whole
    /// month, so only the slice days' bits are rebuilt: cleared in that tool's rows of the month, merged in
    /// again from the runs of those days (ON CONFLICT ... |), and rows left without any day are deleted;
    /// when a batch holds <see cref="WholeMonthDays"/> or more days of one tool and month, that month is
    /// rebuilt whole from its runs instead. Recomputing whole days (rather than adding deltas) makes a refresh idempotent: late, re-sent or
    /// re-derived events can never be counted twice.
    /// </summary>
    public static string RebuildSlices()
    {
        const string inSlices = """
            EXISTS (SELECT 1 FROM rollup_slices s WHERE s.tool = r.tool
                    AND r.occurred_at >= s.day::timestamp AT TIME ZONE 'UTC'
                    AND r.occurred_at < (s.day + 1)::timestamp AT TIME ZONE 'UTC')
            """;
        const string inPartialSlices = """
            EXISTS (SELECT 1 FROM rollup_partial_slices s WHERE s.tool = r.tool
                    AND r.occurred_at >= s.day::timestamp AT TIME ZONE 'UTC'
                    AND r.occurred_at < (s.day + 1)::timestamp AT TIME ZONE 'UTC')
            """;
        const string inWholeMonths = """
            EXISTS (SELECT 1 FROM rollup_tool_months m WHERE m.whole AND m.tool = r.tool
                    AND r.occurred_at >= m.month::timestamp AT TIME ZONE 'UTC'
                    AND r.occurred_at < (m.month + interval '1 month') AT TIME ZONE 'UTC')
            """;
        var sql = new System.Text.StringBuilder($"""
            CREATE TEMP TABLE IF NOT EXISTS rollup_tool_months (tool text NOT NULL, month date NOT NULL, mask integer NOT NULL, whole boolean NOT NULL) ON COMMIT DELETE ROWS;
            CREATE TEMP TABLE IF NOT EXISTS rollup_partial_slices (tool text NOT NULL, day date NOT NULL) ON COMMIT DELETE ROWS;
            INSERT INTO rollup_tool_months
            SELECT tool, date_trunc('month', day::timestamp)::date, bit_or(1 << (extract(day FROM day)::integer - 1)), count(*) >= {WholeMonthDays}
            FROM rollup_slices GROUP BY 1, 2;
            INSERT INTO rollup_partial_slices
            SELECT s.tool, s.day FROM rollup_slices s
            JOIN rollup_tool_months m ON m.tool = s.tool AND m.month = date_trunc('month', s.day::timestamp)::date
            WHERE NOT m.whole;

            """);
        foreach (var table in Tables)
        {
            var (name, columns, select) = (table.Table, table.Columns, table.Select);
            if (table.MonthKey is null)
            {
                sql.Append($"DELETE FROM {name} t USING rollup_slices s WHERE t.tool = s.tool AND t.day = s.day;\n");
                sql.Append($"INSERT INTO {name} ({columns})\n{select(inSlices)};\n");
                continue;
            }
            // A few days of a month (today's ingest, a late event): clear those days' bits and merge them in again.
            var clear = string.Join(", ", table.Masks.Select(m => $"{m} = t.{m} & ~m.mask"));
            var merge = string.Join(", ", table.Masks.Select(m => $"{m} = {name}.{m} | excluded.{m}"));
            sql.Append($"UPDATE {name} t SET {clear} FROM rollup_tool_months m WHERE NOT m.whole AND t.month = m.month AND t.tool = m.tool AND (t.days & m.mask) <> 0;\n");
            sql.Append($"INSERT INTO {name} ({columns})\n{select(inPartialSlices)}\nON CONFLICT ({table.MonthKey}) DO UPDATE SET {merge};\n");
            sql.Append($"DELETE FROM {name} t USING rollup_tool_months m WHERE NOT m.whole AND t.month = m.month AND t.tool = m.tool AND t.days = 0;\n");
            // Many days of a month (a history import): clearing and re-merging would rewrite most of the
            // month's rows one by one; rebuilding the tool's month from its runs is far cheaper.
            sql.Append($"DELETE FROM {name} t USING rollup_tool_months m WHERE m.whole AND t.month = m.month AND t.tool = m.tool;\n");
            sql.Append($"INSERT INTO {name} ({columns})\n{select(inWholeMonths)};\n");
        }
        // In the same transaction: a reader that sees the new version also sees the new rows.
        sql.Append($"""
            INSERT INTO rollup_month_versions (table_name, month, tool, version)
            SELECT t.name, m.month, m.tool, nextval('rollup_version_seq')
            FROM rollup_tool_months m CROSS JOIN unnest(@rollup_tables::text[]) AS t(name)
            ON CONFLICT (table_name, month, tool) DO UPDATE SET version = excluded.version;

            """);
        return sql.ToString();
    }

    /// <summary>
    /// From this many slice days of one tool and month, a refresh rebuilds that month of the month tables
    /// whole instead of day by day (see <see cref="RebuildSlices"/>).
    /// </summary>
    public const int WholeMonthDays = 7;

    /// <summary>Every rollup table: <see cref="RollupCache"/> holds their (month, tool) segments, <c>rollup_month_versions</c> versions them.</summary>
    public static readonly string[] TableNames = Tables.Select(t => t.Table).ToArray();

    /// <summary>
    /// New versions for every (month, tool) of a table just rebuilt whole (run in its transaction);
    /// segments that no longer have rows lose their version, which tells caches to drop them.
    /// </summary>
    public static string ResetVersions(RollupTable table)
    {
        var month = table.MonthKey is null ? "date_trunc('month', day::timestamp)::date" : "month";
        return $"""
            DELETE FROM rollup_month_versions WHERE table_name = '{table.Table}';
            INSERT INTO rollup_month_versions (table_name, month, tool, version)
            SELECT '{table.Table}', s.month, s.tool, nextval('rollup_version_seq') FROM (SELECT DISTINCT {month} AS month, tool FROM {table.Table}) s;
            """;
    }
}

/// <summary>
/// One rollup table: its columns and the aggregate over <c>runs r</c> that defines it. Month (reach)
/// tables also name their unique key, which slice refreshes merge into, and their day-mask columns.
/// </summary>
internal sealed record RollupTable(string Table, string Columns, Func<string, string> Select, string? MonthKey = null, string[]? MaskColumns = null)
{
    public IReadOnlyList<string> Masks => MaskColumns ?? [];
}
