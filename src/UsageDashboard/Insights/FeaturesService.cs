using Npgsql;
using UsageDashboard.Rollups;

namespace UsageDashboard.Insights;

/// <summary>One value of a feature key: its runs and outcomes, and the distinct installations and projects that had it.</summary>
public sealed record FeatureValue(string Value, string Display, long Runs, long Succeeded, long Failed, long Aborted, long Installations, long Projects)
{
    public long Judged => Succeeded + Failed + Aborted;

    public Rate SuccessRate => new(Succeeded, Judged);
}

/// <summary>A key's values, most runs first.</summary>
public sealed record FeatureTable(FeatureKey Key, IReadOnlyList<FeatureValue> Values);

/// <summary>
/// Distinct projects and organisations over a period and filters, with the runs whose project id is not
/// counted (Meltano's random project ids) and every run, so a page can say what share was left out.
/// <see cref="Projects"/> is null when no selected tool names projects (likewise organisations).
/// </summary>
public sealed record ProjectCounts(long? Projects, long? Organisations, long ExcludedRuns, long Runs)
{
    public double? ExcludedShare => Runs == 0 ? null : (double)ExcludedRuns / Runs;
}

public sealed record FeaturesData(InsightQuery Query, IReadOnlyList<string> Tools, IReadOnlyList<FeatureTable> Tables, ProjectCounts Projects, DateOnly Today);

/// <summary>
/// Queries behind <c>/features</c>, <c>GET /api/insights/properties</c> and the project counts of the overview and
/// installations pages: sums over <c>rollup_feature_days</c> and distinct counts over the day bits of
/// <c>rollup_feature_months</c>, read from <see cref="FeatureCache"/>. Exact: the month rows name each
/// installation and project, so a distinct count over any range and filter is a count over rows. With rollups
/// off, the same figures come from SQL over the rollups' defining aggregates (the exactness tests compare both).
/// Every filter of the query applies; on Jetty's own view its dev builds count in runs but not in installations and
/// projects, as on the other pages (<see cref="InsightQuery.ExcludesDevBuilds"/>).
/// </summary>
public sealed class FeaturesService(NpgsqlDataSource dataSource, TimeProvider time, RollupSource rollups, FeatureCache? cache = null)
{
    private readonly FeatureCache _cache = cache ?? new FeatureCache(dataSource);

    public DateOnly Today => DateOnly.FromDateTime(time.GetUtcNow().UtcDateTime);

    /// <summary>Every allowlisted key of the query's tool (the first tool with data when none is chosen).</summary>
    public async Task<FeaturesData> GetAsync(InsightQuery query, CancellationToken ct)
    {
        var tools = await InsightsSql.ToolsAsync(dataSource, ct);
        if (query.Tool is null && tools.Count > 0)
        {
            // The page compares values within one tool: without a choice it shows the first.
            query = query with { Tool = tools[0] };
        }
        var keys = FeatureCatalog.For(query.Tool);
        var tables = await TablesAsync(query, keys, ct);
        var projects = await ProjectsAsync(query, ct);
        return new FeaturesData(query, tools, tables, projects, Today);
    }

    /// <summary>One key's values, for the property API.</summary>
    public async Task<FeatureTable> GetKeyAsync(InsightQuery query, FeatureKey key, CancellationToken ct) =>
        (await TablesAsync(query, [key], ct))[0];

    private async Task<IReadOnlyList<FeatureTable>> TablesAsync(InsightQuery query, IReadOnlyList<FeatureKey> keys, CancellationToken ct)
    {
        if (!rollups.Enabled)
        {
            return await TablesFromSqlAsync(query, keys, ct);
        }
        var daySegments = _cache.SegmentsAsync(FeatureCache.DaysTable, query.Tool, query.From, query.To, ct);
        var monthSegments = await _cache.SegmentsAsync(FeatureCache.MonthsTable, query.Tool, query.From, query.To, ct);
        var days = await daySegments;
        var shape = Shape.Of("tables", query, string.Join('\n', keys.Select(k => k.Key)));
        IReadOnlyList<FeatureCache.Segment> over = [.. days, .. monthSegments];
        if (_cache.TryResult<IReadOnlyList<FeatureTable>>(shape, over, out var held))
        {
            return held;
        }
        var tables = Tables(query, keys, days, monthSegments);
        _cache.StoreResult(shape, over, tables);
        return tables;
    }

