using Microsoft.Playwright;
using UsageDashboard.Tests.Infrastructure;
using UsageDashboard.Tests.Operations;

namespace UsageDashboard.Tests.Browser;

/// <summary>
/// The build output started the way an operator without the launch profile starts it (Production, its own
/// process), driven by Chromium, whose requests carry <c>Accept-Encoding: gzip, deflate, br</c>: every
/// asset the dashboards use (blazor.web.js, MudBlazor, ECharts, the app's CSS and modules) arrives with
/// content and a content type, the circuit starts and the charts draw. A Production start once answered
/// these requests with empty 200s, which only a browser in Production mode notices.
/// </summary>
[Collection(BrowserCollection.Name)]
public sealed class ProductionBrowserTests : IClassFixture<ProductionBrowserTests.Db>
{
    public sealed class Db : DatabaseFixture;

    private readonly Db _db;

    public ProductionBrowserTests(Db db) => _db = db;

    [Fact]
    public async Task ProductionStart_Browser_EveryAssetServedAndChartsDraw()
    {
        var dll = typeof(Program).Assembly.Location;
        var environment = new Dictionary<string, string>
        {
            ["ConnectionStrings__Events"] = _db.ConnectionString,
            // Plain http in the test: the sign-in cookie cannot be Secure.
            ["Access__SecureCookies"] = "false",
        };
        var args = new[] { "--contentRoot", AppFactory.RepoRoot };
        var seed = await AppProcess.RunVerbAsync(dll, AppFactory.RepoRoot, environment, "seed-demo", "--events", "3000", "--days", "14");
        Assert.True(seed.ExitCode == 0, seed.Output);
        var user = await AppProcess.RunVerbWithInputAsync(dll, AppFactory.RepoRoot, environment, AppFactory.TestPassword, "users", "add", "--email", "prod@example.test", "--role", "viewer", "--password-stdin");
        Assert.True(user.ExitCode == 0, user.Output);
        await using var app = await AppProcess.StartAsync(dll, AppFactory.RepoRoot, environment, args);
        var baseUrl = app.Address.ToString().TrimEnd('/');

        using var playwright = await Microsoft.Playwright.Playwright.CreateAsync();
        await using var browser = await playwright.Chromium.LaunchAsync(new BrowserTypeLaunchOptions
        {
            ExecutablePath = Environment.GetEnvironmentVariable("CHROMIUM_PATH") is { Length: > 0 } path ? path : "/usr/bin/chromium",
            Headless = true,
            Args = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic"],
        });
        var page = await browser.NewPageAsync();
        var errors = new List<string>();
        var assets = new List<IResponse>();
        page.Console += (_, message) =>
        {
            if (message.Type is "error" or "warning")
            {
                errors.Add($"{message.Type}: {message.Text}");
            }
        };
        page.PageError += (_, error) => errors.Add("page error: " + error);
        page.RequestFailed += (_, request) => errors.Add("request failed: " + request.Url);
        await page.GotoAsync(baseUrl + "/login");
        await page.FillAsync("#login-email", "prod@example.test");
        await page.FillAsync("#login-password", AppFactory.TestPassword);
        await page.ClickAsync("button[type='submit']");
        await page.WaitForURLAsync(baseUrl + "/");
        // The overview again with every asset fetched afresh (a routed page bypasses the cache), watched from the start.
        await page.RouteAsync("**/*", route => route.ContinueAsync());
        page.Response += (_, response) =>
        {
            if (response.Request.ResourceType is "stylesheet" or "script")
            {
                lock (assets)
                {
                    assets.Add(response);
                }
            }
        };

        await page.ReloadAsync();
        await page.WaitForSelectorAsync("body[data-circuit='up']", new PageWaitForSelectorOptions { State = WaitForSelectorState.Attached });
        await page.WaitForFunctionAsync("() => { const c = [...document.querySelectorAll('[data-chart]')]; return c.length > 0 && c.every(e => e.dataset.chartMounted === 'true'); }");

        List<IResponse> seen;
        lock (assets)
        {
            seen = [.. assets];
        }
        // Names may carry a content fingerprint (css/app.<hash>.css) where the page links them through @Assets.
        foreach (var expected in new[] { "/_framework/blazor.web.", "/_content/MudBlazor/MudBlazor.min.", "/css/app.", "/js/chart.mjs", "/lib/echarts/" })
        {
            Assert.True(seen.Any(r => new Uri(r.Url).AbsolutePath.Contains(expected, StringComparison.Ordinal)),
                $"{expected} was not loaded; loaded: {string.Join(", ", seen.Select(r => new Uri(r.Url).AbsolutePath))}");
        }
        foreach (var response in seen)
        {
            var body = await response.BodyAsync();
            Assert.True(response.Status == 200, $"{response.Url}: {response.Status}");
            Assert.True(body.Length > 0, $"{response.Url}: empty body");
            Assert.False(string.IsNullOrEmpty(await response.HeaderValueAsync("content-type")), $"{response.Url}: no Content-Type");
        }
        // The MudBlazor stylesheet applied: the drawer is laid out by it, not a bare block.
        Assert.Equal("fixed", await page.EvalOnSelectorAsync<string>(".mud-drawer", "e => getComputedStyle(e).position"));
        Assert.True(errors.Count == 0, string.Join('\n', errors));
    }
}
