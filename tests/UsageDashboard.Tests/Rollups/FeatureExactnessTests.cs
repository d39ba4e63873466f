using System.Globalization;
using Npgsql;
using UsageDashboard.Insights;
using UsageDashboard.Rollups;
using UsageDashboard.Tests.Infrastructure;

namespace UsageDashboard.Tests.Rollups;

/// <summary>
/// Projects, organisations and feature values read from <c>rollup_feature_days</c>/<c>_months</c> (built
/// slice by slice by <see cref="RollupExactnessTests.Db"/>'s batches, late history and moving runs) against
/// <c>count(DISTINCT …)</c> over <c>runs</c> joined to their events, written here without the migration's
/// SQL functions, over random filters.
/// </summary>
public sealed class FeatureExactnessTests : IClassFixture<RollupExactnessTests.Db>
{
    private readonly RollupExactnessTests.Db _db;

    public FeatureExactnessTests(RollupExactnessTests.Db db) => _db = db;

    public static TheoryData<int> Seeds() => [.. Enumerable.Range(1, 12)];

    /// <summary>Seeds whose queries also filter by runtime, runtime version (major.minor or exact) or build environment.</summary>
    public static TheoryData<int> PlatformSeeds() => [.. Enumerable.Range(101, 10)];

    private FeaturesService Service(bool rollups) =>
        new(_db.DataSource, new FakeTimeProvider(new DateTimeOffset(RollupExactnessTests.End)), RollupSource.Create(rollups));

    private static InsightQuery RandomQuery(int seed, string? tool = null)
    {
        var random = new Random(seed);
        string? Pick(params string?[] values) => values[random.Next(values.Length)];
        tool ??= Pick(null, "dbt", "meltano", "evidently", "jetty");
        var range = Pick("7d", "30d", "90d", null);
        string? from = null, to = null;
        if (range is null)
        {
            var start = RollupExactnessTests.Today.AddDays(-random.Next(5, 80));
            from = start.ToString("yyyy-MM-dd", CultureInfo.InvariantCulture);
            to = start.AddDays(random.Next(0, 40)).ToString("yyyy-MM-dd", CultureInfo.InvariantCulture);
        }
        var env = Pick("all", "all", "ci", "notci");
        var os = Pick(null, null, "linux", "mac", "windows");
        if (seed <= 100)
        {
            return InsightQuery.Parse(tool, range, from, to, env, os, null, null, RollupExactnessTests.Today);
        }
        // At least one platform filter, drawn after the others so the seeds below 100 keep their queries.
        string? runtime = null, runtimeVersion = null, environment = null;
        while (runtime is null && runtimeVersion is null && environment is null)
        {
            runtime = Pick(null, "python", "node");
            runtimeVersion = Pick(null, null, "3.11", "3.12.8", "3.1", "3");
            environment = Pick(null, "prod", "dev", "ci", "all");
        }
        return InsightQuery.Parse(tool, range, from, to, env, os, null, null, RollupExactnessTests.Today,
            runtime: runtime, runtimeVersion: runtimeVersion, environment: environment);
    }

    /// <summary>The query's conditions on <c>runs r</c>, spelled out independently of the services' filter SQL.</summary>
    private static string Where(InsightQuery q, NpgsqlCommand cmd)
    {
        cmd.Parameters.AddWithValue("from", q.FromUtc);
        cmd.Parameters.AddWithValue("to", q.ToUtcExclusive);
        var sql = "r.occurred_at >= @from AND r.occurred_at < @to";
        if (q.Tool is not null)
        {
            sql += " AND r.tool = @tool";
            cmd.Parameters.AddWithValue("tool", q.Tool);
        }
        sql += q.Environment switch { EnvironmentFilter.Ci => " AND r.is_ci", EnvironmentFilter.NotCi => " AND NOT r.is_ci", _ => "" };
        if (q.Os is not null)
        {
            sql += " AND r.os_name = @os";
            cmd.Parameters.AddWithValue("os", q.Os);
        }
        if (q.Runtime is not null)
        {
            sql += " AND r.runtime_name = @runtime";
            cmd.Parameters.AddWithValue("runtime", q.Runtime);
        }
        if (q.RuntimeVersion is not null)
        {
            // The version itself or one below it: the text up to the next '.' is the prefix.
            sql += " AND (r.runtime_version = @runtime_version OR left(r.runtime_version, length(@runtime_version) + 1) = @runtime_version || '.')";
            cmd.Parameters.AddWithValue("runtime_version", q.RuntimeVersion);
        }
        if (q.ToolEnvironment is not null and not InsightQuery.AnyToolEnvironment)
        {
            sql += " AND r.environment = @environment";
            cmd.Parameters.AddWithValue("environment", q.ToolEnvironment);
        }
        return sql;
    }

