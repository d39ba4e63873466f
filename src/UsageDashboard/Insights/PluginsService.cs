using Npgsql;
using UsageDashboard.Rollups;

namespace UsageDashboard.Insights;

/// <summary>
/// Queries behind <c>/plugins</c> and <c>/plugins/{plugin}</c> and their API. Reads <c>run_plugins</c>
/// (a plugin's own outcome where the source reports it, else its run's), joined to <c>runs</c> only for
/// OS, tool version and error type.
/// </summary>
public sealed class PluginsService(NpgsqlDataSource dataSource, TimeProvider time, RollupSource rollups, RollupCache? cache = null)
{
    private readonly RollupCache _cache = cache ?? new RollupCache(dataSource, rollups);

    public const int PageLimit = 200;
    public const int ApiLimit = 1000;

    public DateOnly Today => DateOnly.FromDateTime(time.GetUtcNow().UtcDateTime);

    public async Task<PluginsData> GetAsync(InsightQuery query, int limit, CancellationToken ct)
    {
        var tools = ToolsAsync(ct);
        var months = _cache.PluginMonthsAsync(query.Tool, query.From, query.To, ct);
        var days = await _cache.PluginDaysAsync(query.Tool, query.From, query.To, ct);
        var monthRows = await months;
        // Codes are read once every row is in memory, so every value the rows hold has its code.
        var codes = _cache.Codes;
        var filter = ReachFilter.For(query, codes);
        // A plugin is (tool, name, type): counts and versions from the plugin-day rows, installations from the
        // plugin-month rows, counted under one group number per (name, type) pair.
        var pairs = new Dictionary<(int Name, int Type), int>();
        var counts = new Dictionary<(string Tool, int Pair), (Tally Tally, HashSet<int> Versions)>();
        foreach (var segment in days)
        {
            foreach (var row in segment.Rows)
            {
                if (!ReachCounts.InRange(segment.Month, row.Day, query.From, query.To) || !filter.Matches(row.IsCi, row.OsName, row.ToolVersion))
                {
                    continue;
                }
                if (!pairs.TryGetValue((row.Name, row.Type), out var pair))
                {
                    pairs[(row.Name, row.Type)] = pair = pairs.Count;
                }
                if (!counts.TryGetValue((segment.Tool, pair), out var c))
                {
                    counts[(segment.Tool, pair)] = c = (new Tally(), []);
                }
                c.Tally.Add(row.Runs, row.Succeeded, row.Failed, row.Aborted);
                c.Versions.Add(row.Version);
            }
        }
        var reach = ReachCounts.Distinct(monthRows, query.From, query.To, filter,
            (PluginMonthRow r) => pairs.TryGetValue((r.Name, r.Type), out var g) ? g : -1);
        var names = pairs.ToDictionary(p => p.Value, p => (Name: codes.Text(p.Key.Name)!, Type: codes.Text(p.Key.Type)!));
        // Ranked by installations, then runs: volume, never the rate, so small samples can't top the list.
        var rows = counts
            .Select(c => new PluginStats(c.Key.Tool, names[c.Key.Pair].Name, names[c.Key.Pair].Type, c.Value.Tally.ToOutcomes(),
                reach.GetValueOrDefault(c.Key), VersionOrder.Latest(c.Value.Versions.Select(v => codes.Text(v)!))))
            .OrderByDescending(p => p.Installations).ThenByDescending(p => p.Outcomes.Runs)
            .ThenBy(p => p.Name, StringComparer.Ordinal).ThenBy(p => p.Tool, StringComparer.Ordinal).ThenBy(p => p.Type, StringComparer.Ordinal)
            .Take(limit)
            .ToList();
        return new PluginsData(query, Today, rows, await tools);
    }

    private async Task<IReadOnlyList<string>> ToolsAsync(CancellationToken ct)
    {
        await using var conn = await dataSource.OpenConnectionAsync(ct);
        return await InsightsSql.ToolsAsync(conn, ct);
    }