    private IReadOnlyList<FeatureTable> Tables(InsightQuery query, IReadOnlyList<FeatureKey> keys, IReadOnlyList<FeatureCache.Segment> days,
        IReadOnlyList<FeatureCache.Segment> monthSegments)
    {
        var filter = Filter.For(query, _cache);
        var keyIds = keys.Select(k => _cache.Find(k.Key)).Where(id => id >= 0).ToHashSet();
        var runs = new Dictionary<(int Key, int Value), long[]>();
        foreach (var segment in days)
        {
            var (first, last) = DayBounds(segment.Month, query);
            foreach (var r in segment.Days)
            {
                if (r.Day >= first && r.Day <= last && keyIds.Contains(r.Key) && filter.Keeps(r))
                {
                    if (!runs.TryGetValue((r.Key, r.Value), out var sums))
                    {
                        runs[(r.Key, r.Value)] = sums = new long[4];
                    }
                    sums[0] += r.Runs;
                    sums[1] += r.Succeeded;
                    sums[2] += r.Failed;
                    sums[3] += r.Aborted;
                }
            }
        }
        var reach = new Dictionary<(int Key, int Value), (HashSet<int> Installations, HashSet<int> Projects)>();
        foreach (var segment in monthSegments)
        {
            var mask = FeatureCache.Mask(segment.Month, query.From, query.To);
            foreach (var r in segment.Months)
            {
                if ((r.Days & mask) != 0 && keyIds.Contains(r.Key) && filter.Keeps(r) && filter.Counts(r))
                {
                    if (!reach.TryGetValue((r.Key, r.Value), out var sets))
                    {
                        reach[(r.Key, r.Value)] = sets = ([], []);
                    }
                    // Installation keys are ids of one tool's installations table rows: unique across tools.
                    sets.Installations.Add(r.Installation);
                    if (r.Project >= 0)
                    {
                        sets.Projects.Add(r.Project);
                    }
                }
            }
        }
        return [.. keys.Select(k =>
        {
            var keyId = _cache.Find(k.Key);
            return new FeatureTable(k, [.. runs
                .Where(p => p.Key.Key == keyId)
                .Select(p =>
                {
                    var value = _cache.Text(p.Key.Value);
                    var sets = reach.GetValueOrDefault(p.Key);
                    return new FeatureValue(value, FeatureCatalog.Display(k.Key, value), p.Value[0], p.Value[1], p.Value[2], p.Value[3],
                        sets.Installations?.Count ?? 0, sets.Projects?.Count ?? 0);
                })
                .OrderByDescending(v => v.Runs).ThenBy(v => v.Value, StringComparer.Ordinal)]);
        })];
    }

    /// <summary>
    /// Everything of a query a feature figure depends on (the <see cref="Filter"/>'s inputs, the period and the tool),
    /// as the key of <see cref="FeatureCache"/>'s memo: fields such as the range's name or paging do not split it.
    /// </summary>
    private sealed record Shape(string Kind, string? Tool, DateOnly From, DateOnly To, EnvironmentFilter Environment, string? Os, string? Version,
        string? Runtime, string? RuntimeVersion, string? ToolEnvironment, bool ExcludesDevBuilds, string Keys)
    {
        public static Shape Of(string kind, InsightQuery q, string keys) => new(kind, q.Tool, q.From, q.To, q.Environment, q.Os, q.Version,
            q.Runtime, q.RuntimeVersion, q.ToolEnvironmentFilter, q.ExcludesDevBuilds, keys);
    }

    /// <summary>The days of <paramref name="month"/> in the query's range, as days of the month.</summary>
    private static (int First, int Last) DayBounds(DateOnly month, InsightQuery query)
    {
        var last = month.AddMonths(1).AddDays(-1);
        return (query.From <= month ? 1 : query.From.Day, query.To >= last ? last.Day : query.To < month ? 0 : query.To.Day);
    }

