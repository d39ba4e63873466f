using System.Net;
using System.Text.Json;
using UsageDashboard.Catalog;
using UsageDashboard.Store;
using UsageDashboard.Tests.Infrastructure;
using static UsageDashboard.Tests.Infrastructure.TestEvents;

namespace UsageDashboard.Tests.Public;

/// <summary>
/// Public pages, hub history and the status badge over a hand-built tool "pubtool" (public) and "hidtool"
/// (not listed in Public:Tools), k = 5, all runs yesterday: tap-github 1.0.0 from 6 installations (7 runs
/// each, every 7th failing) and 1.4.2 from 3 (under k: hidden, 11 runs each); a private plugin sent as a
/// digest nobody can resolve, from 6; tap-rare (in the catalog) from 3; the command "run" from every
/// installation and "secret-deploy" from 2. "smalltool" (public) has 3 installations, 37 runs each.
/// </summary>
public sealed class PublicPagesTests : IClassFixture<PublicPagesTests.Db>, IDisposable
{
    private static readonly DateTimeOffset s_now = new(2026, 11, 20, 12, 0, 0, TimeSpan.Zero);
    private static readonly string s_private = PluginCatalog.Sha256Hex("tap-acme-internal");

    public sealed class Db : DatabaseFixture
    {
        public override async Task InitializeAsync()
        {
            await base.InitializeAsync();
            var at = s_now.UtcDateTime.AddDays(-1);
            var events = new List<TelemetryEvent>();
            void Add(string tool, string plugin, string version, int installations, int runsEach, string command = "run")
            {
                for (var i = 0; i < installations; i++)
                {
                    for (var r = 0; r < runsEach; r++)
                    {
                        var status = r % 7 == 6 ? RunStatus.Failed : RunStatus.Succeeded;
                        events.Add(CreateEvent(tool: tool, installationId: $"{tool}-{plugin}-{version}-{i}", at: at.AddMinutes(-events.Count), status: status, command: command,
                            plugins: plugin.Length == 0 ? [] : [new PluginRef { Name = plugin, Type = "extractors", Version = version, Status = status }]));
                    }
                }
            }
            Add("pubtool", "tap-github", "1.0.0", 6, 7);
            Add("pubtool", "tap-github", "1.4.2", 3, 11);
            Add("pubtool", s_private, "1.0.0", 6, 2);
            Add("pubtool", "tap-rare", "2.0.0", 3, 2);
            Add("pubtool", "", "", 2, 3, command: "secret-deploy");
            Add("hidtool", "tap-github", "1.0.0", 6, 7);
            Add("smalltool", "", "", 3, 37);
            await CreateWriter(this, new FakeTimeProvider(s_now)).WriteAsync(events, default);
            await TestRollups.RefreshAsync(this);
        }
    }

    private readonly Db _db;
    private readonly string _catalog;

    public PublicPagesTests(Db db)
    {
        _db = db;
        _catalog = Path.Combine(Path.GetTempPath(), $"public-catalog-{Guid.NewGuid():N}.csv");
        File.WriteAllText(_catalog, "category,name,variant,namespace,pip_url\nextractors,tap-github,meltanolabs,tap_github,tap-github\nextractors,tap-rare,x,tap_rare,tap-rare\n");
    }

    public void Dispose() => File.Delete(_catalog);

    private AppFactory CreateApp() => new(_db.ConnectionString, new FakeTimeProvider(s_now), new Dictionary<string, string?>
    {
        ["Health:RunInBackground"] = "false",
        ["Plugins:ExtraCatalogs:0"] = _catalog,
        ["Public:Tools:0"] = "pubtool",
        ["Public:Tools:1"] = "smalltool",
        ["Hub:MinInstallations"] = "5",
    });

