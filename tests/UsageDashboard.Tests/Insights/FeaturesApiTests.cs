using AngleSharp;
using System.Net;
using System.Text.Json;
using System.Text.Json.Nodes;
using UsageDashboard.Tests.Infrastructure;
using UsageDashboard.Tests.Ingestion;
using static UsageDashboard.Tests.Ingestion.Payloads;

namespace UsageDashboard.Tests.Insights;

/// <summary>
/// Projects, organisations and <c>/features</c> end to end: each tool's events posted in its exact wire shape
/// to the real collector endpoints, rollups refreshed, then the pages and APIs read over real HTTP.
/// </summary>
public sealed class FeaturesApiTests : IClassFixture<FeaturesApiTests.Fixture>
{
    private const string Tp2 = "/com.snowplowanalytics.snowplow/tp2";
    private static readonly DateTimeOffset s_at = IngestionFixture.Now.AddHours(-3);

    public sealed class Fixture : IngestionFixture
    {
        public HttpClient Viewer { get; private set; } = null!;

        public override async Task InitializeAsync()
        {
            await base.InitializeAsync();
            // dbt: two invocations of one project (one failing), a deps run installing a hub package, all from two users of one warehouse account.
            await PostAsync(Client(null), Tp2, PayloadData([
                .. DbtInvocationEvents("aaaaaaaa-0000-4000-8000-000000000001", DbtUser, "table", ok: true, s_at),
                .. DbtInvocationEvents("aaaaaaaa-0000-4000-8000-000000000002", "9c0e5d4b-1a2f-4e3d-8c7b-6a5f4e3d2c1b", "table", ok: false, s_at.AddMinutes(5)),
                .. DbtInvocationEvents("aaaaaaaa-0000-4000-8000-000000000003", DbtUser, "view", ok: true, s_at.AddMinutes(10)),
                .. DbtDepsEvents("aaaaaaaa-0000-4000-8000-000000000004", s_at.AddMinutes(15)),
            ]).ToJsonString());
            // Meltano: two runs of a project with a derived id, one with a random id (excluded from projects).
            await PostAsync(Client(null), Tp2, PayloadData(
                MeltanoRun("0198c7a2-0000-7000-8000-000000000001", "b7854e29-07a4-4200-8ea7-1bda759ccd3d", "derived", s_at),
                MeltanoRun("0198c7a2-0000-7000-8000-000000000002", "b7854e29-07a4-4200-8ea7-1bda759ccd3d", "derived", s_at.AddMinutes(1)),
                MeltanoRun("0198c7a2-0000-7000-8000-000000000003", "5d0a1c2e-3f4b-4c5d-8e6f-708192a3b4c5", "random", s_at.AddMinutes(2))).ToJsonString());
            // Evidently 0.4 (Jitsu): snapshots naming metrics and presets.
            var evidently = new JsonArray(
                EvidentlySnapshot(["ValueDrift", "DatasetMissingValueCount"], ["DataDriftPreset"], null, s_at),
                EvidentlySnapshot(["ValueDrift"], [], "ValueError", s_at.AddMinutes(1)));
            await PostAsync(Client(null), $"/api/v1/s2s/event?token={EvidentlyKey}", evidently.ToJsonString());
            // Jetty: two fetches naming the same connectors (in different orders) and one naming another stack.
            await PostAsync(Client(JettyKey), "/api/v1/events", new JsonArray(
                JettyEvent(["dbt", "snowflake", "tableau"], s_at), JettyEvent(["tableau", "dbt", "snowflake"], s_at.AddMinutes(1)),
                JettyEvent(["snowflake"], s_at.AddMinutes(2))).ToJsonString());
            // The app's own refresher may hold the lock when ours tries (a try-lock): refresh until no mark is left.
            for (var i = 0; i < 300; i++)
            {
                await TestRollups.RefreshAsync(this);
                if (await CountAsync("SELECT count(*) FROM rollup_dirty") == 0)
                {
                    break;
                }
                await Task.Delay(100);
            }
            Viewer = await App.CreateClientAsAsync(UsageDashboard.Access.Roles.Viewer);
        }