    /// <summary>
    /// The query's CI, OS, tool-version, runtime, runtime-version and build-environment filters over interned ids
    /// (-2: a value no row holds). A runtime version matches by prefix, so that test is on the text, memoized per id.
    /// </summary>
    private sealed class Filter(InsightQuery query, FeatureCache cache)
    {
        private readonly int? _os = query.Os is null ? null : cache.Find(query.Os);
        private readonly int? _toolVersion = query.Version is null ? null : cache.Find(query.Version);
        private readonly int? _runtime = query.Runtime is null ? null : cache.Find(query.Runtime);
        private readonly int? _environment = query.ToolEnvironmentFilter is null ? null : cache.Find(query.ToolEnvironmentFilter);
        private readonly Dictionary<int, bool>? _runtimeVersions = query.RuntimeVersion is null ? null : [];
        private readonly int? _devBuild = query.ExcludesDevBuilds ? cache.Find(InsightQuery.DevBuild) : null;

        public static Filter For(InsightQuery query, FeatureCache cache) => new(query, cache);

        public bool Keeps(in FeatureDayRow r) => Keeps(r.IsCi, r.Os, r.ToolVersion, r.Runtime, r.RuntimeVersion, r.Environment);

        public bool Keeps(in FeatureMonthRow r) => Keeps(r.IsCi, r.Os, r.ToolVersion, r.Runtime, r.RuntimeVersion, r.Environment);

        /// <summary>Whether a month row's installation and project count: not a Jetty dev build on Jetty's own view (<see cref="InsightQuery.ExcludesDevBuilds"/>).</summary>
        public bool Counts(in FeatureMonthRow r) => _devBuild is not { } dev || r.Environment != dev;

        private bool Keeps(bool isCi, int os, int toolVersion, int runtime, int runtimeVersion, int environment) =>
            (query.Environment == EnvironmentFilter.All || isCi == (query.Environment == EnvironmentFilter.Ci))
            && (_os is not { } o || o == os) && (_toolVersion is not { } v || v == toolVersion)
            && (_runtime is not { } rt || rt == runtime) && (_environment is not { } e || e == environment)
            && (_runtimeVersions is null || MatchesRuntimeVersion(runtimeVersion));

        private bool MatchesRuntimeVersion(int id)
        {
            if (id < 0)
            {
                return false;
            }
            if (!_runtimeVersions!.TryGetValue(id, out var matches))
            {
                _runtimeVersions[id] = matches = InsightQuery.RuntimeVersionMatches(cache.Text(id), query.RuntimeVersion!);
            }
            return matches;
        }
    }

    /// <summary>The SQL of <see cref="Filter.Counts"/> on month rows <c>r</c>: Jetty's dev builds left out of installations and projects.</summary>
    private static string DevBuilds(InsightQuery query) =>
        query.ExcludesDevBuilds ? $" AND r.environment IS DISTINCT FROM '{InsightQuery.DevBuild}'" : "";

