namespace UsageDashboard.Rollups;

/// <summary>
/// What each rollup holds, written once as the aggregate over <c>runs r</c> (and <c>run_plugins rp</c>)
/// that defines it. The same text builds the tables (a slice at a time, or everything after a bulk load)
/// and, when rollups are switched off, stands in for them as a subquery, so "the rollup equals the raw
/// aggregate" is true by construction of the SQL and checked against the data by the exactness tests.
/// A day-table row belongs to the UTC day of its run's <c>occurred_at</c>; a month-table row to its UTC
/// month, with one bit per day of that month.
/// </summary>
internal static partial class RollupSql
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
    /// In double precision, as <see cref="DurationHistogram.BucketOf"/> computes it: <c>duration_ms + 1.0</c>
    /// alone is numeric, whose ln() made this table's aggregate the slowest of a refresh (1.06 s of about
    /// 8 s for 30 days of dbt on the 1M store).
    /// </summary>
    public const string DurationBucket = "floor(ln(r.duration_ms + 1.0::float8) * 11.541560327111707::float8)::smallint";

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
        "tool, day, is_ci, os_name, os_version, runtime_name, runtime_version, tool_version, environment, runs, succeeded, failed, aborted";

    /// <summary>Runs and outcomes per UTC day and environment (the tool's build environment included: Jetty's dev builds).</summary>
    public static string RunDays(string where, RollupInput input) => $"""
        SELECT r.tool, {RunDay} AS day, r.is_ci, r.os_name, r.os_version, r.runtime_name, r.runtime_version, r.tool_version, r.environment,
               {Outcomes}
        FROM {input.Runs} r
        WHERE {where}
        GROUP BY r.tool, 2, r.is_ci, r.os_name, r.os_version, r.runtime_name, r.runtime_version, r.tool_version, r.environment
        """;

    private const string InstallationMonthsKey =
        "month, tool, installation_key, is_ci, os_name, os_version, runtime_name, runtime_version, tool_version, environment";

    public const string InstallationMonthsColumns =
        "tool, month, installation_key, is_ci, os_name, os_version, runtime_name, runtime_version, tool_version, environment, days, ok_days";

    /// <summary>
    /// Which days of each month an installation ran anything (<c>days</c>) and ran something that succeeded
    /// (<c>ok_days</c>), per environment: distinct installation counts over any day range stay exact.
    /// </summary>
    public static string InstallationMonths(string where, RollupInput input) => $"""
        SELECT r.tool, {RunMonth} AS month, i.id AS installation_key, r.is_ci, r.os_name, r.os_version, r.runtime_name,
               r.runtime_version, r.tool_version, r.environment,
               bit_or({RunDayBit}) AS days, coalesce(bit_or({RunDayBit}) FILTER (WHERE r.status = 'succeeded'), 0) AS ok_days
        FROM {input.Runs} r
        {JoinInstallation}
        WHERE {where}
        GROUP BY r.tool, 2, i.id, r.is_ci, r.os_name, r.os_version, r.runtime_name, r.runtime_version, r.tool_version, r.environment
        """;

    public const string CommandDaysColumns =
        "tool, day, command, is_ci, os_name, tool_version, runtime_name, runtime_version, environment, runs, succeeded, failed, aborted";

    public static string CommandDays(string where, RollupInput input) => $"""
        SELECT r.tool, {RunDay} AS day, coalesce(r.command, '(none)') AS command, r.is_ci, r.os_name, r.tool_version, r.runtime_name, r.runtime_version, r.environment,
               {Outcomes}
        FROM {input.Runs} r
        WHERE {where}
        GROUP BY r.tool, 2, 3, r.is_ci, r.os_name, r.tool_version, r.runtime_name, r.runtime_version, r.environment
        """;

    private const string CommandMonthsKey = "month, tool, installation_key, command, is_ci, os_name, tool_version, runtime_name, runtime_version, environment";

    public const string CommandMonthsColumns = "tool, month, installation_key, command, is_ci, os_name, tool_version, runtime_name, runtime_version, environment, days";

    public static string CommandMonths(string where, RollupInput input) => $"""
        SELECT r.tool, {RunMonth} AS month, i.id AS installation_key, coalesce(r.command, '(none)') AS command, r.is_ci,
               r.os_name, r.tool_version, r.runtime_name, r.runtime_version, r.environment, bit_or({RunDayBit}) AS days
        FROM {input.Runs} r
        {JoinInstallation}
        WHERE {where}
        GROUP BY r.tool, 2, i.id, 4, r.is_ci, r.os_name, r.tool_version, r.runtime_name, r.runtime_version, r.environment
        """;

    public const string CommandDurationsColumns = "tool, day, command, is_ci, os_name, tool_version, runtime_name, runtime_version, environment, buckets, counts";

    /// <summary>Sparse histograms: the buckets that occur, in order, and how many runs fell in each.</summary>
    public static string CommandDurations(string where, RollupInput input) => $"""
        SELECT h.tool, h.day, h.command, h.is_ci, h.os_name, h.tool_version, h.runtime_name, h.runtime_version, h.environment,
               array_agg(h.bucket ORDER BY h.bucket) AS buckets, array_agg(h.n ORDER BY h.bucket) AS counts
        FROM (
            SELECT r.tool, {RunDay} AS day, coalesce(r.command, '(none)') AS command, r.is_ci, r.os_name, r.tool_version, r.runtime_name, r.runtime_version, r.environment,
                   {DurationBucket} AS bucket, count(*)::int AS n
            FROM {input.Runs} r
            WHERE r.duration_ms IS NOT NULL AND r.duration_ms >= 0 AND {where}
            GROUP BY 1, 2, 3, 4, 5, 6, 7, 8, 9, 10
        ) h
        GROUP BY 1, 2, 3, 4, 5, 6, 7, 8, 9
        """;

    public const string PluginDaysColumns =
        "tool, day, name, type, version, is_ci, os_name, tool_version, runtime_name, runtime_version, environment, runs, succeeded, failed, aborted, first_at";

    /// <summary>
    /// Plugin outcomes per day. OS and tool version come from the run at the time the slice is built,
    /// which is why a run's change re-marks its day even when its plugins did not change. <c>first_at</c>,
    /// the earliest run of the row, makes a version's "first seen" (over all time) the min over its rows.
    /// </summary>
    public static string PluginDays(string where, RollupInput input) => $"""
        SELECT rp.tool, {RunDay} AS day, rp.name, rp.type, rp.version, rp.is_ci, r.os_name, r.tool_version, r.runtime_name, r.runtime_version, r.environment,
               count(*)::int AS runs,
               count(*) FILTER (WHERE rp.status = 'succeeded')::int AS succeeded,
               count(*) FILTER (WHERE rp.status = 'failed')::int AS failed,
               count(*) FILTER (WHERE rp.status = 'aborted')::int AS aborted,
               min(rp.occurred_at) AS first_at
        FROM {input.Runs} r
        JOIN {input.Plugins} rp ON rp.run_id = r.id
        WHERE {where}
        GROUP BY rp.tool, 2, rp.name, rp.type, rp.version, rp.is_ci, r.os_name, r.tool_version, r.runtime_name, r.runtime_version, r.environment
        """;

    private const string PluginMonthsKey = "month, tool, installation_key, name, type, version, is_ci, os_name, tool_version, runtime_name, runtime_version, environment";

    public const string PluginMonthsColumns = "tool, month, installation_key, name, type, version, is_ci, os_name, tool_version, runtime_name, runtime_version, environment, days";

    public static string PluginMonths(string where, RollupInput input) => $"""
        SELECT rp.tool, {RunMonth} AS month, i.id AS installation_key, rp.name, rp.type, rp.version, rp.is_ci, r.os_name,
               r.tool_version, r.runtime_name, r.runtime_version, r.environment, bit_or({RunDayBit}) AS days
        FROM {input.Runs} r
        JOIN {input.Plugins} rp ON rp.run_id = r.id
        {JoinInstallation}
        WHERE {where}
        GROUP BY rp.tool, 2, i.id, rp.name, rp.type, rp.version, rp.is_ci, r.os_name, r.tool_version, r.runtime_name, r.runtime_version, r.environment
        """;

    /// <summary>What a failed or aborted run reported as its error; the label pages show when it reported none.</summary>
    private const string ErrorType = "coalesce(r.error_type, '(not reported)')";

    private const string Failures = "r.status IN ('failed', 'aborted')";

    public const string ErrorDaysColumns = "tool, day, command, error_type, is_ci, os_name, tool_version, runtime_name, runtime_version, environment, runs, last_at";

    /// <summary>
    /// Failed and aborted runs per error type and day (a small fraction of all runs), with the latest
    /// one: a command's error types without reading its runs.
    /// </summary>
    public static string ErrorDays(string where, RollupInput input) => $"""
        SELECT r.tool, {RunDay} AS day, coalesce(r.command, '(none)') AS command, {ErrorType} AS error_type, r.is_ci,
               r.os_name, r.tool_version, r.runtime_name, r.runtime_version, r.environment, count(*)::int AS runs, max(r.occurred_at) AS last_at
        FROM {input.Runs} r
        WHERE {Failures} AND {where}
        GROUP BY r.tool, 2, 3, 4, r.is_ci, r.os_name, r.tool_version, r.runtime_name, r.runtime_version, r.environment
        """;

    private const string ErrorMonthsKey = "month, tool, installation_key, command, error_type, is_ci, os_name, tool_version, runtime_name, runtime_version, environment";

    public const string ErrorMonthsColumns = "tool, month, installation_key, command, error_type, is_ci, os_name, tool_version, runtime_name, runtime_version, environment, days";

    /// <summary>Which installations hit each error type, on which days: exact installations per error type.</summary>
    public static string ErrorMonths(string where, RollupInput input) => $"""
        SELECT r.tool, {RunMonth} AS month, i.id AS installation_key, coalesce(r.command, '(none)') AS command,
               {ErrorType} AS error_type, r.is_ci, r.os_name, r.tool_version, r.runtime_name, r.runtime_version, r.environment, bit_or({RunDayBit}) AS days
        FROM {input.Runs} r
        {JoinInstallation}
        WHERE {Failures} AND {where}
        GROUP BY r.tool, 2, i.id, 4, 5, r.is_ci, r.os_name, r.tool_version, r.runtime_name, r.runtime_version, r.environment
        """;

    /// <summary>A plugin's own failure (its outcome, which is its run's where the source reports none).</summary>
    private const string PluginFailures = "rp.status IN ('failed', 'aborted')";

    public const string PluginErrorDaysColumns = "tool, day, name, error_type, is_ci, os_name, tool_version, runtime_name, runtime_version, environment, runs, last_at";

    /// <summary>
    /// Failed and aborted plugin rows per error type (the run's: plugins report none of their own) and day.
    /// Plugin type and version are left out: the plugin page lists error types across them.
    /// </summary>
    public static string PluginErrorDays(string where, RollupInput input) => $"""
        SELECT rp.tool, {RunDay} AS day, rp.name, {ErrorType} AS error_type, rp.is_ci, r.os_name, r.tool_version, r.runtime_name, r.runtime_version, r.environment,
               count(*)::int AS runs, max(rp.occurred_at) AS last_at
        FROM {input.Runs} r
        JOIN {input.Plugins} rp ON rp.run_id = r.id
        WHERE {PluginFailures} AND {where}
        GROUP BY rp.tool, 2, rp.name, 4, rp.is_ci, r.os_name, r.tool_version, r.runtime_name, r.runtime_version, r.environment
        """;

    private const string PluginErrorMonthsKey = "month, tool, installation_key, name, error_type, is_ci, os_name, tool_version, runtime_name, runtime_version, environment";

    public const string PluginErrorMonthsColumns = "tool, month, installation_key, name, error_type, is_ci, os_name, tool_version, runtime_name, runtime_version, environment, days";

    public static string PluginErrorMonths(string where, RollupInput input) => $"""
        SELECT rp.tool, {RunMonth} AS month, i.id AS installation_key, rp.name, {ErrorType} AS error_type, rp.is_ci,
               r.os_name, r.tool_version, r.runtime_name, r.runtime_version, r.environment, bit_or({RunDayBit}) AS days
        FROM {input.Runs} r
        JOIN {input.Plugins} rp ON rp.run_id = r.id
        {JoinInstallation}
        WHERE {PluginFailures} AND {where}
        GROUP BY rp.tool, 2, i.id, rp.name, 5, rp.is_ci, r.os_name, r.tool_version, r.runtime_name, r.runtime_version, r.environment
        """;

    /// <summary>
    /// Each run's feature values (alias <c>f</c>: tool, run_key, key, value) and its project (<c>p</c>), for the
    /// runs of <paramref name="input"/> that <paramref name="where"/> keeps. From the runs' events'
    /// <c>properties</c> through the SQL function <c>feature_values</c> (migration ProjectsAndFeatures), plus
    /// two values read from the run's plugins: Jetty's connector stack (the sorted connector types a run
    /// named together) and Meltano's plugin categories per command. A value counts once per run. Every run
    /// also has the value <c>all</c> of the key <c>runs</c>: the denominator of a share (day table only).
    /// </summary>
    private static string FeatureFacts(string where, RollupInput input) => $"""
        WITH fe AS MATERIALIZED (
            SELECT e.tool, e.run_key, e.properties FROM events e
            WHERE e.properties IS NOT NULL
              AND (e.tool, e.run_key) IN (SELECT r.tool, r.run_key FROM {input.Runs} r WHERE {where})
        ), fp AS (
            SELECT fe.tool, fe.run_key, max(feature_project(fe.tool, fe.properties)) AS project FROM fe GROUP BY 1, 2
        ), ff AS (
            SELECT DISTINCT fe.tool, fe.run_key, v.key, v.value FROM fe CROSS JOIN LATERAL feature_values(fe.tool, fe.properties) v
            UNION ALL
            SELECT r.tool, r.run_key, 'connector_stack', string_agg(DISTINCT rp.name, ' + ' ORDER BY rp.name)
            FROM {input.Runs} r JOIN {input.Plugins} rp ON rp.run_id = r.id
            WHERE rp.type = 'connector' AND {where}
            GROUP BY r.tool, r.run_key
            UNION ALL
            SELECT DISTINCT r.tool, r.run_key, 'plugin_category', coalesce(r.command, '(none)') || ' · ' || rp.type
            FROM {input.Runs} r JOIN {input.Plugins} rp ON rp.run_id = r.id
            WHERE rp.type IN ('extractors', 'loaders', 'transformers', 'utilities', 'orchestrators', 'mappers', 'files') AND {where}
            UNION ALL
            SELECT r.tool, r.run_key, 'runs', 'all' FROM {input.Runs} r WHERE {where}
        )
        """;

    public const string FeatureDaysColumns =
        "tool, day, key, value, is_ci, os_name, tool_version, runtime_name, runtime_version, environment, runs, succeeded, failed, aborted";

    /// <summary>
    /// Runs and outcomes per feature value and day: a value's runs and success rate. Not per project or
    /// organisation: those are only counted, from the month table, and would make this one as large as it.
    /// </summary>
    public static string FeatureDays(string where, RollupInput input) => $"""
        {FeatureFacts(where, input)}
        SELECT r.tool, {RunDay} AS day, f.key, f.value, r.is_ci, r.os_name, r.tool_version, r.runtime_name, r.runtime_version, r.environment,
               {Outcomes}
        FROM {input.Runs} r
        JOIN ff f ON f.tool = r.tool AND f.run_key = r.run_key
        WHERE {where} AND f.key NOT IN ('project', 'organisation')
        GROUP BY r.tool, 2, f.key, f.value, r.is_ci, r.os_name, r.tool_version, r.runtime_name, r.runtime_version, r.environment
        """;

    private const string FeatureMonthsKey =
        "month, tool, installation_key, key, value, project, is_ci, os_name, tool_version, runtime_name, runtime_version, environment";

    public const string FeatureMonthsColumns =
        "tool, month, installation_key, key, value, project, is_ci, os_name, tool_version, runtime_name, runtime_version, environment, days";

    /// <summary>
    /// Which installations, in which project, had each feature value on which days: exact distinct
    /// installations and projects per value (and, through the <c>project</c> and <c>organisation</c> keys,
    /// exact distinct projects and organisations) over any range.
    /// </summary>
    public static string FeatureMonths(string where, RollupInput input) => $"""
        {FeatureFacts(where, input)}
        SELECT r.tool, {RunMonth} AS month, i.id AS installation_key, f.key, f.value, p.project, r.is_ci, r.os_name,
               r.tool_version, r.runtime_name, r.runtime_version, r.environment, bit_or({RunDayBit}) AS days
        FROM {input.Runs} r
        JOIN ff f ON f.tool = r.tool AND f.run_key = r.run_key
        LEFT JOIN fp p ON p.tool = r.tool AND p.run_key = r.run_key
        {JoinInstallation}
        WHERE {where} AND f.key <> 'runs'
        GROUP BY r.tool, 2, i.id, f.key, f.value, p.project, r.is_ci, r.os_name, r.tool_version, r.runtime_name, r.runtime_version, r.environment
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
        new("rollup_feature_days", FeatureDaysColumns, FeatureDays),
        new("rollup_feature_months", FeatureMonthsColumns, FeatureMonths, FeatureMonthsKey, ["days"]),
    ];

    /// <summary>The columns of <c>runs</c> the rollups read: what a refresh copies of each run in its slices.</summary>
    private const string RefreshRunColumns =
        "id, tool, occurred_at, installation_id, status, command, duration_ms, is_ci, os_name, os_version, runtime_name, runtime_version, tool_version, error_type, environment, run_key";

    /// <summary>The columns of <c>run_plugins</c> the rollups read.</summary>
    private const string RefreshPluginColumns = "run_id, tool, name, type, version, status, occurred_at, installation_id, is_ci";

    private static string Prefixed(string alias, string columns) =>
        string.Join(", ", columns.Split(", ").Select(c => $"{alias}.{c}"));
}

/// <summary>
/// One rollup table: its columns and the aggregate over <c>runs r</c> that defines it. Month (reach)
/// tables also name their unique key, which slice refreshes merge into, and their day-mask columns.
/// </summary>
internal sealed record RollupTable(string Table, string Columns, Func<string, RollupInput, string> Select, string? MonthKey = null, string[]? MaskColumns = null)
{
    public IReadOnlyList<string> Masks => MaskColumns ?? [];
}

/// <summary>
/// The relations a rollup's aggregate reads as <c>runs r</c> and <c>run_plugins rp</c>: the stored tables,
/// or a refresh's copies of the runs in its slices (same columns as far as the aggregates go).
/// </summary>
internal sealed record RollupInput(string Runs, string Plugins)
{
    public static readonly RollupInput Stored = new("runs", "run_plugins");
}