        private static async Task PostAsync(HttpClient client, string path, string body)
        {
            var response = await client.PostAsync(path, Json(body, "application/json; charset=utf-8"));
            Assert.True(response.IsSuccessStatusCode, $"POST {path} answered {(int)response.StatusCode}: {await response.Content.ReadAsStringAsync()}");
        }
    }

    private readonly Fixture _app;

    public FeaturesApiTests(Fixture app) => _app = app;

    private static JsonObject WithData(JsonObject context, Action<JsonObject> change)
    {
        change(context["data"]!.AsObject());
        return context;
    }

    private static IEnumerable<JsonObject> DbtInvocationEvents(string inv, string user, string materialization, bool ok, DateTimeOffset at)
    {
        JsonObject Invocation(string progress, string? result) =>
            WithData(DbtInvocation(inv, progress, result), d => d["project_id"] = "06e5b98c2db46f8a72cc4f66410e9b3b");
        var adapter = Context("iglu:com.dbt/adapter_info/jsonschema/1-0-1", new JsonObject
        {
            ["adapter_type"] = "snowflake", ["adapter_unique_id"] = "0f1e2d3c4b5a69788796a5b4c3d2e1f0",
        });
        var counts = Context("iglu:com.dbt/resource_counts/jsonschema/1-0-2", new JsonObject
        {
            ["models"] = 42, ["tests"] = 80, ["snapshots"] = 0, ["analyses"] = 0, ["macros"] = 12, ["operations"] = 0, ["seeds"] = 3, ["sources"] = 9,
        });
        var model = WithData(DbtRunModel(inv, ok ? "SUCCESS" : "ERROR"), d => d["model_materialization"] = materialization);
        yield return DbtEvent("invocation", "start", at, Contexts(Invocation("start", null), DbtPlatform(), DbtEnv()), uid: user);
        yield return DbtEvent("adapter_info", inv, at.AddSeconds(1), Contexts(adapter), uid: user);
        yield return DbtEvent("resource_counts", inv, at.AddSeconds(2), Contexts(counts), uid: user);
        yield return DbtEvent("run_model", inv, at.AddSeconds(10), Contexts(model), uid: user);
        yield return DbtEvent("invocation", "end", at.AddSeconds(12), Contexts(Invocation("end", ok ? "ok" : "error"), DbtPlatform(), DbtEnv()), uid: user);
    }

    private static IEnumerable<JsonObject> DbtDepsEvents(string inv, DateTimeOffset at)
    {
        JsonObject Invocation(string progress, string? result) =>
            WithData(DbtInvocation(inv, progress, result, command: "deps"), d => d["project_id"] = "06e5b98c2db46f8a72cc4f66410e9b3b");
        var package = DbtEvent("package", inv, at.AddSeconds(1), Contexts(Invocation("start", null),
            Context("iglu:com.dbt/package_install/jsonschema/1-0-0", new JsonObject { ["name"] = "dbt-labs/dbt_utils", ["source"] = "hub", ["version"] = "1.3.0" })));
        package["se_pr"] = "install";
        var deprecation = DbtEvent("deprecation", inv, at.AddSeconds(2), Contexts(
            Context("iglu:com.dbt/deprecation_warn/jsonschema/1-0-0", new JsonObject { ["deprecation_name"] = "project-config-data-paths" })));
        deprecation["se_pr"] = "warn";
        yield return DbtEvent("invocation", "start", at, Contexts(Invocation("start", null), DbtPlatform(), DbtEnv()));
        yield return package;
        yield return deprecation;
        yield return DbtEvent("invocation", "end", at.AddSeconds(3), Contexts(Invocation("end", "ok"), DbtPlatform(), DbtEnv()));
    }