    /// <summary>Jetty's dev builds count in runs, not in installations and projects, on Jetty's own view.</summary>
    private static string DevBuildsOut(InsightQuery q) => q.ExcludesDevBuilds ? "r.environment IS DISTINCT FROM 'dev'" : "true";

    private const string ProjectOfEvent = """
        coalesce(e.properties->>'projectId', e.properties->'project_id'->>'project_id',
                 CASE WHEN e.properties->>'projectUuidSource' IS DISTINCT FROM 'random' THEN e.properties->>'projectUuid' END,
                 CASE WHEN r.tool = 'jetty' THEN e.properties->>'project_id' END)
        """;

    [Theory]
    [MemberData(nameof(Seeds))]
    [MemberData(nameof(PlatformSeeds))]
    public async Task Projects_RandomFilters_EqualDistinctCountsOverEvents(int seed)
    {
        var query = RandomQuery(seed);

        var counts = await Service(rollups: true).ProjectsAsync(query, default);

        await using var cmd = _db.DataSource.CreateCommand();
        var w = Where(query, cmd);
        var counted = DevBuildsOut(query);
        cmd.CommandText = $"""
            SELECT
              (SELECT count(DISTINCT (x.tool, x.project)) FROM (
                  SELECT r.tool, {ProjectOfEvent} AS project FROM runs r JOIN events e ON e.tool = r.tool AND e.run_key = r.run_key
                  WHERE {w} AND {counted} AND r.tool IN ('dbt', 'meltano', 'jetty')) x WHERE x.project IS NOT NULL),
              (SELECT count(DISTINCT e.properties->>'adapterUniqueId') FROM runs r JOIN events e ON e.tool = r.tool AND e.run_key = r.run_key
               WHERE {w} AND {counted} AND r.tool = 'dbt'),
              (SELECT count(DISTINCT r.id) FROM runs r JOIN events e ON e.tool = r.tool AND e.run_key = r.run_key
               WHERE {w} AND e.properties->>'projectUuidSource' = 'random'),
              (SELECT count(*) FROM runs r WHERE {w})
            """;
        await using var reader = await cmd.ExecuteReaderAsync();
        await reader.ReadAsync();
        var hasProjects = query.Tool is null or "dbt" or "meltano" or "jetty";
        var hasOrganisations = query.Tool is null or "dbt";
        Assert.Equal(hasProjects ? reader.GetInt64(0) : null, counts.Projects);
        Assert.Equal(hasOrganisations ? reader.GetInt64(1) : null, counts.Organisations);
        Assert.Equal(reader.GetInt64(2), counts.ExcludedRuns);
        Assert.Equal(reader.GetInt64(3), counts.Runs);
        if (hasProjects && counts.Runs > 100 && !query.HasPlatformFilter)
        {
            Assert.True(counts.Projects > 0, "the demo's runs name projects");
        }
    }

    /// <summary>One key per tool, each read another way from the wire shape: a string, an array, a hash, the plugins.</summary>
    public static TheoryData<int, string, string> KeyCases()
    {
        var data = new TheoryData<int, string, string>();
        foreach (var seed in Enumerable.Range(1, 3))
        {
            data.Add(seed, "dbt", "materialization");
            data.Add(seed, "dbt", "project_size");
            data.Add(seed, "evidently", "metric");
            data.Add(seed, "evidently", "report_part");
            data.Add(seed, "meltano", "environment");
            data.Add(seed, "meltano", "plugin_category");
            data.Add(seed, "jetty", "connector_stack");
        }
        foreach (var seed in new[] { 101, 102, 103, 104 })
        {
            data.Add(seed, "dbt", "materialization");
            data.Add(seed, "evidently", "metric");
            data.Add(seed, "meltano", "plugin_category");
            data.Add(seed, "jetty", "connector_stack");
        }
        return data;
    }

