using System.Net;
using System.Text.Json;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Primitives;
using UsageDashboard.Tests.Infrastructure;

namespace UsageDashboard.Tests.Hosting;

/// <summary>
/// Text and periods that PostgreSQL or the day-slot arrays cannot take are refused at the edge with a
/// 400 that says why, for every kind of route: insights API, dashboard pages, path segments, forms, the
/// collector's pixel.
/// </summary>
public sealed class InputChecksTests : IClassFixture<InputChecksTests.Db>, IAsyncLifetime
{
    public sealed class Db : DatabaseFixture;

    private static readonly DateTimeOffset s_now = new(2026, 11, 1, 12, 0, 0, TimeSpan.Zero);

    private readonly Db _db;
    private AppFactory _app = null!;
    private HttpClient _viewer = null!;

    public InputChecksTests(Db db) => _db = db;

    public async Task InitializeAsync()
    {
        _app = new AppFactory(_db.ConnectionString, new FakeTimeProvider(s_now));
        _viewer = await _app.CreateClientAsAsync("viewer");
    }

    public async Task DisposeAsync() => await _app.DisposeAsync();

    [Theory]
    [InlineData("/api/insights/overview?tool=my%00tool")]
    [InlineData("/api/insights/plugins?os=lin%00ux")]
    [InlineData("/api/insights/commands?version=1.0%00")]
    [InlineData("/api/insights/environments?env=ci&from=2026-10-01%00")]
    [InlineData("/api/insights/plugins/tap%2500github")]
    [InlineData("/api/insights/commands/run%2500")]
    [InlineData("/api/health/flags?tool=dbt%00")]
    [InlineData("/api/hub/dbt%2500/plugins")]
    [InlineData("/badges/dbt/tap%2500x.svg?version=1.0")]
    [InlineData("/badges/dbt/tap-x.svg?version=1.0%00")]
    [InlineData("/i?e=se&aid=dbt&uid=a%00b")]
    public async Task Api_NulInQueryOrPath_400Json(string url)
    {
        var response = await _viewer.GetAsync(url);

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        var json = JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement;
        Assert.Equal("invalid_text", json.GetProperty("error").GetString());
        Assert.Contains("NUL", json.GetProperty("message").GetString(), StringComparison.Ordinal);
    }

    [Theory]
    // Kestrel itself refuses %00 in a path; a page's router unescapes its segment once more, so %2500 becomes NUL.
    [InlineData("/plugins/tap%2500github")]
    [InlineData("/commands/run%2500")]
    [InlineData("/commands?tool=dbt%00")]
    [InlineData("/?os=mac%00")]
    [InlineData("/environments?version=%00")]
    public async Task Page_NulInQueryOrPath_400PageWithMessage(string url)
    {
        var response = await _viewer.GetAsync(url);

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Equal("text/html", response.Content.Headers.ContentType!.MediaType);
        Assert.Contains("contains a NUL character or an unpaired UTF-16 surrogate", await response.Content.ReadAsStringAsync(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task LoginForm_NulInEmail_400()
    {
        var response = await _app.CreateClient().PostAsync("/login", new FormUrlEncodedContent(new Dictionary<string, string>
        {
            ["_handler"] = "login", ["Input.Email"] = "alice\0@example.test", ["Input.Password"] = "x",
        }));

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Contains("form field", await response.Content.ReadAsStringAsync(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task FlagForm_NulInNote_400()
    {
        var response = await _viewer.PostAsync("/health/flags/1", new FormUrlEncodedContent(new Dictionary<string, string>
        {
            ["_handler"] = "acknowledge", ["Ack.Note"] = "looked at it\0",
        }));

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Contains("form field", await response.Content.ReadAsStringAsync(), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("tool")]
    [InlineData("os")]
    [InlineData("version")]
    public async Task Api_LoneSurrogateInQuery_400(string parameter)
    {
        // A URL cannot carry a lone surrogate through HttpClient; set the parsed query directly, as a
        // server that decodes differently would hand it over.
        var context = await _app.Server.SendAsync(c =>
        {
            c.Request.Method = HttpMethods.Get;
            c.Request.Path = "/api/insights/overview";
            c.Request.Query = new QueryCollection(new Dictionary<string, StringValues> { [parameter] = "x\uD800y" });
        });

        Assert.Equal(StatusCodes.Status400BadRequest, context.Response.StatusCode);
    }

    [Theory]
    [InlineData("from=0001-01-01")]
    [InlineData("from=0001-01-01&to=9999-12-31")]
    [InlineData("from=1999-12-31&to=2000-01-10")]
    [InlineData("to=2026-11-03")]
    [InlineData("from=2021-11-01&to=2026-11-01")]
    [InlineData("from=9999-12-31")]
    public async Task Insights_PeriodOutOfBounds_400StatingTheLimits(string query)
    {
        foreach (var path in new[] { "/api/insights/overview", "/api/insights/installations", "/api/insights/commands", "/api/insights/plugins", "/api/insights/environments" })
        {
            var response = await _viewer.GetAsync(path + "?" + query);

            Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
            var json = JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement;
            Assert.Equal("invalid_period", json.GetProperty("error").GetString());
            var message = json.GetProperty("message").GetString()!;
            Assert.Contains("2000-01-01", message, StringComparison.Ordinal);
            Assert.Contains("2026-11-02", message, StringComparison.Ordinal);
            Assert.Contains("at most 5 years", message, StringComparison.Ordinal);
        }
    }

    [Theory]
    [InlineData("/")]
    [InlineData("/installations")]
    [InlineData("/commands")]
    [InlineData("/commands/run")]
    [InlineData("/plugins")]
    [InlineData("/plugins/tap-github")]
    [InlineData("/environments")]
    public async Task Page_PeriodOutOfBounds_400PageStatingTheLimits(string path)
    {
        var response = await _viewer.GetAsync(path + "?from=0001-01-01&to=9000-01-01");

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        var body = await response.Content.ReadAsStringAsync();
        Assert.Contains("between 2000-01-01 and 2026-11-02", body, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("from=2000-01-01&to=2004-12-31")]
    [InlineData("from=2021-11-03&to=2026-11-02")]
    [InlineData("range=12m")]
    [InlineData("from=not-a-date")]
    public async Task Insights_PeriodWithinBounds_200(string query)
    {
        var api = await _viewer.GetAsync("/api/insights/overview?" + query);
        var page = await _viewer.GetAsync("/?" + query);

        Assert.Equal(HttpStatusCode.OK, api.StatusCode);
        Assert.Equal(HttpStatusCode.OK, page.StatusCode);
    }
}
