using Npgsql;
using UsageDashboard.Rollups;

namespace UsageDashboard.Insights;

/// <summary>
/// Queries behind <c>/plugins</c> and <c>/plugins/{plugin}</c> and their API, from the plugin-day,
/// plugin-month and plugin-error rollups (a plugin's own outcome where the source reports it, else its
/// run's; OS, tool version and error type are its run's).
/// </summary>
public sealed class PluginsService(NpgsqlDataSource dataSource, TimeProvider time, RollupSource rollups, RollupCache? cache = null)
{
    private readonly RollupCache _cache = cache ?? new RollupCache(dataSource, rollups);

    public const int PageLimit = 200;
    public const int ApiLimit = 1000;

    public DateOnly Today => DateOnly.FromDateTime(time.GetUtcNow().UtcDateTime);

    public async Task<PluginsData> GetAsync(InsightQuery query, int limit, CancellationToken ct)
    {
        var tools = InsightsSql.ToolsAsync(dataSource, ct);
        var months = _cache.PluginMonthsAsync(query.Tool, query.From, query.To, ct);
        var dayRows = await _cache.PluginDaysAsync(query.Tool, query.From, query.To, ct);
        var monthRows = await months;
        // Codes are read once every row is in memory, so every value the rows hold has its code.
        var codes = _cache.Codes;
        var filter = ReachFilter.For(query, codes);
        var days = Collapse.PluginDays.For(dayRows, filter, _cache);
        // A plugin is (tool, name, type): counts and versions from the plugin-day rows, installations from the
        // plugin-month rows, counted under one group number per (name, type) pair.
        var pairs = new Dictionary<(int Name, int Type), int>();
        var counts = new Dictionary<(string Tool, int Pair), (Tally Tally, HashSet<int> Versions)>();
        foreach (var segment in days)
        {
            foreach (var row in segment.Rows)
            {
                if (!ReachCounts.InRange(segment.Month, row.Day, query.From, query.To) || !filter.Matches(in row))
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
            (PluginMonthRow r) => pairs.TryGetValue((r.Name, r.Type), out var g) ? g : -1,
            (tool, f) => _cache.PluginReach(tool, query.From, f),
            key => pairs.TryGetValue(((int)(key >> 32), (int)key), out var g) ? g : -1);
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

    public async Task<PluginDetailData> GetPluginAsync(InsightQuery query, string plugin, CancellationToken ct)
    {
        var grain = TimeBuckets.Auto(query);
        var buckets = TimeBuckets.For(query, grain, Today);
        // Installations from the reach indexes when the filter allows; otherwise the month rows are read by SQL.
        var indexed = await DetailReachFromIndexAsync(query, plugin, buckets, ct);
        // Error types from the in-memory error rollups (as the command page's), loaded while the SQL below runs.
        var errorTypes = ErrorTypes.ForPluginAsync(_cache, query, plugin, ct);
        await using var conn = await dataSource.OpenConnectionAsync(ct);
        await using var cmd = conn.CreateCommand();
        var dayFilters = RunFilterSql.Dimensions(query, cmd, "d");
        var monthFilters = RunFilterSql.Dimensions(query, cmd, "m");
        var toolOnly = query.Tool is null ? "" : " AND d.tool = @tool";
        var days = rollups.PluginDays(cmd, query.From, query.To);
        var months = rollups.PluginMonths(cmd, query.From, query.To);
        // Outcomes from the plugin-day rollup, masks of GROUPING(version, os): 1 = per version,
        // 0 = OS × version (matrix), 3 = totals. Installations (in total, per version, per bucket and
        // version) are counted here from the plugin-month rows over the period. First seen is over all
        // time (the earliest run of any day row); tools and types ignore all filters but the tool.
        cmd.CommandText = $"""
            SELECT GROUPING(x.version, x.os), x.version, x.os,
                   coalesce(sum(x.runs), 0)::bigint, coalesce(sum(x.succeeded), 0)::bigint, coalesce(sum(x.failed), 0)::bigint,
                   coalesce(sum(x.aborted), 0)::bigint
            FROM (
                SELECT coalesce(nullif(d.version, ''), 'unknown') AS version, coalesce(d.os_name, 'unknown') AS os,
                       d.runs, d.succeeded, d.failed, d.aborted
                FROM {days} d
                WHERE d.day >= @from_day AND d.day <= @to_day AND d.name = @plugin{dayFilters}
            ) x
            GROUP BY GROUPING SETS ((x.version), (x.version, x.os), ());

            SELECT m.installation_key, m.month, m.days & rollup_day_mask(m.month, @from_day, @to_day),
                   coalesce(nullif(m.version, ''), 'unknown')
            FROM {months} m
            WHERE @read_months AND {RollupSql.ActiveIn("m", "@from_day", "@to_day")} AND m.name = @plugin{monthFilters};

            SELECT coalesce(nullif(d.version, ''), 'unknown'), min(d.first_at)
            FROM {rollups.PluginDaysAllTime()} d
            WHERE d.name = @plugin{toolOnly}
            GROUP BY 1;

            SELECT coalesce(array_agg(DISTINCT d.tool), ARRAY[]::text[]), coalesce(array_agg(DISTINCT d.type) FILTER (WHERE d.type <> ''), ARRAY[]::text[])
            FROM {days} d
            WHERE d.day >= @from_day AND d.day <= @to_day AND d.name = @plugin{toolOnly};
            """;
        cmd.Parameters.AddWithValue("from_day", query.From);
        cmd.Parameters.AddWithValue("to_day", query.To);
        cmd.Parameters.AddWithValue("plugin", plugin);
        cmd.Parameters.AddWithValue("read_months", indexed is null);

        var versionOutcomes = new List<(string Version, Outcomes Outcomes)>();
        var matrix = new List<MatrixCell>();
        var current = Outcomes.Zero;
        var reach = new BucketReach(query.From, query.To, buckets);
        var firstSeen = new Dictionary<string, DateTime>(StringComparer.Ordinal);
        string[] pluginTools, types;
        await using (var reader = await cmd.ExecuteReaderAsync(ct))
        {
            while (await reader.ReadAsync(ct))
            {
                var outcomes = new Outcomes(reader.GetInt64(3), reader.GetInt64(4), reader.GetInt64(5), reader.GetInt64(6));
                switch (reader.GetInt32(0))
                {
                    case 0b01:
                        versionOutcomes.Add((reader.GetString(1), outcomes));
                        break;
                    case 0b00:
                        matrix.Add(new MatrixCell(reader.GetString(2), reader.GetString(1), outcomes));
                        break;
                    case 0b11:
                        current = outcomes;
                        break;
                }
            }
            await reader.NextResultAsync(ct);
            while (await reader.ReadAsync(ct))
            {
                reach.Add(reader.GetInt32(0), reader.GetFieldValue<DateOnly>(1), reader.GetInt32(2), reader.GetString(3));
            }
            await reader.NextResultAsync(ct);
            while (await reader.ReadAsync(ct))
            {
                firstSeen[reader.GetString(0)] = reader.GetDateTime(1);
            }
            await reader.NextResultAsync(ct);
            await reader.ReadAsync(ct);
            pluginTools = reader.GetFieldValue<string[]>(0);
            types = reader.GetFieldValue<string[]>(1);
        }

        var errors = await errorTypes;
        var (installations, versionInstallations, adoption) = indexed ?? (reach.Installations, reach.ByValue(), reach.ByBucket());
        return new PluginDetailData(query, Today, plugin, grain, current, installations,
            pluginTools.Order(StringComparer.Ordinal).ToList(), types.Order(StringComparer.Ordinal).ToList(),
            versionOutcomes.OrderByDescending(v => v.Version, VersionOrder.Instance).ThenBy(v => v.Version, StringComparer.Ordinal)
                .Select(v => new PluginVersionStats(v.Version, v.Outcomes, versionInstallations.GetValueOrDefault(v.Version),
                    firstSeen.TryGetValue(v.Version, out var f) ? f : null))
                .ToList(),
            // Rows arrive in whatever order the aggregate emits them; a fixed order keeps the API stable.
            matrix.OrderBy(c => c.Os, StringComparer.Ordinal).ThenBy(c => c.Version, StringComparer.Ordinal).ToList(),
            errors,
            buckets.Select(b => new AdoptionBucket(b.Start, adoption.GetValueOrDefault(b.Start) ?? [])).ToList(),
            await InsightsSql.ToolsAsync(conn, ct));
    }

    /// <summary>
    /// A plugin's installations in total, per version and per bucket and version from each tool's reach indexes
    /// (the same counts <see cref="BucketReach"/> makes from the month rows); null when the filter or a tool's
    /// segments need the rows.
    /// </summary>
    private async Task<(long, Dictionary<string, long>, Dictionary<DateOnly, Dictionary<string, long>>)?> DetailReachFromIndexAsync(
        InsightQuery query, string plugin, IReadOnlyList<Bucket> buckets, CancellationToken ct)
    {
        var codes = _cache.Codes;
        var filter = ReachFilter.For(query, codes);
        if (filter.IndexStream is not { } stream)
        {
            return null;
        }
        var segments = await _cache.PluginMonthsAsync(query.Tool, query.From, query.To, ct);
        // After the rows are in memory, so the name has its code if any row has it.
        var name = codes.Find(plugin);
        if (name <= 0)
        {
            return null;
        }
        long installations = 0;
        var versions = new Dictionary<string, long>(StringComparer.Ordinal);
        var byBucket = new Dictionary<DateOnly, Dictionary<string, long>>();
        foreach (var tool in segments.GroupBy(m => m.Tool, StringComparer.Ordinal))
        {
            var toolSegments = tool.ToList();
            var (all, byVersion) = (_cache.PluginNameReach(toolSegments, query.From, filter),
                _cache.PluginVersionReach(toolSegments, query.From, filter));
            if (all is null || byVersion is null || !all.Covers(query.From, query.To))
            {
                return null;
            }
            installations += all.DistinctOf(stream, name, query.From, query.To);
            ReachCounts.AddByText(versions, byVersion.Distinct(stream, query.From, query.To, key => key >> 32 == name), codes);
            ReachCounts.AddPerBucket(byBucket, byVersion, stream, buckets, query.From, query.To, codes, key => key >> 32 == name);
        }
        return (installations, versions, byBucket);
    }
}
