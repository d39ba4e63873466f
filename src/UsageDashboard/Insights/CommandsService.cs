using Npgsql;
using UsageDashboard.Rollups;

namespace UsageDashboard.Insights;

/// <summary>
/// Queries behind <c>/commands</c> and <c>/commands/{command}</c> and their API, from the command-day,
/// command-month, duration and error rollups.
/// </summary>
public sealed class CommandsService(NpgsqlDataSource dataSource, TimeProvider time, RollupSource rollups)
{
    /// <summary>Rows on the page; the API and CSV take up to <see cref="ApiLimit"/>.</summary>
    public const int PageLimit = 200;
    public const int ApiLimit = 1000;

    public DateOnly Today => DateOnly.FromDateTime(time.GetUtcNow().UtcDateTime);

    public async Task<CommandsData> GetAsync(InsightQuery query, int limit, CancellationToken ct)
    {
        // Three independent scans on their own connections, side by side: counts of both periods from the
        // command-day rollup, installations of the current period from the command-month rollup, and the
        // duration histograms of the current period.
        var counts = OnOwnConnectionAsync(conn => CountsAsync(conn, query, limit, ct), ct);
        var reach = OnOwnConnectionAsync(conn => ReachAsync(conn, query, ct), ct);
        var durations = OnOwnConnectionAsync(conn => DurationsAsync(conn, query, ct), ct);
        var tools = OnOwnConnectionAsync(conn => InsightsSql.ToolsAsync(conn, ct), ct);
        await Task.WhenAll(counts, reach, durations, tools);
        var (rows, total) = await counts;
        var installations = await reach;
        var histograms = await durations;
        var stats = rows.Select(r =>
        {
            var histogram = histograms.GetValueOrDefault((r.Tool, r.Command));
            return new CommandStats(r.Tool, r.Command, r.Current, installations.GetValueOrDefault((r.Tool, r.Command)),
                histogram?.Percentile(0.5), histogram?.Percentile(0.95), r.Previous);
        }).ToList();
        return new CommandsData(query, Today, total, stats, await tools);
    }

    private async Task<T> OnOwnConnectionAsync<T>(Func<NpgsqlConnection, Task<T>> query, CancellationToken ct)
    {
        await using var conn = await dataSource.OpenConnectionAsync(ct);
        return await query(conn);
    }

    /// <summary>The ranking by runs with both periods' outcomes (one scan; FILTER splits the periods) and the total runs.</summary>
    private async Task<(List<(string Tool, string Command, Outcomes Current, Outcomes Previous)> Rows, long Total)> CountsAsync(
        NpgsqlConnection conn, InsightQuery query, int limit, CancellationToken ct)
    {
        await using var cmd = conn.CreateCommand();
        var filters = RunFilterSql.Dimensions(query, cmd, "d");
        var days = rollups.CommandDays(cmd, query.PreviousPeriod.From, query.To);
        cmd.CommandText = $"""
            SELECT c.tool, c.command, c.cur_runs, c.cur_ok, c.cur_failed, c.cur_aborted,
                   c.prev_runs, c.prev_ok, c.prev_failed, c.prev_aborted, sum(c.cur_runs) OVER ()
            FROM (
                SELECT d.tool, d.command,
                       coalesce(sum(d.runs) FILTER (WHERE d.day >= @from_day), 0)::bigint AS cur_runs,
                       coalesce(sum(d.succeeded) FILTER (WHERE d.day >= @from_day), 0)::bigint AS cur_ok,
                       coalesce(sum(d.failed) FILTER (WHERE d.day >= @from_day), 0)::bigint AS cur_failed,
                       coalesce(sum(d.aborted) FILTER (WHERE d.day >= @from_day), 0)::bigint AS cur_aborted,
                       coalesce(sum(d.runs) FILTER (WHERE d.day < @from_day), 0)::bigint AS prev_runs,
                       coalesce(sum(d.succeeded) FILTER (WHERE d.day < @from_day), 0)::bigint AS prev_ok,
                       coalesce(sum(d.failed) FILTER (WHERE d.day < @from_day), 0)::bigint AS prev_failed,
                       coalesce(sum(d.aborted) FILTER (WHERE d.day < @from_day), 0)::bigint AS prev_aborted
                FROM {days} d
                WHERE d.day >= @prev_from_day AND d.day <= @to_day{filters}
                GROUP BY 1, 2
            ) c
            WHERE c.cur_runs > 0
            ORDER BY 3 DESC, 1, 2
            LIMIT @limit
            """;
        cmd.Parameters.AddWithValue("from_day", query.From);
        cmd.Parameters.AddWithValue("to_day", query.To);
        cmd.Parameters.AddWithValue("prev_from_day", query.PreviousPeriod.From);
        cmd.Parameters.AddWithValue("limit", limit);
        var rows = new List<(string, string, Outcomes, Outcomes)>();
        long total = 0;
        await using var reader = await cmd.ExecuteReaderAsync(ct);
        while (await reader.ReadAsync(ct))
        {
            rows.Add((reader.GetString(0), reader.GetString(1),
                new Outcomes(reader.GetInt64(2), reader.GetInt64(3), reader.GetInt64(4), reader.GetInt64(5)),
                new Outcomes(reader.GetInt64(6), reader.GetInt64(7), reader.GetInt64(8), reader.GetInt64(9))));
            total = (long)reader.GetDecimal(10);
        }
        return (rows, total);
    }

