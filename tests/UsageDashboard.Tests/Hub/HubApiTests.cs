using System.Net;
using System.Net.Http.Headers;
using System.Text.Json;
using System.Xml.Linq;
using Microsoft.Extensions.DependencyInjection;
using UsageDashboard.Catalog;
using UsageDashboard.Health;
using UsageDashboard.Store;
using UsageDashboard.Tests.Health;
using UsageDashboard.Tests.Infrastructure;
using static UsageDashboard.Tests.Infrastructure.TestEvents;

namespace UsageDashboard.Tests.Hub;

/// <summary>
/// The public hub API and badges over a hand-built tool "hubtool":
/// tap-github 1.0.0 from 6 installations and 1.1.0 from 3 (under the threshold of 5, so hidden); tap-rare (in the catalog) from 3;
/// tap-private (clear text, not in the catalog) from 2; tap-hashed and tap-secret sent as SHA-256
/// digests from 6 each, only tap-hashed in the catalog.
/// </summary>
public sealed class HubApiTests : IClassFixture<HubApiTests.Db>, IDisposable
{
    public sealed class Db : DatabaseFixture
    {
        public override async Task InitializeAsync()
        {
            await base.InitializeAsync();
            var now = HealthFlowTests.Now.UtcDateTime;
            var events = new List<TelemetryEvent>();
            void Add(string plugin, string version, int installations, int runsEach, int failEvery = 0, bool ci = false)
            {
                for (var i = 0; i < installations; i++)
                {
                    for (var r = 0; r < runsEach; r++)
                    {
                        var failed = failEvery > 0 && r % failEvery == 0;
                        var status = failed ? RunStatus.Failed : RunStatus.Succeeded;
                        events.Add(CreateEvent(tool: "hubtool", installationId: $"{plugin}-{version}-{i}", at: now.AddHours(-(r + 1) * 3), status: status, isCi: ci,
                            plugins: [new PluginRef { Name = plugin, Type = "extractors", Version = version, Status = status }]));
                    }
                }
            }
            Add("tap-github", "1.0.0", 6, 10, failEvery: 5);
            Add("tap-github", "1.1.0", 3, 4);
            Add("tap-github", "0.9.0", 8, 3, ci: true);
            Add("tap-rare", "2.0.0", 3, 5);
            Add("tap-private", "0.1.0", 2, 5);
            Add(PluginCatalog.Sha256Hex("tap-hashed"), "1.0.0", 6, 2);
            Add(PluginCatalog.Sha256Hex("tap-secret"), "1.0.0", 6, 2);
            await CreateWriter(this, new FakeTimeProvider(HealthFlowTests.Now)).WriteAsync(events, default);
            await TestRollups.RefreshAsync(this);
        }
    }

    private readonly Db _db;
    private readonly string _catalog;

    public HubApiTests(Db db)
    {
        _db = db;
        _catalog = Path.Combine(Path.GetTempPath(), $"hub-catalog-{Guid.NewGuid():N}.csv");
        File.WriteAllText(_catalog, "category,name,variant,namespace,pip_url\nextractors,tap-github,meltanolabs,tap_github,tap-github\nextractors,tap-rare,x,tap_rare,tap-rare\nextractors,tap-hashed,x,tap_hashed,tap-hashed\n");
    }

    public void Dispose() => File.Delete(_catalog);

    private AppFactory CreateApp(string? catalogPath = null) => new(_db.ConnectionString, new FakeTimeProvider(HealthFlowTests.Now), new Dictionary<string, string?>
    {
        ["Health:RunInBackground"] = "false",
        ["Plugins:ExtraCatalogs:0"] = catalogPath ?? _catalog,
    });

    private static async Task<JsonElement> JsonAsync(HttpResponseMessage response)
    {
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        using var doc = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        return doc.RootElement.Clone();
    }

    private static JsonElement Item(JsonElement list, string name) =>
        list.GetProperty("items").EnumerateArray().Single(i => i.GetProperty("name").GetString() == name);