    /// <summary>A completed Meltano `run` whose project_context names the given project id and its source.</summary>
    private static JsonObject MeltanoRun(string processUuid, string projectUuid, string source, DateTimeOffset at)
    {
        var contexts = JsonNode.Parse(MeltanoContexts(processUuid))!.AsObject();
        foreach (var c in contexts["data"]!.AsArray())
        {
            if (c!["schema"]!.GetValue<string>().Contains("project_context", StringComparison.Ordinal))
            {
                c["data"]!["project_uuid"] = projectUuid;
                c["data"]!["project_uuid_source"] = source;
                c["data"]!["context_uuid"] = processUuid;
            }
        }
        return MeltanoEvent("iglu:com.meltano/cli_event/jsonschema/1-0-1", CliEvent("completed"), at, contexts.ToJsonString());
    }

    private static JsonObject EvidentlySnapshot(string[] metrics, string[] presets, string? error, DateTimeOffset at) => new()
    {
        ["interface"] = "service", ["action"] = "get_snapshot_data", ["error"] = error,
        ["extra"] = new JsonObject
        {
            ["snapshot_type"] = "report", ["metrics"] = new JsonArray([.. metrics.Select(m => (JsonNode)m)]),
            ["metric_presets"] = new JsonArray([.. presets.Select(m => (JsonNode)m)]), ["metric_generators"] = new JsonArray(),
            ["tests"] = new JsonArray(), ["test_presets"] = new JsonArray(), ["test_generators"] = new JsonArray(),
        },
        ["python_version"] = new JsonObject { ["major"] = 3, ["minor"] = 11, ["patch"] = 9 },
        ["tool_name"] = "evidently", ["tool_version"] = "0.7.14", ["_timestamp"] = at.UtcDateTime.ToString("O"),
        ["user_id"] = "4f3c2b1a-9d8e-4c7b-a6f5-0e1d2c3b4a59", ["group_id"] = null, ["os_name"] = "linux", ["os_version"] = "22.04",
    };

    private static JsonObject JettyEvent(string[] connectors, DateTimeOffset at) => new()
    {
        ["environment"] = "dev",
        ["event"] = new JsonObject { ["name"] = "invoked_fetch", ["properties"] = new JsonObject { ["connector_types"] = new JsonArray([.. connectors.Select(c => (JsonNode)c)]) } },
        ["jetty_version"] = "0.1.0", ["platform"] = "mac", ["project_id"] = "8c48dc5c-7762-46f3-bc84-524bc85ef5a8", ["schema_version"] = "0.0.1",
        ["created"] = at.UtcDateTime.ToString("yyyy-MM-ddTHH:mm:ss.fffffffZ"), ["user_id"] = "e677e873-2870-49c5-bc28-c1a8be520465",
    };

    private async Task<JsonElement> GetJsonAsync(string path)
    {
        var response = await _app.Viewer.GetAsync(path);
        Assert.True(response.IsSuccessStatusCode, $"GET {path} answered {(int)response.StatusCode}: {await response.Content.ReadAsStringAsync()}");
        return await response.ReadJsonAsync();
    }

    private static Dictionary<string, JsonElement> Items(JsonElement body) =>
        body.GetProperty("items").EnumerateArray().ToDictionary(i => i.GetProperty("value").GetString()!);

    [Fact]
    public async Task GetProperty_DbtMaterialization_RunsInstallationsProjectsAndWilsonInterval()
    {
        var body = await GetJsonAsync("/api/insights/properties?tool=dbt&key=materialization&range=7d");

        var items = Items(body);
        Assert.Equal(2, items["table"].GetProperty("runs").GetInt32());
        Assert.Equal(1, items["table"].GetProperty("failedRuns").GetInt32());
        Assert.Equal(2, items["table"].GetProperty("installations").GetInt32());
        Assert.Equal(1, items["table"].GetProperty("projects").GetInt32());
        Assert.Equal(0.5, items["table"].GetProperty("successRate").GetDouble());
        var interval = items["table"].GetProperty("successRateInterval").EnumerateArray().Select(x => x.GetDouble()).ToArray();
        var (low, high) = UsageDashboard.Insights.Wilson.Interval(1, 2);
        Assert.Equal([Math.Round(low, 6), Math.Round(high, 6)], interval);
        Assert.Equal(1, items["view"].GetProperty("runs").GetInt32());
        Assert.Equal(1.0, items["view"].GetProperty("successRate").GetDouble());
    }

