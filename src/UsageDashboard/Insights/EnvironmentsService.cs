using Npgsql;
using UsageDashboard.Rollups;

namespace UsageDashboard.Insights;

/// <summary>
/// Queries behind <c>/environments</c> and its API: OS, OS version, runtime, runtime version and tool
/// version, as installations per value now and per bucket.
/// </summary>
public sealed class EnvironmentsService(NpgsqlDataSource dataSource, TimeProvider time, RollupSource rollups)
{
    /// <summary>Fixed SQL expressions per dimension over the grouped <c>base</c> rows (never user text).</summary>
    private static readonly (EnvironmentDimension Dimension, string Sql)[] s_dimensions =
    [
        (EnvironmentDimension.Os, "os"),
        (EnvironmentDimension.OsVersion, "os || ' ' || osv"),
        (EnvironmentDimension.Runtime, "rt"),
        (EnvironmentDimension.RuntimeVersion, "rt || ' ' || rtv"),
        (EnvironmentDimension.ToolVersion, "tv"),
    ];

    public DateOnly Today => DateOnly.FromDateTime(time.GetUtcNow().UtcDateTime);

    public async Task<EnvironmentsData> GetAsync(InsightQuery query, CancellationToken ct)
    {
        var grain = TimeBuckets.Auto(query);
        await using var conn = await dataSource.OpenConnectionAsync(ct);
        await using var cmd = conn.CreateCommand();
        var filters = RunFilterSql.Dimensions(query, cmd, "d");
        var days = rollups.InstallationDays(cmd, query.From, query.To);
        // Installation-days are first reduced to one row per installation, bucket and environment; each dimension
        // then groups that small set twice (whole period, per bucket).
        // DISTINCT through a grouped subquery (hashable) instead of count(DISTINCT ...), which always sorts.
        var branches = s_dimensions.SelectMany(d => new[]
        {
            $"SELECT {(int)d.Dimension}, v, NULL::date, count(*), sum(runs)::bigint FROM (SELECT {d.Sql} AS v, installation_key, sum(runs) AS runs FROM base GROUP BY 1, 2) x GROUP BY v",
            $"SELECT {(int)d.Dimension}, v, bucket, count(*), sum(runs)::bigint FROM (SELECT {d.Sql} AS v, bucket, installation_key, sum(runs) AS runs FROM base GROUP BY 1, 2, 3) x GROUP BY v, bucket",
        });
        cmd.CommandText = $"""
            {InsightsSql.WorkMem}
            WITH base AS MATERIALIZED (
                SELECT d.installation_key, date_trunc(@grain, d.day::timestamp)::date AS bucket,
                       coalesce(d.os_name, 'unknown') AS os, coalesce(d.os_version, '?') AS osv,
                       coalesce(d.runtime_name, 'unknown') AS rt, coalesce(d.runtime_version, '?') AS rtv,
                       coalesce(d.tool_version, 'unknown') AS tv, sum(d.runs) AS runs
                FROM {days} d
                WHERE d.day >= @from_day AND d.day <= @to_day{filters}
                GROUP BY 1, 2, 3, 4, 5, 6, 7
            )
            {string.Join("\nUNION ALL\n", branches)}
            UNION ALL
            SELECT -1, '', NULL::date, count(*), coalesce(sum(runs), 0)::bigint FROM (SELECT installation_key, sum(runs) AS runs FROM base GROUP BY 1) x;
            """;
        cmd.Parameters.AddWithValue("from_day", query.From);
        cmd.Parameters.AddWithValue("to_day", query.To);
        cmd.Parameters.AddWithValue("grain", TimeBuckets.SqlUnit(grain));

        var totals = s_dimensions.ToDictionary(d => d.Dimension, _ => new List<DimensionValue>());
        var perBucket = s_dimensions.ToDictionary(d => d.Dimension, _ => new Dictionary<DateOnly, Dictionary<string, long>>());
        long installations = 0;
        await using (var reader = await cmd.ExecuteReaderAsync(ct))
        {
            while (await reader.ReadAsync(ct))
            {
                var dim = reader.GetInt32(0);
                if (dim < 0)
                {
                    installations = reader.GetInt64(3);
                    continue;
                }
                var dimension = (EnvironmentDimension)dim;
                var value = reader.GetString(1);
                if (reader.IsDBNull(2))
                {
                    totals[dimension].Add(new DimensionValue(value, reader.GetInt64(3), reader.GetInt64(4)));
                    continue;
                }
                var bucket = reader.GetFieldValue<DateOnly>(2);
                if (!perBucket[dimension].TryGetValue(bucket, out var slot))
                {
                    perBucket[dimension][bucket] = slot = new Dictionary<string, long>(StringComparer.Ordinal);
                }
                slot[value] = reader.GetInt64(3);
            }
        }

        var buckets = TimeBuckets.For(query, grain, Today);
        var dimensions = s_dimensions.Select(d => new DimensionBreakdown(
            d.Dimension,
            totals[d.Dimension].OrderByDescending(v => v.Installations).ThenByDescending(v => v.Runs).ThenBy(v => v.Value, StringComparer.Ordinal).ToList(),
            buckets.Select(b => new AdoptionBucket(b.Start, perBucket[d.Dimension].GetValueOrDefault(b.Start) ?? [])).ToList())).ToList();
        return new EnvironmentsData(query, Today, grain, installations, dimensions, await InsightsSql.ToolsAsync(conn, ct));
    }
}