    private async Task<IReadOnlyList<FeatureTable>> TablesFromSqlAsync(InsightQuery query, IReadOnlyList<FeatureKey> keys, CancellationToken ct)
    {
        await using var conn = await dataSource.OpenConnectionAsync(ct);
        await using var cmd = new NpgsqlCommand { Connection = conn };
        var days = rollups.FeatureDays(cmd, query.From, query.To);
        var months = rollups.FeatureMonths(cmd, query.From, query.To);
        var dims = RunFilterSql.Dimensions(query, cmd);
        cmd.Parameters.AddWithValue("keys", keys.Select(k => k.Key).ToArray());
        cmd.Parameters.AddWithValue("from", query.From);
        cmd.Parameters.AddWithValue("to", query.To);
        cmd.CommandText = $"""
            SELECT r.key, r.value, sum(r.runs)::bigint, sum(r.succeeded)::bigint, sum(r.failed)::bigint, sum(r.aborted)::bigint
            FROM {days} r
            WHERE r.key = ANY (@keys) AND r.day >= @from AND r.day <= @to{dims}
            GROUP BY r.key, r.value;
            SELECT r.key, r.value, count(DISTINCT r.installation_key), count(DISTINCT r.project)
            FROM {months} r
            WHERE r.key = ANY (@keys) AND {RollupSql.ActiveIn("r", "@from", "@to")}{dims}{DevBuilds(query)}
            GROUP BY r.key, r.value;
            """;
        var runs = new Dictionary<(string, string), (long Runs, long Ok, long Failed, long Aborted)>();
        var reach = new Dictionary<(string, string), (long Installations, long Projects)>();
        await using (var reader = await cmd.ExecuteReaderAsync(ct))
        {
            while (await reader.ReadAsync(ct))
            {
                runs[(reader.GetString(0), reader.GetString(1))] = (reader.GetInt64(2), reader.GetInt64(3), reader.GetInt64(4), reader.GetInt64(5));
            }
            await reader.NextResultAsync(ct);
            while (await reader.ReadAsync(ct))
            {
                reach[(reader.GetString(0), reader.GetString(1))] = (reader.GetInt64(2), reader.GetInt64(3));
            }
        }
        return [.. keys.Select(k => new FeatureTable(k, [.. runs
            .Where(p => p.Key.Item1 == k.Key)
            .Select(p =>
            {
                var (installations, projects) = reach.GetValueOrDefault(p.Key);
                var value = p.Key.Item2;
                return new FeatureValue(value, FeatureCatalog.Display(k.Key, value), p.Value.Runs, p.Value.Ok, p.Value.Failed, p.Value.Aborted,
                    installations, projects);
            })
            .OrderByDescending(v => v.Runs).ThenBy(v => v.Value, StringComparer.Ordinal)]))];
    }

    /// <summary>
    /// Distinct projects and organisations (one tool, or the sum over tools: ids belong to their tool), the
    /// runs with an excluded project id, and all runs, for the query's period and filters.
    /// </summary>
    public async Task<ProjectCounts> ProjectsAsync(InsightQuery query, CancellationToken ct)
    {
        var hasProjects = query.Tool is null || FeatureCatalog.ProjectSources.ContainsKey(query.Tool);
        var hasOrganisations = query.Tool is null || FeatureCatalog.OrganisationSources.ContainsKey(query.Tool);
        if (!rollups.Enabled)
        {
            var counted = await ProjectsFromSqlAsync(query, ct);
            return counted with { Projects = hasProjects ? counted.Projects : null, Organisations = hasOrganisations ? counted.Organisations : null };
        }
        var daySegments = _cache.SegmentsAsync(FeatureCache.DaysTable, query.Tool, query.From, query.To, ct);
        var monthSegments = await _cache.SegmentsAsync(FeatureCache.MonthsTable, query.Tool, query.From, query.To, ct);
        var days = await daySegments;
        var shape = Shape.Of("projects", query, "");
        IReadOnlyList<FeatureCache.Segment> over = [.. days, .. monthSegments];
        if (_cache.TryResult<ProjectCounts>(shape, over, out var held))
        {
            return held;
        }
        var counts = Projects(query, days, monthSegments, hasProjects, hasOrganisations);
        _cache.StoreResult(shape, over, counts);
        return counts;
    }

