using System.Net;
using AngleSharp;
using UsageDashboard.Tests.Infrastructure;
using static UsageDashboard.Tests.Infrastructure.TestEvents;

namespace UsageDashboard.Tests.Insights;

/// <summary>
/// Every page and API once on a cluster with PostgreSQL's default settings (jit on among them), the way
/// users' servers run; <see cref="InsightsPagesApiTests"/> covers them in depth on the tuned test cluster.
/// </summary>
public sealed class StockSettingsPagesTests : IClassFixture<StockSettingsPagesTests.Db>, IDisposable
{
    public sealed class Db : DatabaseFixture
    {
        protected override bool StockSettings => true;

        public override async Task InitializeAsync()
        {
            await base.InitializeAsync();
            await InsightsPagesApiTests.SeedAsync(this);
        }
    }

    private readonly AppFactory _app;
    private readonly HttpClient _client;

    public StockSettingsPagesTests(Db db)
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
    [MemberData(nameof(InsightsPagesApiTests.Pages), MemberType = typeof(InsightsPagesApiTests))]
    public async Task Page_StockSettings_RendersWithData(string url)
    {
        var html = await _client.GetStringAsync(url);
        var doc = await BrowsingContext.New(Configuration.Default).OpenAsync(r => r.Content(html));

        Assert.Null(doc.QuerySelector("[data-empty][role=status]"));
        ComponentRenderer.AssertChartsValid(doc);
    }

    [Theory]
    [InlineData("/api/insights/overview")]
    [InlineData("/api/insights/installations")]
    [InlineData("/api/insights/commands")]
    [InlineData("/api/insights/commands/run")]
    [InlineData("/api/insights/plugins")]
    [InlineData("/api/insights/plugins/tap%2Fgit%20hub")]
    [InlineData("/api/insights/environments")]
    public async Task Api_StockSettings_AnswersWithData(string path)
    {
        using var response = await _client.GetAsync(path + "?range=7d&format=csv");

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.True((await response.Content.ReadAsStringAsync()).Split("\r\n").Length > 2);
    }
}