    public async Task<PluginDetailData> GetPluginAsync(InsightQuery query, string plugin, CancellationToken ct)
    {
        var grain = TimeBuckets.Auto(query);
        await using var conn = await dataSource.OpenConnectionAsync(ct);
        await using var cmd = conn.CreateCommand();
        var (join, where) = RunFilterSql.Plugins(query, cmd, joinRuns: true);
        var toolOnly = query.Tool is null ? "" : " AND rp.tool = @tool";
        // Masks of GROUPING(bucket, version, os): 1 = bucket × version (adoption), 5 = per version,
        // 4 = OS × version (matrix), 7 = totals.
        cmd.CommandText = $"""
            SELECT GROUPING(x.bucket, x.version, x.os), x.bucket, x.version, x.os,
                   count(*), count(*) FILTER (WHERE x.status = 'succeeded'), count(*) FILTER (WHERE x.status = 'failed'),
                   count(*) FILTER (WHERE x.status = 'aborted'), count(DISTINCT x.installation_id)
            FROM (
                SELECT date_trunc(@grain, rp.occurred_at AT TIME ZONE 'UTC')::date AS bucket,
                       coalesce(nullif(rp.version, ''), 'unknown') AS version, coalesce(r.os_name, 'unknown') AS os,
                       rp.status, rp.tool || ':' || rp.installation_id AS installation_id
                FROM run_plugins rp{join}
                WHERE rp.occurred_at >= @from AND rp.occurred_at < @to AND rp.name = @plugin{where}
            ) x
            GROUP BY GROUPING SETS ((x.bucket, x.version), (x.version), (x.os, x.version), ());

            SELECT coalesce(nullif(rp.version, ''), 'unknown'), min(rp.occurred_at)
            FROM run_plugins rp
            WHERE rp.name = @plugin{toolOnly}
            GROUP BY 1;

            SELECT coalesce(r.error_type, '(not reported)'), count(*), count(DISTINCT rp.installation_id), max(rp.occurred_at)
            FROM run_plugins rp{join}
            WHERE rp.occurred_at >= @from AND rp.occurred_at < @to AND rp.name = @plugin AND rp.status IN ('failed', 'aborted'){where}
            GROUP BY 1
            ORDER BY 2 DESC, 1
            LIMIT 10;

            SELECT coalesce(array_agg(DISTINCT rp.tool), ARRAY[]::text[]), coalesce(array_agg(DISTINCT rp.type) FILTER (WHERE rp.type <> ''), ARRAY[]::text[])
            FROM run_plugins rp
            WHERE rp.occurred_at >= @from AND rp.occurred_at < @to AND rp.name = @plugin{toolOnly};
            """;
        InsightsSql.AddPeriod(cmd, query);
        cmd.Parameters.AddWithValue("grain", TimeBuckets.SqlUnit(grain));
        cmd.Parameters.AddWithValue("plugin", plugin);

        var adoption = new Dictionary<DateOnly, Dictionary<string, long>>();
        var versions = new List<(string Version, Outcomes Outcomes, long Installations)>();
        var matrix = new List<MatrixCell>();
        var current = Outcomes.Zero;
        long installations = 0;
        var firstSeen = new Dictionary<string, DateTime>(StringComparer.Ordinal);
        var errors = new List<ErrorTypeStats>();
        string[] pluginTools, types;
        await using (var reader = await cmd.ExecuteReaderAsync(ct))
        {
            while (await reader.ReadAsync(ct))
            {
                var outcomes = new Outcomes(reader.GetInt64(4), reader.GetInt64(5), reader.GetInt64(6), reader.GetInt64(7));
                var inst = reader.GetInt64(8);
                switch (reader.GetInt32(0))
                {
                    case 0b001:
                        var bucket = reader.GetFieldValue<DateOnly>(1);
                        if (!adoption.TryGetValue(bucket, out var slot))
                        {
                            adoption[bucket] = slot = new Dictionary<string, long>(StringComparer.Ordinal);
                        }
                        slot[reader.GetString(2)] = inst;
                        break;
                    case 0b101:
                        versions.Add((reader.GetString(2), outcomes, inst));
                        break;
                    case 0b100:
                        matrix.Add(new MatrixCell(reader.GetString(3), reader.GetString(2), outcomes));
                        break;
                    case 0b111:
                        current = outcomes;
                        installations = inst;
                        break;
                }
            }
            await reader.NextResultAsync(ct);
            while (await reader.ReadAsync(ct))
            {
                firstSeen[reader.GetString(0)] = reader.GetDateTime(1);
            }
            await reader.NextResultAsync(ct);
            while (await reader.ReadAsync(ct))
            {
                errors.Add(new ErrorTypeStats(reader.GetString(0), reader.GetInt64(1), reader.GetInt64(2), reader.GetDateTime(3)));
            }
            await reader.NextResultAsync(ct);
            await reader.ReadAsync(ct);
            pluginTools = reader.GetFieldValue<string[]>(0);
            types = reader.GetFieldValue<string[]>(1);
        }

        var buckets = TimeBuckets.For(query, grain, Today)
            .Select(b => new AdoptionBucket(b.Start, adoption.GetValueOrDefault(b.Start) ?? []))
            .ToList();
        return new PluginDetailData(query, Today, plugin, grain, current, installations,
            pluginTools.Order(StringComparer.Ordinal).ToList(), types.Order(StringComparer.Ordinal).ToList(),
            versions.OrderByDescending(v => v.Version, VersionOrder.Instance)
                .Select(v => new PluginVersionStats(v.Version, v.Outcomes, v.Installations, firstSeen.TryGetValue(v.Version, out var f) ? f : null))
                .ToList(),
            matrix, errors, buckets, await InsightsSql.ToolsAsync(conn, ct));
    }
}
