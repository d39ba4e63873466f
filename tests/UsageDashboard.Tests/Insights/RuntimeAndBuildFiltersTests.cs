using System.Globalization;
using System.Net;
using System.Text.Json;
using System.Text.Json.Nodes;
using AngleSharp;
using UsageDashboard.Insights;
using UsageDashboard.Tests.Ingestion;
using static UsageDashboard.Tests.Ingestion.Payloads;

namespace UsageDashboard.Tests.Insights;

/// <summary>
/// Runtime, runtime version and Jetty's build environment as filters, Jetty's dev builds and panics, through the real
/// app: events posted over HTTP in the sources' wire shapes (native JSON; Jetty's Firestore document), read back from
/// the insights APIs and pages once the app's own refresher has folded them into the rollups.
/// </summary>
public sealed class RuntimeAndBuildFiltersTests : IClassFixture<RuntimeAndBuildFiltersTests.Fixture>
{
    public sealed class Fixture : IngestionFixture
    {
        public HttpClient Viewer { get; private set; } = null!;

        public override async Task InitializeAsync()
        {
            await base.InitializeAsync();
            var t = Now.AddHours(-3);
            var native = new JsonArray(
                // python 3.11.4: three successes, one failure; 3.12.4: two successes; 3.1.2 (not a 3.11): one failure.
                CreateRuntimeEvent("py311", "3.11.4", "succeeded", t),
                CreateRuntimeEvent("py311", "3.11.4", "succeeded", t.AddMinutes(1)),
                CreateRuntimeEvent("py311", "3.11.4", "succeeded", t.AddMinutes(2)),
                CreateRuntimeEvent("py311", "3.11.4", "failed", t.AddMinutes(3)),
                CreateRuntimeEvent("py312", "3.12.4", "succeeded", t.AddMinutes(4)),
                CreateRuntimeEvent("py312", "3.12.4", "succeeded", t.AddMinutes(5)),
                CreateRuntimeEvent("py31", "3.1.2", "failed", t.AddMinutes(6)));
            Assert.True((await Client().PostAsync("/api/v1/events", Json(native))).IsSuccessStatusCode);
            // Jetty: a release build with three fetches and one panic, a dev build with two plans.
            foreach (var (user, environment, name, minute) in new[]
            {
                ("jetty-prod", "prod", "invoked_fetch", 10), ("jetty-prod", "prod", "invoked_fetch", 11), ("jetty-prod", "prod", "invoked_fetch", 12),
                ("jetty-prod", "prod", "panicked", 13), ("jetty-dev", "dev", "invoked_plan", 14), ("jetty-dev", "dev", "invoked_plan", 15),
            })
            {
                var posted = await Client(JettyKey).PostAsync("/api/v1/events", Json(JettyFirestore(user, environment, name, t.AddMinutes(minute))));
                Assert.True(posted.IsSuccessStatusCode, await posted.Content.ReadAsStringAsync());
            }
            Viewer = await App.CreateClientAsAsync(UsageDashboard.Access.Roles.Viewer);
            // The app's own refresher folds the runs in; wait until both tools show all of them.
            for (var waited = 0; waited < 300; waited++)
            {
                var mytool = await Viewer.GetStringAsync("/api/insights/overview?tool=mytool&range=7d");
                var jetty = await Viewer.GetStringAsync("/api/insights/overview?tool=jetty&range=7d");
                if (Runs(mytool) == 7 && Runs(jetty) == 6)
                {
                    return;
                }
                await Task.Delay(100);
            }
            throw new TimeoutException("the rollups never showed the posted runs");
        }

        private static long Runs(string body) => JsonDocument.Parse(body).RootElement.GetProperty("runs").GetInt64();

        private static JsonObject CreateRuntimeEvent(string installation, string python, string status, DateTimeOffset at)
        {
            var e = CreateNativeEvent(installationId: installation, status: status, command: "sync", timestamp: at);
            e["runtime"] = new JsonObject { ["name"] = "python", ["version"] = python };
            return e;
        }

