using System.Net;
using System.Text.Json;
using AngleSharp;
using UsageDashboard.Store;
using UsageDashboard.Tests.Infrastructure;
using static UsageDashboard.Tests.Infrastructure.TestEvents;

namespace UsageDashboard.Tests.Insights;

/// <summary>Every page and API through the real app, over a small hand-built dataset.</summary>
public sealed class InsightsPagesApiTests : IClassFixture<InsightsPagesApiTests.Db>, IDisposable
{
    public sealed class Db : DatabaseFixture
    {
        public override async Task InitializeAsync()
        {
            await base.InitializeAsync();
            await SeedAsync(this);
        }
    }

    /// <summary>The small dataset every page and API is read over (also by <see cref="StockSettingsPagesTests"/>).</summary>
    internal static async Task SeedAsync(DatabaseFixture db)
    {
        var plugins = new List<PluginRef> { new() { Name = "tap/git hub", Type = "extractors", Version = "1.4.2" } };
        await CreateWriter(db).WriteAsync(
        [
            CreateEvent(installationId: "inst-1", at: T0.AddDays(-1), plugins: plugins),
            CreateEvent(installationId: "inst-1", at: T0.AddDays(-2), status: RunStatus.Failed, errorType: "Boom", plugins: plugins),
            CreateEvent(installationId: "inst-2", at: T0.AddDays(-1), command: "=cmd/with slash", osName: "macos"),
            CreateEvent(tool: "meltano", installationId: "m-1", at: T0.AddDays(-3), command: "elt", plugins: plugins),
        ], default);
        // The rollups are built before any app starts: each test's app would otherwise build them in
        // the background while its first request reads them (a page rendered empty under a loaded suite).
        await TestRollups.RefreshAsync(db);
    }

    private readonly AppFactory _app;
    private readonly HttpClient _client;

    public InsightsPagesApiTests(Db db)
    {
        _app = new AppFactory(db.ConnectionString, new FakeTimeProvider(new DateTimeOffset(T0)));
        _client = _app.CreateClientAs(UsageDashboard.Access.Roles.Viewer);
    }

    public void Dispose()
    {
        _client.Dispose();
        _app.Dispose();
    }

    public static TheoryData<string> Pages() =>
    [
        "/", "/installations", "/installations?active=success", "/commands", "/commands/run?tool=dbt", "/commands/%3Dcmd%2Fwith%20slash",
        "/plugins", "/plugins/tap%2Fgit%20hub", "/environments", "/environments?range=12m", "/commands?range=90d",
    ];

    [Theory]
    [MemberData(nameof(Pages))]
    public async Task Page_WithData_RendersChartsWithOptionsAndNoEmptyNotice(string url)
    {
        var html = await _client.GetStringAsync(url);
        var doc = await BrowsingContext.New(Configuration.Default).OpenAsync(r => r.Content(html));

        Assert.Null(doc.QuerySelector("[data-empty][role=status]"));
        ComponentRenderer.AssertChartsValid(doc);
        Assert.NotNull(doc.QuerySelector("[role=search][aria-label=Filters]"));
        Assert.NotNull(doc.QuerySelector("#definitions"));
    }

    [Fact]
    public async Task CommandPage_NameWithSlash_ShowsThatCommandsRuns()
    {
        var html = await _client.GetStringAsync("/commands/%3Dcmd%2Fwith%20slash?range=7d");

        Assert.Contains("=cmd/with slash", html, StringComparison.Ordinal);
        Assert.Contains("macos", html, StringComparison.Ordinal);
    }

    [Fact]
    public async Task CommandsApi_Json_ItemsKeepTheContract()
    {
        using var json = JsonDocument.Parse(await _client.GetStringAsync("/api/insights/commands?range=7d"));

        var items = json.RootElement.GetProperty("items").EnumerateArray().ToList();
        var run = items.Single(i => i.GetProperty("tool").GetString() == "dbt" && i.GetProperty("command").GetString() == "run");
        Assert.Equal(2, run.GetProperty("runs").GetInt64());
        Assert.Equal(1, run.GetProperty("failedRuns").GetInt64());
        Assert.Equal(0.5, run.GetProperty("successRate").GetDouble());
        Assert.Equal(2, run.GetProperty("successRateInterval").GetArrayLength());
    }