    [Fact]
    public async Task ToolPage_Anonymous_CacheableWithoutCookieOrScript()
    {
        await using var app = CreateApp();
        var client = app.CreateClient();

        var response = await client.GetAsync("/public/pubtool");
        var html = await response.Content.ReadAsStringAsync();

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("text/html", response.Content.Headers.ContentType!.MediaType);
        Assert.StartsWith("public", response.Headers.CacheControl!.ToString());
        Assert.NotNull(response.Headers.ETag);
        Assert.False(response.Headers.Contains("Set-Cookie"));
        Assert.DoesNotContain("<script", html);
        Assert.DoesNotContain("<form", html);
        Assert.DoesNotContain("RequestVerificationToken", html);
        Assert.DoesNotContain("bootstrap", html);
        Assert.Contains("/css/public.css", html);

        var again = new HttpRequestMessage(HttpMethod.Get, "/public/pubtool");
        again.Headers.IfNoneMatch.Add(response.Headers.ETag!);
        var notModified = await client.SendAsync(again);
        Assert.Equal(HttpStatusCode.NotModified, notModified.StatusCode);
    }

    [Fact]
    public async Task ToolPage_CommandsAndPlugins_OnlyThoseAboveThresholdAndResolvable()
    {
        await using var app = CreateApp();

        var html = await app.CreateClient().GetStringAsync("/public/pubtool?days=90");

        Assert.Contains(">run<", html);
        Assert.DoesNotContain("secret-deploy", html);
        Assert.Contains("tap-github", html);
        Assert.DoesNotContain(s_private, html);
        Assert.DoesNotContain(s_private[..12], html);
        Assert.DoesNotContain("1.4.2", html);
    }

    [Fact]
    public async Task ToolPage_FewerInstallationsThanThreshold_NoFigures()
    {
        await using var app = CreateApp();

        var html = await app.CreateClient().GetStringAsync("/public/smalltool");

        // 3 installations × 37 runs = 111 runs: under k, neither a day nor the total shows them.
        Assert.DoesNotContain("111", html);
    }

    [Theory]
    [InlineData("/public/hidtool")]
    [InlineData("/public/nosuchtool")]
    [InlineData("/public/hidtool/plugins/tap-github")]
    [InlineData("/public/pubtool/plugins/tap-nope")]
    [InlineData("/public/pubtool/plugins/tap-rare")]
    public async Task Page_NotPublicOrNotPublished_NotFound(string url)
    {
        await using var app = CreateApp();

        var response = await app.CreateClient().GetAsync(url);

        Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
    }

    [Fact]
    public async Task PluginPage_PrivateDigest_NotFound()
    {
        await using var app = CreateApp();

        var response = await app.CreateClient().GetAsync("/public/pubtool/plugins/" + s_private);

        Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
    }

    [Fact]
    public async Task PluginPage_VersionBelowThreshold_NeitherListedNorDerivable()
    {
        await using var app = CreateApp();

        var html = await app.CreateClient().GetStringAsync("/public/pubtool/plugins/tap-github");

        Assert.Contains("1.0.0", html);
        Assert.DoesNotContain("1.4.2", html);
        // Totals are 1.0.0's alone (6 installations, 42 runs): 1.4.2's 3 and 33 are in no figure.
        Assert.Contains(">42<", html);
        Assert.DoesNotContain(">75<", html);
        Assert.DoesNotContain(">9<", html);
    }

    [Fact]
    public async Task PageOrHistory_BadRange_BadRequest()
    {
        await using var app = CreateApp();
        var client = app.CreateClient();

        Assert.Equal(HttpStatusCode.BadRequest, (await client.GetAsync("/public/pubtool?days=7")).StatusCode);
        Assert.Equal(HttpStatusCode.BadRequest, (await client.GetAsync("/api/hub/pubtool/plugins/tap-github/history?metric=bogus")).StatusCode);
        Assert.Equal(HttpStatusCode.BadRequest, (await client.GetAsync("/api/hub/pubtool/plugins/tap-github/history?grain=month")).StatusCode);
    }