    [Fact]
    public async Task Plugins_Anonymous_PublishedFiguresWithCorsAndCaching()
    {
        await using var app = CreateApp();
        var response = await app.CreateClient().GetAsync("/api/hub/hubtool/plugins");

        var list = await JsonAsync(response);
        var github = Item(list, "tap-github");
        Assert.Equal("extractors", github.GetProperty("type").GetString());
        Assert.Equal("1.0.0", github.GetProperty("latestVersion").GetString());
        // Totals cover published versions only: 1.0.0's 6 installations and 60 runs, not hidden 1.1.0's.
        Assert.Equal(6, github.GetProperty("installations30d").GetInt64());
        Assert.Equal(60, github.GetProperty("runs30d").GetInt64());
        Assert.Equal(0.8, github.GetProperty("successRate30d").GetDouble(), 5);
        Assert.Equal(2, github.GetProperty("successRateInterval").GetArrayLength());
        Assert.Equal("healthy", github.GetProperty("status").GetString());
        Assert.Equal(0, github.GetProperty("brokenVersions").GetArrayLength());
        Assert.True(github.TryGetProperty("updatedAt", out _));
        Assert.Equal("*", response.Headers.GetValues("Access-Control-Allow-Origin").Single());
        Assert.Equal("public, max-age=300", response.Headers.CacheControl!.ToString());
        Assert.NotNull(response.Headers.ETag);
        Assert.False(response.Headers.Contains("Content-Security-Policy"));
        Assert.False(response.Headers.Contains("X-Frame-Options"));
    }

    [Fact]
    public async Task Plugins_FewerThanMinInstallations_InsufficientDataWithoutCounts()
    {
        await using var app = CreateApp();
        var client = app.CreateClient();

        var rare = Item(await JsonAsync(await client.GetAsync("/api/hub/hubtool/plugins")), "tap-rare");
        var github = await JsonAsync(await client.GetAsync("/api/hub/hubtool/plugins/tap-github"));

        Assert.Equal("insufficient_data", rare.GetProperty("status").GetString());
        foreach (var key in new[] { "installations30d", "runs30d", "successRate30d", "successRateInterval", "latestVersion" })
        {
            Assert.Equal(JsonValueKind.Null, rare.GetProperty(key).ValueKind);
        }
        var versions = github.GetProperty("versions").EnumerateArray().ToDictionary(v => v.GetProperty("version").GetString()!);
        Assert.Equal(6, versions["1.0.0"].GetProperty("installations30d").GetInt64());
        // Under the threshold: not listed at all, not even as insufficient_data.
        Assert.False(versions.ContainsKey("1.1.0"));
        // CI-only version: left out of published figures altogether.
        Assert.False(versions.ContainsKey("0.9.0"));
    }