    [Fact]
    public async Task PluginsApi_Json_ItemsCarryPluginTypeRunsFailuresRate()
    {
        using var json = JsonDocument.Parse(await _client.GetStringAsync("/api/insights/plugins?range=7d&tool=dbt"));

        var item = Assert.Single(json.RootElement.GetProperty("items").EnumerateArray());
        Assert.Equal("tap/git hub", item.GetProperty("plugin").GetString());
        Assert.Equal("extractors", item.GetProperty("type").GetString());
        Assert.Equal(2, item.GetProperty("runs").GetInt64());
        Assert.Equal(1, item.GetProperty("failedRuns").GetInt64());
        Assert.Equal(0.5, item.GetProperty("successRate").GetDouble());
    }

    [Theory]
    [InlineData("/api/insights/overview", "day,active_installations,runs")]
    [InlineData("/api/insights/installations", "day,active_installations")]
    [InlineData("/api/insights/commands", "tool,command,runs,failed_runs,aborted_runs,success_rate,ci_low,ci_high,judged_runs,installations,p50_ms,p95_ms,previous_runs,previous_success_rate")]
    [InlineData("/api/insights/commands/run", "command,tool_version,runs,failed_runs,aborted_runs,success_rate,ci_low,ci_high,judged_runs,installations")]
    [InlineData("/api/insights/plugins", "tool,plugin,type,installations,runs,failed_runs,aborted_runs,success_rate,ci_low,ci_high,judged_runs,aborted_rate,latest_version")]
    [InlineData("/api/insights/plugins/tap%2Fgit%20hub", "plugin,version,runs,failed_runs,aborted_runs,success_rate,ci_low,ci_high,judged_runs,installations,first_seen")]
    [InlineData("/api/insights/environments", "dimension,value,installations,runs")]
    public async Task Api_FormatCsv_TextCsvWithHeader(string path, string header)
    {
        using var response = await _client.GetAsync(path + "?range=7d&format=csv");

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("text/csv", response.Content.Headers.ContentType?.MediaType);
        var lines = (await response.Content.ReadAsStringAsync()).Split("\r\n");
        Assert.Equal(header, lines[0].TrimStart('\uFEFF'));
        Assert.True(lines.Length > 2);
    }

    [Fact]
    public async Task CommandsCsv_FormulaLikeName_QuotedSoSpreadsheetsDontRunIt()
    {
        var csv = await _client.GetStringAsync("/api/insights/commands?range=7d&format=csv");

        Assert.Contains("dbt,'=cmd/with slash,1,", csv, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("/api/insights/installations?range=7d", "items")]
    [InlineData("/api/insights/environments?range=7d", "items")]
    [InlineData("/api/insights/commands/run?range=7d", "items")]
    [InlineData("/api/insights/plugins/tap%2Fgit%20hub?range=7d", "items")]
    public async Task Api_Json_ListsUnderItems(string url, string property)
    {
        using var json = JsonDocument.Parse(await _client.GetStringAsync(url));

        Assert.True(json.RootElement.GetProperty(property).GetArrayLength() > 0);
    }
}

/// <summary>The same pages over an empty store: each says why there is nothing and how to get data in.</summary>
public sealed class InsightsEmptyPagesTests : IClassFixture<InsightsEmptyPagesTests.Db>, IDisposable
{
    public sealed class Db : DatabaseFixture;

    private readonly AppFactory _app;
    private readonly HttpClient _client;

    public InsightsEmptyPagesTests(Db db)
    {
        _app = new AppFactory(db.ConnectionString, new FakeTimeProvider(new DateTimeOffset(T0)));
        _client = _app.CreateClientAs(UsageDashboard.Access.Roles.Viewer);
    }

    public void Dispose()
    {
        _client.Dispose();
        _app.Dispose();
    }

    [Theory]
    [InlineData("/")]
    [InlineData("/installations")]
    [InlineData("/commands")]
    [InlineData("/commands/run")]
    [InlineData("/plugins")]
    [InlineData("/plugins/tap-github")]
    [InlineData("/environments")]
    public async Task Page_NoData_SaysHowToGetDataIn(string url)
    {
        var html = await _client.GetStringAsync(url);
        var doc = await BrowsingContext.New(Configuration.Default).OpenAsync(r => r.Content(html));

        var notice = doc.QuerySelector("[data-empty][role=status]");
        Assert.NotNull(notice);
        Assert.Contains("No telemetry has arrived yet", notice.TextContent, StringComparison.Ordinal);
        ComponentRenderer.AssertChartsValid(doc);
    }
}
