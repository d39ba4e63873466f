using Npgsql;
using UsageDashboard.Rollups;

namespace UsageDashboard.Insights;

/// <summary>
/// Queries behind <c>/installations</c> and its API. Everything derives from installation-days (one row
/// per installation and UTC day it ran anything, with flags), read from the installation-day rollup once
/// per request into a temp table.
/// </summary>
public sealed class InstallationsService(NpgsqlDataSource dataSource, TimeProvider time, RollupSource rollups)
{
    public const int CohortWeeks = 12;

    public DateOnly Today => DateOnly.FromDateTime(time.GetUtcNow().UtcDateTime);

    public async Task<InstallationsData> GetAsync(InsightQuery query, ActiveRuleKind rule, CancellationToken ct)
    {
        var firstWeek = TimeBuckets.Truncate(query.From, Grain.Week);
        var lastWeek = TimeBuckets.Truncate(query.To, Grain.Week);
        var cohortFrom = lastWeek.AddDays(-7 * (CohortWeeks - 1));
        // Lifecycle needs the week before the first; cohorts need 12 weeks back from the last.
        var windowFrom = new[] { firstWeek.AddDays(-7), cohortFrom, query.ComparePrevious ? query.PreviousPeriod.From : query.From }.Min();
        var adoptionGrain = TimeBuckets.Auto(query);

        await using var conn = await dataSource.OpenConnectionAsync(ct);
        await using var tx = await conn.BeginTransactionAsync(ct);
        await using var cmd = conn.CreateCommand();
        cmd.Transaction = tx;
        var filters = RunFilterSql.Dimensions(query, cmd, "d");
        var days = rollups.InstallationDays(cmd, windowFrom, query.To);
        var ruleDelete = rule switch
        {
            ActiveRuleKind.SuccessfulRun => "DELETE FROM act_days WHERE NOT ok;",
            ActiveRuleKind.ExcludeCiOnly => "DELETE FROM act_days a USING act_inst n WHERE n.installation_key = a.installation_key AND n.ci_only;",
            ActiveRuleKind.ExcludeSingleDay => "DELETE FROM act_days a USING act_inst n WHERE n.installation_key = a.installation_key AND n.single_day;",
            _ => "",
        };
        // Every aggregate here can hash (no ordered aggregates, no count(DISTINCT)), so with the batch's
        // work_mem nothing sorts on disk. The version of a day is its highest (max): a day with an upgrade
        // on it is the only place that can differ from "the last one run".
        cmd.CommandText = $"""
            SET LOCAL work_mem = '128MB';
            CREATE TEMP TABLE act_days ON COMMIT DROP AS
            SELECT d.installation_key, d.day,
                   bool_or(d.succeeded > 0) AS ok, bool_or(NOT d.is_ci) AS interactive, max(d.tool_version) AS version
            FROM {days} d
            WHERE d.day >= @window_from_day AND d.day <= @to_day{filters}
            GROUP BY 1, 2;
            -- Statistics for the joins below: unanalyzed temp tables get default estimates, and the joins
            -- against them then took several times longer than this ANALYZE (measured on 1M events).
            ANALYZE act_days;

            CREATE TEMP TABLE act_inst ON COMMIT DROP AS
            SELECT a.installation_key, NOT bool_or(a.interactive) AS ci_only,
                   coalesce((i.last_seen AT TIME ZONE 'UTC')::date = (i.first_seen AT TIME ZONE 'UTC')::date, true) AS single_day,
                   coalesce((i.first_seen AT TIME ZONE 'UTC')::date, min(a.day)) AS first_day
            FROM act_days a
            LEFT JOIN installations i ON i.id = a.installation_key
            GROUP BY a.installation_key, i.first_seen, i.last_seen;
            ANALYZE act_inst;

            SELECT count(*), count(*) FILTER (WHERE NOT x.ok), count(*) FILTER (WHERE n.ci_only), count(*) FILTER (WHERE n.single_day)
            FROM (SELECT installation_key, bool_or(ok) AS ok FROM act_days WHERE day BETWEEN @from_day AND @to_day GROUP BY 1) x
            JOIN act_inst n ON n.installation_key = x.installation_key;

            {ruleDelete}

            CREATE TEMP TABLE act_weeks ON COMMIT DROP AS
            SELECT a.installation_key, date_trunc('week', a.day::timestamp)::date AS wk, min(n.first_day) AS first_day
            FROM act_days a JOIN act_inst n ON n.installation_key = a.installation_key
            GROUP BY 1, 2;

            SELECT count(*), count(*) FILTER (WHERE n.first_day >= @from_day)
            FROM (SELECT installation_key FROM act_days WHERE day BETWEEN @from_day AND @to_day GROUP BY 1) x
            JOIN act_inst n ON n.installation_key = x.installation_key;

            SELECT 0, day, count(*) FROM act_days WHERE day BETWEEN @from_day AND @to_day GROUP BY 2
            UNION ALL
            SELECT 1, wk, count(*) FROM (
                SELECT date_trunc('week', day::timestamp)::date AS wk, installation_key
                FROM act_days WHERE day BETWEEN @from_day AND @to_day GROUP BY 1, 2) w
            GROUP BY 2
            UNION ALL
            SELECT 2, mo, count(*) FROM (
                SELECT date_trunc('month', day::timestamp)::date AS mo, installation_key
                FROM act_days WHERE day BETWEEN @from_day AND @to_day GROUP BY 1, 2) m
            GROUP BY 2;

            SELECT c.wk, CASE WHEN c.first_day >= c.wk THEN 0 WHEN p.wk IS NOT NULL THEN 1 ELSE 2 END, count(*)
            FROM act_weeks c
            LEFT JOIN act_weeks p ON p.installation_key = c.installation_key AND p.wk = c.wk - 7
            WHERE c.wk BETWEEN @first_week AND @last_week
            GROUP BY 1, 2
            UNION ALL
            SELECT p.wk + 7, 3, count(*)
            FROM act_weeks p
            LEFT JOIN act_weeks n ON n.installation_key = p.installation_key AND n.wk = p.wk + 7
            WHERE n.wk IS NULL AND p.wk + 7 BETWEEN @first_week AND @last_week
            GROUP BY 1;

            SELECT c.wk, (w.wk - c.wk) / 7, count(*)
            FROM act_weeks c
            JOIN act_weeks w ON w.installation_key = c.installation_key AND w.wk >= c.wk
            WHERE c.wk = date_trunc('week', c.first_day::timestamp)::date AND c.wk BETWEEN @cohort_from AND @last_week
            GROUP BY 1, 2;

            SELECT x.bucket, coalesce(x.version, 'unknown'), count(*)
            FROM (
                SELECT DISTINCT ON (a.installation_key, date_trunc(@grain, a.day::timestamp))
                       date_trunc(@grain, a.day::timestamp)::date AS bucket, a.version
                FROM act_days a
                WHERE a.day BETWEEN @from_day AND @to_day
                ORDER BY a.installation_key, date_trunc(@grain, a.day::timestamp), a.day DESC
            ) x
            GROUP BY 1, 2;

            SELECT day + @days, count(*) FROM act_days WHERE @compare AND day BETWEEN @prev_from_day AND @prev_to_day GROUP BY 1;
            """;
        cmd.Parameters.AddWithValue("window_from_day", windowFrom);
        cmd.Parameters.AddWithValue("from_day", query.From);
        cmd.Parameters.AddWithValue("to_day", query.To);
        cmd.Parameters.AddWithValue("first_week", firstWeek);
        cmd.Parameters.AddWithValue("last_week", lastWeek);
        cmd.Parameters.AddWithValue("cohort_from", cohortFrom);
        cmd.Parameters.AddWithValue("grain", TimeBuckets.SqlUnit(adoptionGrain));
        cmd.Parameters.AddWithValue("compare", query.ComparePrevious);
        cmd.Parameters.AddWithValue("days", query.Days);
        cmd.Parameters.AddWithValue("prev_from_day", query.PreviousPeriod.From);
        cmd.Parameters.AddWithValue("prev_to_day", query.PreviousPeriod.To);

        RuleExclusions exclusions;
        long active, newCount;
        var points = new[] { new Dictionary<DateOnly, long>(), new Dictionary<DateOnly, long>(), new Dictionary<DateOnly, long>() };
        var lifecycle = new Dictionary<DateOnly, long[]>();
        var cohorts = new Dictionary<DateOnly, Dictionary<int, long>>();
        var adoption = new Dictionary<DateOnly, Dictionary<string, long>>();
        var previousDaily = new Dictionary<DateOnly, long>();
        await using (var reader = await cmd.ExecuteReaderAsync(ct))
        {
            // CREATE TABLE and DELETE return no result set; the first result is the exclusions.
            await reader.ReadAsync(ct);
            exclusions = new RuleExclusions(reader.GetInt64(0), reader.GetInt64(1), reader.GetInt64(2), reader.GetInt64(3));
            await reader.NextResultAsync(ct);
            await reader.ReadAsync(ct);
            active = reader.GetInt64(0);
            newCount = reader.GetInt64(1);
            await reader.NextResultAsync(ct);
            while (await reader.ReadAsync(ct))
            {
                points[reader.GetInt32(0)][reader.GetFieldValue<DateOnly>(1)] = reader.GetInt64(2);
            }
            await reader.NextResultAsync(ct);
            while (await reader.ReadAsync(ct))
            {
                var week = reader.GetFieldValue<DateOnly>(0);
                if (!lifecycle.TryGetValue(week, out var counts))
                {
                    lifecycle[week] = counts = new long[4];
                }
                counts[reader.GetInt32(1)] = reader.GetInt64(2);
            }
            await reader.NextResultAsync(ct);
            while (await reader.ReadAsync(ct))
            {
                var week = reader.GetFieldValue<DateOnly>(0);
                if (!cohorts.TryGetValue(week, out var row))
                {
                    cohorts[week] = row = [];
                }
                row[reader.GetInt32(1)] = reader.GetInt64(2);
            }
            await reader.NextResultAsync(ct);
            while (await reader.ReadAsync(ct))
            {
                var bucket = reader.GetFieldValue<DateOnly>(0);
                if (!adoption.TryGetValue(bucket, out var slot))
                {
                    adoption[bucket] = slot = new Dictionary<string, long>(StringComparer.Ordinal);
                }
                slot[reader.GetString(1)] = reader.GetInt64(2);
            }
            await reader.NextResultAsync(ct);
            while (await reader.ReadAsync(ct))
            {
                previousDaily[reader.GetFieldValue<DateOnly>(0)] = reader.GetInt64(1);
            }
        }
        await tx.CommitAsync(ct);

        List<ActivePoint> Series(Grain grain, Dictionary<DateOnly, long> map) =>
            TimeBuckets.For(query, grain, Today).Select(b => new ActivePoint(b.Start, map.GetValueOrDefault(b.Start))).ToList();

        var weeks = TimeBuckets.For(query, Grain.Week, Today);
        var lifecycleWeeks = weeks.Select(b => lifecycle.TryGetValue(b.Start, out var c)
            ? new LifecycleWeek(b.Start, c[0], c[1], c[2], c[3])
            : new LifecycleWeek(b.Start, 0, 0, 0, 0)).ToList();

        // Weeks that have not started are unknown (null), not zero retention.
        var cohortList = new List<Cohort>();
        for (var week = cohortFrom; week <= lastWeek; week = week.AddDays(7))
        {
            var row = cohorts.GetValueOrDefault(week) ?? [];
            var retained = new long?[CohortWeeks];
            for (var k = 0; k < CohortWeeks; k++)
            {
                retained[k] = week.AddDays(7 * k) > query.To ? null : row.GetValueOrDefault(k);
            }
            cohortList.Add(new Cohort(week, retained));
        }

        var adoptionBuckets = TimeBuckets.For(query, adoptionGrain, Today)
            .Select(b => new AdoptionBucket(b.Start, adoption.GetValueOrDefault(b.Start) ?? [])).ToList();

        return new InstallationsData(query, Today, rule, exclusions, active, newCount,
            Series(Grain.Day, points[0]), Series(Grain.Week, points[1]), Series(Grain.Month, points[2]),
            lifecycleWeeks, cohortList, adoptionGrain, adoptionBuckets, await InsightsSql.ToolsAsync(conn, ct))
        {
            PreviousDaily = query.ComparePrevious
                ? TimeBuckets.For(query, Grain.Day, Today).Select(b => previousDaily.GetValueOrDefault(b.Start)).ToList()
                : null,
        };
    }
}