    [Fact]
    public async Task GetProperty_DbtPackagesSizeAndDeprecations_ReadFromTheirContexts()
    {
        var packages = Items(await GetJsonAsync("/api/insights/properties?tool=dbt&key=package_version&range=7d"));
        var sizes = Items(await GetJsonAsync("/api/insights/properties?tool=dbt&key=project_size&range=7d"));
        var deprecations = Items(await GetJsonAsync("/api/insights/properties?tool=dbt&key=deprecation&range=7d"));

        Assert.Equal(1, packages["dbt-labs/dbt_utils 1.3.0"].GetProperty("runs").GetInt32());
        Assert.Equal(3, sizes["11-50 models"].GetProperty("runs").GetInt32());
        Assert.Equal(1, deprecations["project-config-data-paths"].GetProperty("runs").GetInt32());
    }

    [Fact]
    public async Task GetProperty_EvidentlyMetricsAndJettyStacks_CountedOncePerRun()
    {
        var metrics = Items(await GetJsonAsync("/api/insights/properties?tool=evidently&key=metric&range=7d"));
        // The posted Jetty events are dev builds: counted in runs everywhere, in installations and projects only with environment=all.
        var stacks = Items(await GetJsonAsync("/api/insights/properties?tool=jetty&key=connector_stack&range=7d&environment=all"));
        var defaultView = Items(await GetJsonAsync("/api/insights/properties?tool=jetty&key=connector_stack&range=7d"));

        Assert.Equal(2, metrics["ValueDrift"].GetProperty("runs").GetInt32());
        Assert.Equal(1, metrics["ValueDrift"].GetProperty("failedRuns").GetInt32());
        Assert.Equal(1, metrics["DatasetMissingValueCount"].GetProperty("runs").GetInt32());
        Assert.Equal(2, stacks["dbt + snowflake + tableau"].GetProperty("runs").GetInt32());
        Assert.Equal(1, stacks["snowflake"].GetProperty("runs").GetInt32());
        Assert.Equal(1, stacks["snowflake"].GetProperty("projects").GetInt32());
        Assert.Equal(1, defaultView["snowflake"].GetProperty("runs").GetInt32());
        Assert.Equal(0, defaultView["snowflake"].GetProperty("installations").GetInt32());
        Assert.Equal(0, defaultView["snowflake"].GetProperty("projects").GetInt32());
        // Jetty reports no outcome: no rate, not a 0 % one.
        Assert.Equal(JsonValueKind.Null, stacks["snowflake"].GetProperty("successRate").ValueKind);
    }

    [Fact]
    public async Task FeaturesPage_JettyView_SaysDevBuildsAreLeftOutOfInstallations()
    {
        var jetty = await _app.Viewer.GetStringAsync("/features?tool=jetty&range=7d");
        var everyBuild = await _app.Viewer.GetStringAsync("/features?tool=jetty&range=7d&environment=all");

        Assert.Contains("data-dev-builds", jetty, StringComparison.Ordinal);
        Assert.DoesNotContain("data-dev-builds", everyBuild, StringComparison.Ordinal);
    }