    /// <summary>Installations per command in the period (grouped first: a hash aggregate, not count(DISTINCT)).</summary>
    private async Task<Dictionary<(string, string), long>> ReachAsync(NpgsqlConnection conn, InsightQuery query, CancellationToken ct)
    {
        await using var cmd = conn.CreateCommand();
        var filters = RunFilterSql.Dimensions(query, cmd, "m");
        var months = rollups.CommandMonths(cmd, query.From, query.To);
        cmd.CommandText = $"""
            {InsightsSql.WorkMem}
            SELECT x.tool, x.command, count(*)
            FROM (
                SELECT m.tool, m.command, m.installation_key
                FROM {months} m
                WHERE {RollupSql.ActiveIn("m", "@from_day", "@to_day")}{filters}
                GROUP BY 1, 2, 3
            ) x
            GROUP BY 1, 2;
            """;
        cmd.Parameters.AddWithValue("from_day", query.From);
        cmd.Parameters.AddWithValue("to_day", query.To);
        var result = new Dictionary<(string, string), long>();
        await using var reader = await cmd.ExecuteReaderAsync(ct);
        while (await reader.ReadAsync(ct))
        {
            result[(reader.GetString(0), reader.GetString(1))] = reader.GetInt64(2);
        }
        return result;
    }

    private async Task<Dictionary<(string, string), DurationHistogram>> DurationsAsync(NpgsqlConnection conn, InsightQuery query, CancellationToken ct)
    {
        await using var cmd = conn.CreateCommand();
        var filters = RunFilterSql.Dimensions(query, cmd, "d");
        var durations = rollups.CommandDurations(cmd, query.From, query.To);
        cmd.CommandText = $"""
            SELECT d.tool, d.command, h.bucket, sum(h.n)::bigint
            FROM {durations} d
            CROSS JOIN LATERAL unnest(d.buckets, d.counts) AS h(bucket, n)
            WHERE d.day >= @from_day AND d.day <= @to_day{filters}
            GROUP BY 1, 2, 3
            """;
        cmd.Parameters.AddWithValue("from_day", query.From);
        cmd.Parameters.AddWithValue("to_day", query.To);
        var histograms = new Dictionary<(string, string), DurationHistogram>();
        await using var reader = await cmd.ExecuteReaderAsync(ct);
        while (await reader.ReadAsync(ct))
        {
            var key = (reader.GetString(0), reader.GetString(1));
            if (!histograms.TryGetValue(key, out var histogram))
            {
                histograms[key] = histogram = new DurationHistogram();
            }
            histogram.Add(reader.GetInt16(2), reader.GetInt64(3));
        }
        return histograms;
    }