        /// <summary>The Firestore document Jetty's CLI POSTs (telemetry-formats §4.4), for one invocation.</summary>
        private static JsonObject JettyFirestore(string user, string environment, string name, DateTimeOffset created)
        {
            static JsonObject Text(string value) => new() { ["stringValue"] = value };
            return new JsonObject
            {
                ["fields"] = new JsonObject
                {
                    ["created"] = new JsonObject { ["timestampValue"] = created.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss.ffffff'Z'", CultureInfo.InvariantCulture) },
                    ["user_id"] = Text(user),
                    ["project_id"] = Text("a51f7e30-c2d4-4b69-8e17-3f0b92d6c4e1"),
                    ["jetty_version"] = Text("0.3.2"),
                    ["schema_version"] = Text("0.0.1"),
                    ["platform"] = Text("mac"),
                    ["event"] = new JsonObject { ["mapValue"] = new JsonObject { ["fields"] = new JsonObject { ["name"] = Text(name) } } },
                    ["environment"] = Text(environment),
                },
            };
        }
    }

    private readonly Fixture _app;

    public RuntimeAndBuildFiltersTests(Fixture app) => _app = app;

    private async Task<JsonElement> GetJsonAsync(string url)
    {
        var response = await _app.Viewer.GetAsync(url);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        return await response.ReadJsonAsync();
    }

    private async Task<long> RawAsync(string sql) => await _app.CountAsync(sql);

    [Fact]
    public async Task OverviewApi_RuntimeVersionMajorMinor_EqualsRawRunsOfThatVersionAndItsPatches()
    {
        var body = await GetJsonAsync("/api/insights/overview?tool=mytool&range=7d&runtime=python&runtimeVersion=3.11");

        var rawRuns = await RawAsync("SELECT count(*) FROM runs WHERE tool = 'mytool' AND runtime_name = 'python' AND (runtime_version = '3.11' OR runtime_version LIKE '3.11.%')");
        var rawInstallations = await RawAsync("SELECT count(DISTINCT installation_id) FROM runs WHERE tool = 'mytool' AND runtime_version LIKE '3.11.%'");
        Assert.Equal(4, rawRuns);
        Assert.Equal(rawRuns, body.GetProperty("runs").GetInt64());
        Assert.Equal(rawInstallations, body.GetProperty("activeInstallations").GetInt64());
        Assert.Equal(0.75, body.GetProperty("successRate").GetDouble());
        Assert.Equal("3.11", body.GetProperty("query").GetProperty("runtimeVersion").GetString());
    }

    [Fact]
    public async Task CommandsApi_RuntimeVersionPrefixAtDotBoundary_OnlyThatMinor()
    {
        // 3.1 is not a prefix of 3.11.4 or 3.12.4: only the 3.1.2 run (read from runs narrowed to the runtime).
        var body = await GetJsonAsync("/api/insights/commands?tool=mytool&range=7d&runtime=python&runtimeVersion=3.1");

        var sync = Assert.Single(body.GetProperty("items").EnumerateArray());
        Assert.Equal(1, sync.GetProperty("runs").GetInt64());
        Assert.Equal(1, sync.GetProperty("failedRuns").GetInt64());
        Assert.Equal(1, sync.GetProperty("installations").GetInt64());
    }

    [Fact]
    public async Task InstallationsApi_UnknownRuntime_NothingMatches()
    {
        var body = await GetJsonAsync("/api/insights/overview?tool=mytool&range=7d&runtime=node");

        Assert.Equal(0, body.GetProperty("runs").GetInt64());
        Assert.Equal(0, body.GetProperty("activeInstallations").GetInt64());
    }