    [Theory]
    [InlineData("runs", 42)]
    [InlineData("installations", 6)]
    public async Task History_HiddenVersion_TotalsEqualSumOfPublishedVersions(string metric, long expected)
    {
        await using var app = CreateApp();
        var client = app.CreateClient();

        var response = await client.GetAsync($"/api/hub/pubtool/plugins/tap-github/history?metric={metric}&grain=day&days=30");
        using var json = JsonDocument.Parse(await response.Content.ReadAsStringAsync());

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var root = json.RootElement;
        Assert.Equal(expected, root.GetProperty("total").GetInt64());
        var points = root.GetProperty("points").EnumerateArray().ToList();
        Assert.Equal(expected, points.Sum(p => p.GetProperty("value").GetInt64()));
        foreach (var p in points)
        {
            var versions = p.GetProperty("versions").EnumerateArray().ToList();
            Assert.DoesNotContain(versions, v => v.GetProperty("version").GetString() == "1.4.2");
            Assert.Equal(p.GetProperty("value").GetInt64(), versions.Sum(v => v.GetProperty("value").GetInt64()));
        }
        Assert.StartsWith("public", response.Headers.CacheControl!.ToString());
        var again = new HttpRequestMessage(HttpMethod.Get, $"/api/hub/pubtool/plugins/tap-github/history?metric={metric}&grain=day&days=30");
        again.Headers.IfNoneMatch.Add(response.Headers.ETag!);
        Assert.Equal(HttpStatusCode.NotModified, (await client.SendAsync(again)).StatusCode);
    }

    [Fact]
    public async Task History_SuccessRateWeekly_RateWithInterval()
    {
        await using var app = CreateApp();

        using var json = JsonDocument.Parse(await app.CreateClient().GetStringAsync("/api/hub/pubtool/plugins/tap-github/history?metric=success-rate&grain=week"));

        var point = json.RootElement.GetProperty("points")[0];
        Assert.Equal(6.0 / 7, point.GetProperty("value").GetDouble(), 6);
        Assert.Equal(2, point.GetProperty("interval").GetArrayLength());
    }

    [Theory]
    [InlineData("/api/hub/pubtool/plugins/tap-rare/history")]
    [InlineData("/api/hub/pubtool/plugins/tap-nope/history")]
    [InlineData("/api/hub/nosuchtool/plugins/tap-github/history")]
    public async Task History_UnknownOrUnpublished_NotFound(string url)
    {
        await using var app = CreateApp();

        Assert.Equal(HttpStatusCode.NotFound, (await app.CreateClient().GetAsync(url)).StatusCode);
    }

    [Fact]
    public async Task Badge_StatusWithOpenBrokenFlag_SaysBrokenSince()
    {
        await using (var db = _db.CreateDbContext())
        {
            db.HealthFlags.Add(new HealthFlag
            {
                Tool = "pubtool", Kind = "plugin", Name = "tap-github", Version = "1.0.0", Severity = "broken", State = "open", Method = "peers",
                Reason = "tap-github 1.0.0 fails <b>a lot</b>", Evidence = "{}", FirstSeen = s_now.UtcDateTime.AddDays(-2), OpenedAt = s_now.UtcDateTime.AddHours(-3), UpdatedAt = s_now.UtcDateTime,
            });
            await db.SaveChangesAsync();
        }
        try
        {
            await using var app = CreateApp();
            var client = app.CreateClient();

            using var json = JsonDocument.Parse(await client.GetStringAsync("/badges/pubtool/tap-github.json?metric=status"));
            var svg = await client.GetStringAsync("/badges/pubtool/tap-github.svg?metric=status");
            var page = await client.GetStringAsync("/public/pubtool/plugins/tap-github");

            Assert.Equal("broken since 1.0.0", json.RootElement.GetProperty("message").GetString());
            Assert.Equal("red", json.RootElement.GetProperty("color").GetString());
            Assert.Contains("broken since 1.0.0", svg);
            // The flag's reason is on the plugin page, escaped.
            Assert.Contains("&lt;b&gt;a lot&lt;/b&gt;", page);
            Assert.DoesNotContain("<b>a lot</b>", page);
        }
        finally
        {
            await using var cleanup = _db.DataSource.CreateCommand("DELETE FROM health_flags WHERE tool = 'pubtool'");
            await cleanup.ExecuteNonQueryAsync();
        }
    }
}