    public async Task<CommandDetailData> GetCommandAsync(InsightQuery query, string command, CancellationToken ct)
    {
        var grain = TimeBuckets.Auto(query);
        await using var conn = await dataSource.OpenConnectionAsync(ct);
        await using var cmd = conn.CreateCommand();
        var dayFilters = RunFilterSql.Dimensions(query, cmd, "d");
        var monthFilters = RunFilterSql.Dimensions(query, cmd, "m");
        var (prevFrom, prevTo) = query.PreviousPeriod;
        var days = rollups.CommandDays(cmd, prevFrom, query.To);
        var months = rollups.CommandMonths(cmd, query.From, query.To);
        var durations = rollups.CommandDurations(cmd, query.From, query.To);
        var errorTypes = ErrorTypesSql.Top(rollups.ErrorDays(cmd, query.From, query.To), rollups.ErrorMonths(cmd, query.From, query.To),
            "command", "command", dayFilters, monthFilters);
        // Counts from the command-day rollup, one scan: GROUPING SETS give the per-bucket outcome split,
        // per-bucket version and OS runs, the version and OS tables and the totals (the mask says which
        // set a row belongs to); installations from the command-month rollup; percentiles from the duration
        // histograms; error types from the error rollups.
        cmd.CommandText = $"""
            SELECT GROUPING(x.bucket, x.version, x.os), x.bucket, x.version, x.os,
                   coalesce(sum(x.runs), 0)::bigint, coalesce(sum(x.succeeded), 0)::bigint, coalesce(sum(x.failed), 0)::bigint,
                   coalesce(sum(x.aborted), 0)::bigint
            FROM (
                SELECT date_trunc(@grain, d.day::timestamp)::date AS bucket,
                       coalesce(d.tool_version, 'unknown') AS version, coalesce(d.os_name, 'unknown') AS os,
                       d.runs, d.succeeded, d.failed, d.aborted
                FROM {days} d
                WHERE d.day >= @from_day AND d.day <= @to_day AND d.command = @command{dayFilters}
            ) x
            GROUP BY GROUPING SETS ((x.bucket), (x.bucket, x.version), (x.bucket, x.os), (x.version), (x.os), ());

            SELECT coalesce(sum(d.runs), 0)::bigint, coalesce(sum(d.succeeded), 0)::bigint, coalesce(sum(d.failed), 0)::bigint,
                   coalesce(sum(d.aborted), 0)::bigint
            FROM {days} d
            WHERE d.day >= @prev_from_day AND d.day <= @prev_to_day AND d.command = @command{dayFilters};

            {errorTypes}

            SELECT date_trunc(@grain, (d.day + @days)::timestamp)::date, sum(d.runs)::bigint
            FROM {days} d
            WHERE @compare AND d.day >= @prev_from_day AND d.day <= @prev_to_day AND d.command = @command{dayFilters}
            GROUP BY 1;

            SELECT GROUPING(x.version, x.os), x.version, x.os, count(DISTINCT x.installation_key)
            FROM (
                SELECT coalesce(m.tool_version, 'unknown') AS version, coalesce(m.os_name, 'unknown') AS os, m.installation_key
                FROM {months} m
                WHERE {RollupSql.ActiveIn("m", "@from_day", "@to_day")} AND m.command = @command{monthFilters}
            ) x
            GROUP BY GROUPING SETS ((x.version), (x.os), ());

            SELECT h.bucket, sum(h.n)::bigint
            FROM {durations} d
            CROSS JOIN LATERAL unnest(d.buckets, d.counts) AS h(bucket, n)
            WHERE d.day >= @from_day AND d.day <= @to_day AND d.command = @command{dayFilters}
            GROUP BY 1;
            """;
        cmd.Parameters.AddWithValue("from_day", query.From);
        cmd.Parameters.AddWithValue("to_day", query.To);
        cmd.Parameters.AddWithValue("prev_from_day", prevFrom);
        cmd.Parameters.AddWithValue("prev_to_day", prevTo);
        cmd.Parameters.AddWithValue("grain", TimeBuckets.SqlUnit(grain));
        cmd.Parameters.AddWithValue("compare", query.ComparePrevious);
        cmd.Parameters.AddWithValue("days", query.Days);
        cmd.Parameters.AddWithValue("command", command);

        var bucketOutcomes = new Dictionary<DateOnly, Outcomes>();
        var byVersion = new Dictionary<DateOnly, Dictionary<string, long>>();
        var byOs = new Dictionary<DateOnly, Dictionary<string, long>>();
        var versionOutcomes = new List<(string Name, Outcomes Outcomes)>();
        var osOutcomes = new List<(string Name, Outcomes Outcomes)>();
        var versionInstallations = new Dictionary<string, long>(StringComparer.Ordinal);
        var osInstallations = new Dictionary<string, long>(StringComparer.Ordinal);
        var histogram = new DurationHistogram();
        var current = Outcomes.Zero;
        long installations = 0;
        Outcomes previous;
        List<ErrorTypeStats> errors;
        var previousByBucket = new Dictionary<DateOnly, long>();
        await using (var reader = await cmd.ExecuteReaderAsync(ct))
        {
            while (await reader.ReadAsync(ct))
            {
                var mask = reader.GetInt32(0);
                var outcomes = new Outcomes(reader.GetInt64(4), reader.GetInt64(5), reader.GetInt64(6), reader.GetInt64(7));
                switch (mask)
                {
                    case 0b011:
                        bucketOutcomes[reader.GetFieldValue<DateOnly>(1)] = outcomes;
                        break;
                    case 0b001:
                        Slot(byVersion, reader.GetFieldValue<DateOnly>(1))[reader.GetString(2)] = outcomes.Runs;
                        break;
                    case 0b010:
                        Slot(byOs, reader.GetFieldValue<DateOnly>(1))[reader.GetString(3)] = outcomes.Runs;
                        break;
                    case 0b101:
                        versionOutcomes.Add((reader.GetString(2), outcomes));
                        break;
                    case 0b110:
                        osOutcomes.Add((reader.GetString(3), outcomes));
                        break;
                    case 0b111:
                        current = outcomes;
                        break;
                }
            }
            await reader.NextResultAsync(ct);
            await reader.ReadAsync(ct);
            previous = new Outcomes(reader.GetInt64(0), reader.GetInt64(1), reader.GetInt64(2), reader.GetInt64(3));
            await reader.NextResultAsync(ct);
            errors = await ErrorTypesSql.ReadAsync(reader, ct);
            await reader.NextResultAsync(ct);
            while (await reader.ReadAsync(ct))
            {
                previousByBucket[reader.GetFieldValue<DateOnly>(0)] = reader.GetInt64(1);
            }
            await reader.NextResultAsync(ct);
            while (await reader.ReadAsync(ct))
            {
                var n = reader.GetInt64(3);
                switch (reader.GetInt32(0))
                {
                    case 0b01:
                        versionInstallations[reader.GetString(1)] = n;
                        break;
                    case 0b10:
                        osInstallations[reader.GetString(2)] = n;
                        break;
                    default:
                        installations = n;
                        break;
                }
            }
            await reader.NextResultAsync(ct);
            while (await reader.ReadAsync(ct))
            {
                histogram.Add(reader.GetInt16(0), reader.GetInt64(1));
            }
        }
        var versions = versionOutcomes.Select(v => new SliceStats(v.Name, v.Outcomes, versionInstallations.GetValueOrDefault(v.Name))).ToList();
        var oses = osOutcomes.Select(o => new SliceStats(o.Name, o.Outcomes, osInstallations.GetValueOrDefault(o.Name))).ToList();
        var p50 = histogram.Percentile(0.5);
        var p95 = histogram.Percentile(0.95);

        // Buckets without runs are zeros, not gaps.
        var buckets = TimeBuckets.For(query, grain, Today)
            .Select(b => new CommandBucket(b.Start, bucketOutcomes.GetValueOrDefault(b.Start) ?? Outcomes.Zero,
                byVersion.GetValueOrDefault(b.Start) ?? [], byOs.GetValueOrDefault(b.Start) ?? []))
            .ToList();
        var tools = await InsightsSql.ToolsAsync(conn, ct);
        return new CommandDetailData(query, Today, command, grain, current, previous, installations, p50, p95, buckets,
            versions.OrderByDescending(v => v.Outcomes.Runs).ThenBy(v => v.Name, VersionOrder.Instance).ToList(),
            oses.OrderByDescending(o => o.Outcomes.Runs).ThenBy(o => o.Name, StringComparer.Ordinal).ToList(),
            errors, tools)
        {
            PreviousRunsPerBucket = query.ComparePrevious ? buckets.Select(b => previousByBucket.GetValueOrDefault(b.Start)).ToList() : null,
        };
    }

    private static Dictionary<string, long> Slot(Dictionary<DateOnly, Dictionary<string, long>> map, DateOnly key)
    {
        if (!map.TryGetValue(key, out var slot))
        {
            map[key] = slot = new Dictionary<string, long>(StringComparer.Ordinal);
        }
        return slot;
    }
}