    [Fact]
    public async Task EnvironmentsApi_ByRuntimeVersionOsAndToolVersion_SuccessRatesWithWilsonIntervals()
    {
        var body = await GetJsonAsync("/api/insights/environments?tool=mytool&range=7d");

        var items = body.GetProperty("items").EnumerateArray().ToDictionary(i => (i.GetProperty("dimension").GetString(), i.GetProperty("value").GetString()));
        var py311 = items[("runtime_version", "python 3.11.4")];
        Assert.Equal(0.75, py311.GetProperty("successRate").GetDouble());
        Assert.Equal(4, py311.GetProperty("judgedRuns").GetInt64());
        var (low, high) = Wilson.Interval(3, 4);
        Assert.Equal([Math.Round(low, 6), Math.Round(high, 6)], py311.GetProperty("successRateInterval").EnumerateArray().Select(v => v.GetDouble()));
        // By runtime, OS and tool version: all seven runs, five of them succeeded.
        foreach (var key in new[] { ("runtime", "python"), ("os", "linux"), ("tool_version", "2.4.1") })
        {
            Assert.Equal(5.0 / 7, items[key].GetProperty("successRate").GetDouble(), 9);
            Assert.Equal(7, items[key].GetProperty("judgedRuns").GetInt64());
        }
    }

    [Fact]
    public async Task EnvironmentsPage_ByRuntime_ShowsSuccessRateAndInterval()
    {
        var html = await _app.Viewer.GetStringAsync("/environments?tool=mytool&range=7d");
        var doc = await BrowsingContext.New(Configuration.Default).OpenAsync(r => r.Content(html));

        var row = doc.QuerySelectorAll("[data-table=runtimeversion] table tbody tr").Single(r => r.TextContent.Contains("python 3.11.4", StringComparison.Ordinal));
        var (low, high) = Wilson.Interval(3, 4);
        Assert.Contains("75.0%", row.TextContent, StringComparison.Ordinal);
        Assert.Contains(Format.Interval((low, high)), row.TextContent, StringComparison.Ordinal);
        Assert.Contains("n=4", row.TextContent, StringComparison.Ordinal);
        Assert.NotNull(doc.QuerySelector("[data-filter=runtime]"));
        Assert.NotNull(doc.QuerySelector("[data-filter=runtimeVersion]"));
    }