    [Fact]
    public async Task GetProperty_Csv_OneRowPerValueWithHeader()
    {
        var response = await _app.Viewer.GetAsync("/api/insights/properties?tool=meltano&key=plugin_category&range=7d&format=csv");

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.StartsWith("text/csv", response.Content.Headers.ContentType!.ToString(), StringComparison.Ordinal);
        var lines = (await response.Content.ReadAsStringAsync()).Split("\r\n", StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal("key,value,label,runs,failed_runs,aborted_runs,success_rate,ci_low,ci_high,judged_runs,installations,projects", lines[0]);
        // Three runs, all succeeded, of one installation; the random project id of the third is not a project.
        Assert.Contains(lines, l => l.StartsWith("plugin_category,run · extractors,run · extractors,3,0,0,1,", StringComparison.Ordinal) && l.EndsWith(",3,1,1", StringComparison.Ordinal));
        Assert.Contains(lines, l => l.StartsWith("plugin_category,run · loaders,run · loaders,3,", StringComparison.Ordinal));
    }

    [Fact]
    public async Task GetProperty_KeyOutsideAllowlist_400WithTheList()
    {
        var response = await _app.Viewer.GetAsync("/api/insights/properties?tool=dbt&key=projectId");

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        var body = await response.ReadJsonAsync();
        Assert.Equal("unknown_key", body.GetProperty("error").GetString());
        var allowed = body.GetProperty("allowed").EnumerateArray().Select(x => x.GetString()).ToList();
        Assert.Contains("materialization", allowed);
        Assert.DoesNotContain("project", allowed);
    }

    [Fact]
    public async Task FeaturesPage_PeriodOutOfBounds_400LikeEveryPage()
    {
        var response = await _app.Viewer.GetAsync("/features?tool=dbt&from=1900-01-01&to=1900-02-01");

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
    }

    [Fact]
    public async Task GetOverview_RandomMeltanoProjectIds_ExcludedAndReported()
    {
        var meltano = (await GetJsonAsync("/api/insights/overview?tool=meltano&range=7d")).GetProperty("projects");
        var dbt = (await GetJsonAsync("/api/insights/installations?tool=dbt&range=7d")).GetProperty("projects");
        var all = (await GetJsonAsync("/api/insights/overview?range=7d")).GetProperty("projects");
        var allBuilds = (await GetJsonAsync("/api/insights/overview?range=7d&environment=all")).GetProperty("projects");

        Assert.Equal(1, meltano.GetProperty("projects").GetInt32());
        Assert.Equal(JsonValueKind.Null, meltano.GetProperty("organisations").ValueKind);
        Assert.Equal(1, meltano.GetProperty("excludedRuns").GetInt32());
        Assert.Equal(1.0 / 3, meltano.GetProperty("excludedShare").GetDouble(), 6);
        Assert.Equal(1, dbt.GetProperty("projects").GetInt32());
        Assert.Equal(1, dbt.GetProperty("organisations").GetInt32());
        // dbt, Meltano and Jetty have one project each; Evidently names none. Jetty's is a dev build, left out of
        // the all-tools view by default and counted with environment=all.
        Assert.Equal(2, all.GetProperty("projects").GetInt32());
        Assert.Equal(3, allBuilds.GetProperty("projects").GetInt32());
    }

    [Fact]
    public async Task OverviewPage_MeltanoWithRandomIds_ShowsProjectsAndTheExclusion()
    {
        // Decoded: the renderer escapes non-ASCII and '+' as character references.
        var html = WebUtility.HtmlDecode(await _app.Viewer.GetStringAsync("/?tool=meltano&range=7d"));

        var doc = await BrowsingContext.New(Configuration.Default).OpenAsync(r => r.Content(html));
        var line = doc.QuerySelector("[data-projects]")?.TextContent.Trim();
        Assert.True(line is not null, "the overview shows a projects line");
        Assert.StartsWith("projects: 1 (Meltano runs with a random project id are not counted: 33.3%", line, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("dbt", "materialization", "table")]
    [InlineData("evidently", "metric", "ValueDrift")]
    [InlineData("jetty", "connector_stack", "dbt + snowflake + tableau")]
    [InlineData("meltano", "environment", ">dev<")]
    public async Task FeaturesPage_EachTool_ShowsItsValuesWithCountsAndIntervals(string tool, string key, string value)
    {
        var html = WebUtility.HtmlDecode(await _app.Viewer.GetStringAsync($"/features?tool={tool}&range=7d"));

        Assert.Contains($"data-feature=\"{key}\"", html, StringComparison.Ordinal);
        Assert.Contains(value, html, StringComparison.Ordinal);
        Assert.Contains("data-rate", html, StringComparison.Ordinal);
        if (tool is "dbt")
        {
            Assert.Contains("projects: 1 · organisations: 1", html, StringComparison.Ordinal);
            Assert.Contains("n=2", html, StringComparison.Ordinal);
        }
    }
}