    private static string ValuesPerRun(string key, string w) => key switch
    {
        "materialization" => $"""
            SELECT DISTINCT r.id, e.properties->'run_model'->>'model_materialization' AS value
            FROM runs r JOIN events e ON e.tool = r.tool AND e.run_key = r.run_key
            WHERE {w} AND e.properties->'run_model'->>'model_materialization' IS NOT NULL
            """,
        "project_size" => $"""
            SELECT DISTINCT r.id, CASE WHEN n = 0 THEN '0 models' WHEN n <= 10 THEN '1-10 models' WHEN n <= 50 THEN '11-50 models'
                                       WHEN n <= 200 THEN '51-200 models' WHEN n <= 1000 THEN '201-1000 models' ELSE 'over 1000 models' END AS value
            FROM runs r JOIN events e ON e.tool = r.tool AND e.run_key = r.run_key
            CROSS JOIN LATERAL (SELECT (e.properties->'resource_counts'->>'models')::int AS n) c
            WHERE {w} AND c.n IS NOT NULL
            """,
        "metric" or "report_part" => $"""
            SELECT DISTINCT r.id, m.value
            FROM runs r JOIN events e ON e.tool = r.tool AND e.run_key = r.run_key
            CROSS JOIN LATERAL jsonb_array_elements_text(e.properties->'{(key == "metric" ? "metrics" : "parts")}') m (value)
            WHERE {w} AND jsonb_typeof(e.properties->'{(key == "metric" ? "metrics" : "parts")}') = 'array'
            """,
        "environment" => $"""
            SELECT DISTINCT r.id, e.properties->>'environmentNameHash' AS value
            FROM runs r JOIN events e ON e.tool = r.tool AND e.run_key = r.run_key
            WHERE {w} AND e.properties->>'environmentNameHash' IS NOT NULL
            """,
        "plugin_category" => $"""
            SELECT DISTINCT r.id, coalesce(r.command, '(none)') || ' · ' || p.type AS value
            FROM runs r JOIN run_plugins p ON p.run_id = r.id
            WHERE {w} AND p.type IN ('extractors', 'loaders', 'transformers', 'utilities', 'orchestrators', 'mappers', 'files')
            """,
        _ => $"""
            SELECT r.id, string_agg(DISTINCT p.name, ' + ' ORDER BY p.name) AS value
            FROM runs r JOIN run_plugins p ON p.run_id = r.id
            WHERE {w} AND p.type = 'connector'
            GROUP BY r.id
            """,
    };

    [Theory]
    [MemberData(nameof(KeyCases))]
    public async Task FeatureValues_RandomFilters_EqualDistinctCountsOverEvents(int seed, string tool, string key)
    {
        var query = RandomQuery(seed, tool);

        var table = await Service(rollups: true).GetKeyAsync(query, FeatureCatalog.Find(tool, key)!, default);

        await using var cmd = _db.DataSource.CreateCommand();
        var w = Where(query, cmd);
        cmd.CommandText = $"""
            WITH rp AS (
                SELECT r.id, r.installation_id, r.status, {DevBuildsOut(query)} AS counted, max({ProjectOfEvent}) AS project
                FROM runs r LEFT JOIN events e ON e.tool = r.tool AND e.run_key = r.run_key
                WHERE {w}
                GROUP BY r.id, r.installation_id, r.status, r.environment
            ), v AS ({ValuesPerRun(key, w)})
            SELECT v.value, count(*), count(*) FILTER (WHERE rp.status = 'succeeded'), count(*) FILTER (WHERE rp.status = 'failed'),
                   count(DISTINCT rp.installation_id) FILTER (WHERE rp.counted), count(DISTINCT rp.project) FILTER (WHERE rp.counted)
            FROM v JOIN rp ON rp.id = v.id
            GROUP BY v.value
            ORDER BY v.value
            """;
        var expected = new List<string>();
        await using (var reader = await cmd.ExecuteReaderAsync())
        {
            while (await reader.ReadAsync())
            {
                expected.Add(string.Join('|', Enumerable.Range(0, 6).Select(i => Convert.ToString(reader.GetValue(i), CultureInfo.InvariantCulture))));
            }
        }
        var actual = table.Values.Select(v => string.Join('|', v.Value, v.Runs, v.Succeeded, v.Failed, v.Installations, v.Projects)).Order(StringComparer.Ordinal);
        Assert.Equal(expected.Order(StringComparer.Ordinal), actual);
        if (query.Days >= 30 && query.Os is null && query.Environment == EnvironmentFilter.All && !query.HasPlatformFilter)
        {
            Assert.NotEmpty(expected);
        }
    }