    [Fact]
    public async Task Plugins_PrivateNames_NeverPublished()
    {
        await using var app = CreateApp();
        var client = app.CreateClient();

        var body = await client.GetStringAsync("/api/hub/hubtool/plugins");
        var names = JsonDocument.Parse(body).RootElement.GetProperty("items").EnumerateArray().Select(i => i.GetProperty("name").GetString()).ToList();

        Assert.Contains("tap-hashed", names);
        Assert.DoesNotContain("tap-private", names);
        Assert.DoesNotContain(PluginCatalog.Sha256Hex("tap-secret"), body, StringComparison.Ordinal);
        Assert.DoesNotContain(PluginCatalog.Sha256Hex("tap-hashed"), body, StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.NotFound, (await client.GetAsync("/api/hub/hubtool/plugins/" + PluginCatalog.Sha256Hex("tap-secret"))).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await client.GetAsync("/api/hub/hubtool/plugins/tap-private")).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("/api/hub/hubtool/plugins/tap-hashed")).StatusCode);
    }

    [Fact]
    public async Task Plugins_CatalogFileMissing_NothingHashedPublished()
    {
        await using var app = CreateApp(catalogPath: "/nonexistent/catalog.csv");

        var body = await app.CreateClient().GetStringAsync("/api/hub/hubtool/plugins");

        Assert.DoesNotContain("tap-hashed", body, StringComparison.Ordinal);
        Assert.DoesNotContain(PluginCatalog.Sha256Hex("tap-hashed"), body, StringComparison.Ordinal);
        Assert.Contains("tap-github", body, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Plugins_IfNoneMatch_304WithoutBody()
    {
        await using var app = CreateApp();
        var client = app.CreateClient();
        var first = await client.GetAsync("/api/hub/hubtool/plugins");

        var request = new HttpRequestMessage(HttpMethod.Get, "/api/hub/hubtool/plugins");
        request.Headers.IfNoneMatch.Add(first.Headers.ETag!);
        var second = await client.SendAsync(request);
        var other = new HttpRequestMessage(HttpMethod.Get, "/api/hub/hubtool/plugins");
        other.Headers.IfNoneMatch.Add(new EntityTagHeaderValue("\"something-else\""));
        var third = await client.SendAsync(other);

        Assert.Equal(HttpStatusCode.NotModified, second.StatusCode);
        Assert.Empty(await second.Content.ReadAsByteArrayAsync());
        Assert.Equal(first.Headers.ETag, second.Headers.ETag);
        Assert.Equal("*", second.Headers.GetValues("Access-Control-Allow-Origin").Single());
        Assert.Equal(HttpStatusCode.OK, third.StatusCode);
    }

    [Fact]
    public async Task Unknown_ToolOrPlugin_404Json()
    {
        await using var app = CreateApp();
        var client = app.CreateClient();

        var tool = await client.GetAsync("/api/hub/nosuchtool/plugins");
        var plugin = await client.GetAsync("/api/hub/hubtool/plugins/tap-nope");

        Assert.Equal(HttpStatusCode.NotFound, tool.StatusCode);
        Assert.Equal("unknown_tool", JsonDocument.Parse(await tool.Content.ReadAsStringAsync()).RootElement.GetProperty("error").GetString());
        Assert.Equal(HttpStatusCode.NotFound, plugin.StatusCode);
        Assert.Equal("application/json", plugin.Content.Headers.ContentType!.MediaType);
    }

    [Theory]
    [InlineData("", "health: healthy")]
    [InlineData("?metric=success-rate", "success rate: 80.0%")]
    [InlineData("?metric=installations&style=flat-square", "installations: 6/month")]
    [InlineData("?version=1.0.0", "health 1.0.0: healthy")]
    public async Task BadgeSvg_Metrics_WellFormedShieldsBadge(string query, string title)
    {
        await using var app = CreateApp();

        var response = await app.CreateClient().GetAsync("/badges/hubtool/tap-github.svg" + query);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("image/svg+xml", response.Content.Headers.ContentType!.MediaType);
        var doc = XDocument.Parse(await response.Content.ReadAsStringAsync());
        Assert.Equal(title, doc.Root!.Element(XName.Get("title", "http://www.w3.org/2000/svg"))!.Value);
        Assert.Equal("*", response.Headers.GetValues("Access-Control-Allow-Origin").Single());
        Assert.NotNull(response.Headers.ETag);
    }

    [Fact]
    public async Task BadgeSvg_UnknownPlugin_Grey404WithoutReflectingTheName()
    {
        await using var app = CreateApp();

        var response = await app.CreateClient().GetAsync("/badges/hubtool/%3Cscript%3Ealert(1)%3C%2Fscript%3E.svg");

        Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
        var svg = await response.Content.ReadAsStringAsync();
        var doc = XDocument.Parse(svg);
        Assert.Contains("unknown", doc.Root!.Value, StringComparison.Ordinal);
        Assert.DoesNotContain("script", svg, StringComparison.OrdinalIgnoreCase);
        Assert.Contains("#9f9f9f", svg, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("/badges/hubtool/tap-github.json", HttpStatusCode.OK)]
    [InlineData("/badges/hubtool/tap-github.json?metric=success-rate", HttpStatusCode.OK)]
    [InlineData("/badges/hubtool/tap-rare.json?metric=installations", HttpStatusCode.OK)]
    [InlineData("/badges/hubtool/tap-nope.json", HttpStatusCode.NotFound)]
    public async Task BadgeJson_AnyAnswer_ExactlyShieldsEndpointSchema(string path, HttpStatusCode status)
    {
        await using var app = CreateApp();

        var response = await app.CreateClient().GetAsync(path);

        Assert.Equal(status, response.StatusCode);
        var json = JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement;
        Assert.Equal(new[] { "cacheSeconds", "color", "isError", "label", "message", "schemaVersion" }, json.EnumerateObject().Select(p => p.Name).Order(StringComparer.Ordinal));
        Assert.Equal(1, json.GetProperty("schemaVersion").GetInt32());
        Assert.False(string.IsNullOrEmpty(json.GetProperty("message").GetString()));
        Assert.True(json.GetProperty("cacheSeconds").GetInt32() >= 300);
        Assert.Equal(status != HttpStatusCode.OK, json.GetProperty("isError").GetBoolean());
    }

    [Fact]
    public async Task Hub_BrokenVersionFlagged_StatusAndBadgeSayBroken()
    {
        await HealthFlowTests.SeedBrokenReleaseAsync(_db, "hubflagtool");
        await TestRollups.RefreshAsync(_db);
        await using var app = new AppFactory(_db.ConnectionString, new FakeTimeProvider(HealthFlowTests.Now), new Dictionary<string, string?>
        {
            ["Health:RunInBackground"] = "false",
            ["Plugins:ExtraCatalogs:0"] = _catalog,
        });
        await using (var scope = app.Services.CreateAsyncScope())
        {
            await scope.ServiceProvider.GetRequiredService<HealthEvaluator>().EvaluateAsync(default);
        }
        var client = app.CreateClient();

        var plugin = await JsonAsync(await client.GetAsync("/api/hub/hubflagtool/plugins/tap-github"));
        var badge = await client.GetStringAsync("/badges/hubflagtool/tap-github.json?version=1.4.2");
        await using (var scope = app.Services.CreateAsyncScope())
        {
            var health = await scope.ServiceProvider.GetRequiredService<PluginHealthService>().GetStatusAsync("hubflagtool", "tap-github");
            Assert.Equal("broken", health.Status);
            Assert.Equal("1.4.2", Assert.Single(health.Flags).Version);
        }

        Assert.Equal("2.0.0", plugin.GetProperty("latestVersion").GetString());
        Assert.Equal("degraded", plugin.GetProperty("status").GetString());
        Assert.Equal("1.4.2", Assert.Single(plugin.GetProperty("brokenVersions").EnumerateArray()).GetString());
        Assert.Contains("\"message\":\"broken\"", badge, StringComparison.Ordinal);
        Assert.Contains("\"color\":\"red\"", badge, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Plugins_TotalsMinusPublishedVersions_RevealNoHiddenVersion()
    {
        await using var app = CreateApp();
        var client = app.CreateClient();

        var list = await JsonAsync(await client.GetAsync("/api/hub/hubtool/plugins"));

        foreach (var item in list.GetProperty("items").EnumerateArray().Where(i => i.GetProperty("installations30d").ValueKind == JsonValueKind.Number))
        {
            var plugin = await JsonAsync(await client.GetAsync("/api/hub/hubtool/plugins/" + item.GetProperty("name").GetString()));
            var versions = plugin.GetProperty("versions").EnumerateArray().ToList();
            // Every run counted in the total belongs to a listed version: nothing is left over to attribute to a hidden one.
            Assert.Equal(item.GetProperty("runs30d").GetInt64(), versions.Sum(v => v.GetProperty("runs30d").GetInt64()));
            Assert.True(item.GetProperty("installations30d").GetInt64() <= versions.Sum(v => v.GetProperty("installations30d").GetInt64()));
            Assert.All(versions, v => Assert.True(v.GetProperty("installations30d").GetInt64() >= 5));
        }
        var github = await client.GetStringAsync("/api/hub/hubtool/plugins/tap-github");
        Assert.DoesNotContain("1.1.0", github, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("svg", "")]
    [InlineData("svg", "&metric=installations")]
    [InlineData("json", "&metric=success-rate")]
    public async Task Badge_UnpublishedVersion_AnswersExactlyLikeUnknownVersion(string format, string metric)
    {
        await using var app = CreateApp();
        var client = app.CreateClient();

        var hidden = await client.GetAsync($"/badges/hubtool/tap-github.{format}?version=1.1.0{metric}");
        var unknown = await client.GetAsync($"/badges/hubtool/tap-github.{format}?version=1.1.0-never-released{metric}");

        Assert.Equal(HttpStatusCode.NotFound, hidden.StatusCode);
        Assert.Equal(unknown.StatusCode, hidden.StatusCode);
        Assert.Equal(await unknown.Content.ReadAsByteArrayAsync(), await hidden.Content.ReadAsByteArrayAsync());
        Assert.Equal(Headers(unknown), Headers(hidden));
        Assert.DoesNotContain("1.1.0", await hidden.Content.ReadAsStringAsync(), StringComparison.Ordinal);
    }

    private static List<string> Headers(HttpResponseMessage response) =>
        response.Headers.Concat(response.Content.Headers).Where(h => h.Key != "Date")
            .Select(h => h.Key + ": " + string.Join(",", h.Value)).Order(StringComparer.Ordinal).ToList();
}