    private ProjectCounts Projects(InsightQuery query, IReadOnlyList<FeatureCache.Segment> days, IReadOnlyList<FeatureCache.Segment> monthSegments,
        bool hasProjects, bool hasOrganisations)
    {
        var filter = Filter.For(query, _cache);
        int projectKey = _cache.Find(FeatureCatalog.ProjectKey), organisationKey = _cache.Find(FeatureCatalog.OrganisationKey);
        int excludedKey = _cache.Find(FeatureCatalog.ProjectExcludedKey), runsKey = _cache.Find("runs");
        // Project and organisation ids belong to their tool: distinct per tool, summed.
        var projects = new Dictionary<string, HashSet<int>>(StringComparer.Ordinal);
        var organisations = new Dictionary<string, HashSet<int>>(StringComparer.Ordinal);
        foreach (var segment in monthSegments)
        {
            var countProjects = FeatureCatalog.ProjectSources.ContainsKey(segment.Tool);
            var countOrganisations = FeatureCatalog.OrganisationSources.ContainsKey(segment.Tool);
            if (!countProjects && !countOrganisations)
            {
                continue;
            }
            var mask = FeatureCache.Mask(segment.Month, query.From, query.To);
            foreach (var r in segment.Months)
            {
                var into = r.Key == projectKey && countProjects ? projects : r.Key == organisationKey && countOrganisations ? organisations : null;
                if (into is not null && (r.Days & mask) != 0 && filter.Keeps(r) && filter.Counts(r))
                {
                    if (!into.TryGetValue(segment.Tool, out var set))
                    {
                        into[segment.Tool] = set = [];
                    }
                    set.Add(r.Value);
                }
            }
        }
        long excluded = 0, total = 0;
        foreach (var segment in days)
        {
            var (first, last) = DayBounds(segment.Month, query);
            foreach (var r in segment.Days)
            {
                if ((r.Key == excludedKey || r.Key == runsKey) && r.Day >= first && r.Day <= last && filter.Keeps(r))
                {
                    if (r.Key == excludedKey)
                    {
                        excluded += r.Runs;
                    }
                    else
                    {
                        total += r.Runs;
                    }
                }
            }
        }
        return new ProjectCounts(hasProjects ? projects.Values.Sum(s => (long)s.Count) : null,
            hasOrganisations ? organisations.Values.Sum(s => (long)s.Count) : null, excluded, total);
    }

    private async Task<ProjectCounts> ProjectsFromSqlAsync(InsightQuery query, CancellationToken ct)
    {
        await using var conn = await dataSource.OpenConnectionAsync(ct);
        await using var cmd = new NpgsqlCommand { Connection = conn };
        var days = rollups.FeatureDays(cmd, query.From, query.To);
        var months = rollups.FeatureMonths(cmd, query.From, query.To);
        var dims = RunFilterSql.Dimensions(query, cmd);
        cmd.Parameters.AddWithValue("from", query.From);
        cmd.Parameters.AddWithValue("to", query.To);
        cmd.Parameters.AddWithValue("project_tools", FeatureCatalog.ProjectSources.Keys.ToArray());
        cmd.Parameters.AddWithValue("organisation_tools", FeatureCatalog.OrganisationSources.Keys.ToArray());
        // A project id counts for the tools that have one (Evidently's extra may carry a project_id of its
        // own UI projects, which is not the same thing). Distinct per tool, summed: (tool, value) pairs.
        cmd.CommandText = $"""
            SELECT r.key, count(DISTINCT (r.tool, r.value))
            FROM {months} r
            WHERE ((r.key = 'project' AND r.tool = ANY (@project_tools)) OR (r.key = 'organisation' AND r.tool = ANY (@organisation_tools)))
              AND {RollupSql.ActiveIn("r", "@from", "@to")}{dims}{DevBuilds(query)}
            GROUP BY r.key;
            SELECT coalesce(sum(r.runs), 0)::bigint FROM {days} r
            WHERE r.key = 'project_excluded' AND r.day >= @from AND r.day <= @to{dims};
            SELECT coalesce(sum(r.runs), 0)::bigint FROM {days} r
            WHERE r.key = 'runs' AND r.day >= @from AND r.day <= @to{dims};
            """;
        long projects = 0, organisations = 0, excluded, total;
        await using (var reader = await cmd.ExecuteReaderAsync(ct))
        {
            while (await reader.ReadAsync(ct))
            {
                if (reader.GetString(0) == FeatureCatalog.ProjectKey)
                {
                    projects = reader.GetInt64(1);
                }
                else
                {
                    organisations = reader.GetInt64(1);
                }
            }
            await reader.NextResultAsync(ct);
            await reader.ReadAsync(ct);
            excluded = reader.GetInt64(0);
            await reader.NextResultAsync(ct);
            await reader.ReadAsync(ct);
            total = reader.GetInt64(0);
        }
        return new ProjectCounts(projects, organisations, excluded, total);
    }
}