    [Theory]
    [MemberData(nameof(Seeds))]
    [MemberData(nameof(PlatformSeeds))]
    public async Task Features_RandomFilters_RollupsEqualRawRuns(int seed)
    {
        var query = RandomQuery(seed);

        var rolled = await Service(rollups: true).GetAsync(query, default);
        // The raw baseline aggregates every run and event of the range per request: past Npgsql's default 30 s
        // command timeout for a whole year of the fixture while other test classes load the machine.
        await using var slow = NpgsqlDataSource.Create(_db.ConnectionString + ";Command Timeout=300");
        var raw = await new FeaturesService(slow, new FakeTimeProvider(new DateTimeOffset(RollupExactnessTests.End)), RollupSource.Create(false))
            .GetAsync(query, default);

        Assert.Equal(Flatten(raw), Flatten(rolled));
    }

    [Fact]
    public async Task Features_OneCacheManyQueryShapes_EachEqualsAFreshCount()
    {
        // One service (one cache and its memo) across every query shape, each asked twice and interleaved, so a
        // memoized answer is served for the second asking; a fresh service counts from the segments alone.
        var shared = Service(rollups: true);
        var queries = Enumerable.Range(1, 12).Concat(Enumerable.Range(101, 10)).Select(seed => RandomQuery(seed)).ToList();

        foreach (var query in queries.Concat(queries))
        {
            var fresh = await Service(rollups: true).GetAsync(query, default);
            Assert.Equal(Flatten(fresh), Flatten(await shared.GetAsync(query, default)));
        }
    }

    [Fact]
    public async Task FeatureValues_RuntimeVersionFilter_KeepsOnlyThatVersionsRuns()
    {
        var all = InsightQuery.Parse("dbt", "90d", null, null, null, null, null, null, RollupExactnessTests.Today);
        var filtered = InsightQuery.Parse("dbt", "90d", null, null, null, null, null, null, RollupExactnessTests.Today, runtime: "python", runtimeVersion: "3.11");

        var whole = await Service(rollups: true).GetKeyAsync(all, FeatureCatalog.Find("dbt", "materialization")!, default);
        var part = await Service(rollups: true).GetKeyAsync(filtered, FeatureCatalog.Find("dbt", "materialization")!, default);
        var projects = await Service(rollups: true).ProjectsAsync(filtered, default);

        // The random filters above compare equal to the raw counts; this says the filter bites on the demo's data.
        Assert.InRange(part.Values.Sum(v => v.Runs), 1, whole.Values.Sum(v => v.Runs) - 1);
        Assert.InRange(projects.Runs, 1, (await Service(rollups: true).ProjectsAsync(all, default)).Runs - 1);
    }

    private static string Flatten(FeaturesData data) => string.Join('\n',
        data.Tables.SelectMany(t => t.Values.Select(v => $"{t.Key.Key}|{v.Value}|{v.Runs}|{v.Succeeded}|{v.Failed}|{v.Aborted}|{v.Installations}|{v.Projects}"))
            .Append($"projects|{data.Projects}"));
}