    [Fact]
    public async Task OverviewApi_JettyByDefault_DevBuildsLeftOutOfActiveInstallations()
    {
        var byDefault = await GetJsonAsync("/api/insights/overview?tool=jetty&range=7d");
        var all = await GetJsonAsync("/api/insights/overview?tool=jetty&range=7d&environment=all");

        Assert.Equal(1, byDefault.GetProperty("activeInstallations").GetInt64());
        Assert.True(byDefault.GetProperty("query").GetProperty("excludesDevBuilds").GetBoolean());
        // Runs still count every build: the exclusion is about who uses Jetty.
        Assert.Equal(6, byDefault.GetProperty("runs").GetInt64());
        Assert.Equal(2, all.GetProperty("activeInstallations").GetInt64());
        // Tools side by side (all tools): Jetty's row carries panics per 1,000 invocations, the others none.
        var tools = (await GetJsonAsync("/api/insights/overview?range=7d")).GetProperty("tools").EnumerateArray()
            .ToDictionary(t => t.GetProperty("tool").GetString()!);
        Assert.Equal(166.667, tools["jetty"].GetProperty("panicsPerThousand").GetDouble());
        Assert.Equal(JsonValueKind.Null, tools["mytool"].GetProperty("panicsPerThousand").ValueKind);
        var installations = await GetJsonAsync("/api/insights/installations?tool=jetty&range=7d");
        Assert.Equal(1, installations.GetProperty("activeInstallations").GetInt64());
        Assert.Contains(Definitions.JettyDevBuilds, installations.GetProperty("activeRuleDefinition").GetString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task OverviewApi_AllToolsByDefault_JettyDevBuildsLeftOutOfActiveInstallations()
    {
        var byDefault = await GetJsonAsync("/api/insights/overview?range=7d");
        var all = await GetJsonAsync("/api/insights/overview?range=7d&environment=all");
        var installations = await GetJsonAsync("/api/insights/installations?range=7d");

        // Oracles over the runs: every installation but Jetty's dev builds', and every installation.
        var withoutDev = await RawAsync("SELECT count(DISTINCT (tool, installation_id)) FROM runs WHERE NOT (tool = 'jetty' AND environment IS NOT DISTINCT FROM 'dev')");
        var every = await RawAsync("SELECT count(DISTINCT (tool, installation_id)) FROM runs");
        Assert.Equal(every - 1, withoutDev);
        Assert.Equal(withoutDev, byDefault.GetProperty("activeInstallations").GetInt64());
        Assert.True(byDefault.GetProperty("query").GetProperty("excludesDevBuilds").GetBoolean());
        Assert.Equal(every, all.GetProperty("activeInstallations").GetInt64());
        Assert.Equal(withoutDev, installations.GetProperty("activeInstallations").GetInt64());
        // Runs still count every build.
        Assert.Equal(await RawAsync("SELECT count(*) FROM runs"), byDefault.GetProperty("runs").GetInt64());
        Assert.Contains(Definitions.JettyDevBuilds, installations.GetProperty("activeRuleDefinition").GetString(), StringComparison.Ordinal);
        Assert.Contains("all-tools view", Definitions.JettyDevBuilds, StringComparison.Ordinal);
    }

    [Fact]
    public async Task InstallationsPage_Jetty_DefinitionSaysDevBuildsAreLeftOut()
    {
        var html = await _app.Viewer.GetStringAsync("/installations?tool=jetty&range=7d");
        var doc = await BrowsingContext.New(Configuration.Default).OpenAsync(r => r.Content(html));

        Assert.Contains(Definitions.JettyDevBuilds, doc.Body!.TextContent, StringComparison.Ordinal);
        Assert.Contains("not active installations", ActiveRule.Definition(ActiveRuleKind.AnyEvent), StringComparison.Ordinal);
    }

    [Fact]
    public async Task CommandsApi_JettyEnvironmentDev_OnlyDevBuildsCommands()
    {
        var dev = await GetJsonAsync("/api/insights/commands?tool=jetty&range=7d&environment=dev");
        var overview = await GetJsonAsync("/api/insights/overview?tool=jetty&range=7d&environment=dev");

        var plan = Assert.Single(dev.GetProperty("items").EnumerateArray());
        Assert.Equal("plan", plan.GetProperty("command").GetString());
        Assert.Equal(2, plan.GetProperty("runs").GetInt64());
        Assert.Equal((1, 2), (overview.GetProperty("activeInstallations").GetInt64(), overview.GetProperty("runs").GetInt64()));
        Assert.Equal(await RawAsync("SELECT count(*) FROM runs WHERE tool = 'jetty' AND environment = 'dev'"), overview.GetProperty("runs").GetInt64());
    }

    [Fact]
    public async Task OverviewPage_Jetty_PanicsPerThousandInvocationsInsteadOfSuccessRate()
    {
        var html = await _app.Viewer.GetStringAsync("/?tool=jetty&range=7d");
        var doc = await BrowsingContext.New(Configuration.Default).OpenAsync(r => r.Content(html));

        // One panic in six invocations.
        var tile = doc.QuerySelector("[data-tile='Panics per 1,000 invocations']");
        Assert.NotNull(tile);
        Assert.Equal("166.7 per 1,000", tile.QuerySelector("[data-value]")!.TextContent.Trim());
        Assert.Null(doc.QuerySelector("[data-tile='Success rate']"));
        var commandsHtml = await _app.Viewer.GetStringAsync("/commands?tool=jetty&range=7d");
        var commands = await BrowsingContext.New(Configuration.Default).OpenAsync(r => r.Content(commandsHtml));
        // A panic names no command: fetch ran three times without one.
        Assert.Contains(commands.QuerySelectorAll("[data-rate]"), e => e.TextContent == "0.0 per 1,000");
        Assert.DoesNotContain(commands.QuerySelectorAll("[data-rate]"), e => e.TextContent.EndsWith('%'));
    }
}
