using System.Text.RegularExpressions;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Playwright;
using UsageDashboard.Demo;
using UsageDashboard.Tests.Infrastructure;

namespace UsageDashboard.Tests.Browser;

/// <summary>
/// The real app on Kestrel with demo data, driven by Debian's Chromium: every page renders, its charts
/// mount, and the console stays free of errors. Screenshots land in the test output folder
/// (screenshots/) for people to look at.
/// </summary>
[Collection(BrowserCollection.Name)]
public sealed partial class BrowserTests : IClassFixture<BrowserTests.App>
{
    public sealed class App : DatabaseFixture
    {
        public AppFactory Factory { get; private set; } = null!;
        public IPlaywright Playwright { get; private set; } = null!;
        public IBrowser Browser { get; private set; } = null!;
        public string BaseUrl { get; private set; } = "";
        public string Email { get; private set; } = "";

        /// <summary>A page in a fresh browser context, signed in through the real sign-in form.</summary>
        public async Task<IPage> SignedInPageAsync(List<string>? errors = null, string? email = null)
        {
            var context = await Browser.NewContextAsync(new BrowserNewContextOptions { ViewportSize = new ViewportSize { Width = 1366, Height = 900 } });
            var page = await context.NewPageAsync();
            if (errors is not null)
            {
                page.Console += (_, message) =>
                {
                    if (message.Type is "error" or "warning")
                    {
                        errors.Add($"{message.Type}: {message.Text}");
                    }
                };
                page.PageError += (_, error) => errors.Add("page error: " + error);
                page.RequestFailed += (_, request) => errors.Add("request failed: " + request.Url);
            }
            await page.GotoAsync(BaseUrl + "/login");
            await page.FillAsync("#login-email", email ?? Email);
            await page.FillAsync("#login-password", AppFactory.TestPassword);
            await page.ClickAsync("button[type='submit']");
            await page.WaitForURLAsync(BaseUrl + "/");
            return page;
        }

        public override async Task InitializeAsync()
        {
            await base.InitializeAsync();
            // Plain-http Kestrel: the auth cookie cannot be Secure here.
            Factory = new AppFactory(ConnectionString, settings: new Dictionary<string, string?>
            {
                ["Access:SecureCookies"] = "false",
                // Open circuits re-check their user at half this: seconds, so the revocation test is quick.
                ["Access:SessionValidationInterval"] = "00:00:04",
            });
            Factory.UseKestrel(0);
            Factory.StartServer();
            // The real Kestrel address (port 0 lets the OS pick a free one).
            BaseUrl = Factory.Services.GetRequiredService<IServer>().Features.GetRequiredFeature<IServerAddressesFeature>().Addresses.First().TrimEnd('/');
            var loader = Factory.Services.GetRequiredService<DemoLoader>();
            await loader.LoadAsync(new DemoOptions { Events = 40_000, Days = 60, Seed = 7, End = DateTime.UtcNow }, null, default);

            Email = await Factory.CreateUserAsync(UsageDashboard.Access.Roles.Admin);

            Playwright = await Microsoft.Playwright.Playwright.CreateAsync();
            Browser = await Playwright.Chromium.LaunchAsync(new BrowserTypeLaunchOptions
            {
                ExecutablePath = ChromiumPath(),
                Headless = true,
                Args = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic"],
            });
        }

        public override async Task DisposeAsync()
        {
            await Browser.DisposeAsync();
            Playwright.Dispose();
            await Factory.DisposeAsync();
            await base.DisposeAsync();
        }

        private static string ChromiumPath() =>
            Environment.GetEnvironmentVariable("CHROMIUM_PATH") is { Length: > 0 } path ? path
            : File.Exists("/usr/bin/chromium") ? "/usr/bin/chromium"
            : throw new InvalidOperationException("Chromium not found at /usr/bin/chromium: install it with `apt-get install -y chromium` (the README's test command does this).");
    }

    private readonly App _app;

    public BrowserTests(App app) => _app = app;

    public static TheoryData<string, string> Pages => new()
    {
        { "/", "overview" },
        { "/?tool=dbt&range=90d", "overview-dbt-90d" },
        { "/?compare=previous", "overview-compare" },
        { "/installations", "installations" },
        { "/installations?active=multiday&tool=meltano", "installations-multiday-meltano" },
        { "/commands", "commands" },
        { "/commands/run?tool=dbt", "command-dbt-run" },
        { "/plugins", "plugins" },
        { "/plugins/tap-github?tool=meltano", "plugin-tap-github" },
        { "/environments", "environments" },
        { "/features?tool=dbt", "features-dbt" },
        { "/features?tool=evidently&range=90d", "features-evidently" },
        { "/health", "health" },
        { "/admin/users", "admin-users" },
        { "/admin/write-keys", "admin-write-keys" },
        { "/admin/tokens", "admin-tokens" },
        { "/admin/quarantine", "admin-quarantine" },
    };

    [Theory]
    [MemberData(nameof(Pages))]
    public async Task Page_WithDemoData_RendersChartsWithoutConsoleErrors(string path, string name)
    {
        // Console errors include Content-Security-Policy violations, so this also proves the pages work under the CSP.
        var errors = new List<string>();
        var page = await _app.SignedInPageAsync(errors);

        var response = await page.GotoAsync(_app.BaseUrl + path, new PageGotoOptions { WaitUntil = WaitUntilState.NetworkIdle });

        Assert.Equal(200, response!.Status);
        await WaitInteractiveAsync(page);
        var count = await page.Locator("[data-chart]").CountAsync();
        if (count > 0)
        {
            await WaitForChartsAsync(page);
        }
        else
        {
            // Ranking pages and admin pages are tables; every page shows one or the other.
            Assert.True(await page.Locator("main table").CountAsync() > 0 || path == "/health", $"{path} has neither chart nor table");
        }
        if (path.StartsWith("/?", StringComparison.Ordinal) || path == "/")
        {
            Assert.DoesNotMatch(new Regex("^0$"), await page.Locator("[data-tile='Runs'] [data-value]").InnerTextAsync());
        }
        await ScreenshotAsync(page, name + "-light");
        var violations = IsShellPage(path) ? await SeriousAccessibilityViolationsAsync(page) : [];

        // The same page in the dark palette, as a returning user who chose it gets it (cookie, prerendered).
        await page.Context.AddCookiesAsync([new Cookie { Name = "ud_theme", Value = "dark", Url = _app.BaseUrl }]);
        await page.ReloadAsync(new PageReloadOptions { WaitUntil = WaitUntilState.NetworkIdle });
        await WaitInteractiveAsync(page);
        Assert.Equal("dark", await page.GetAttributeAsync("[data-theme]", "data-theme"));
        if (count > 0)
        {
            await WaitForChartsAsync(page);
        }
        await ScreenshotAsync(page, name + "-dark");
        if (IsShellPage(path))
        {
            violations = [.. violations, .. await SeriousAccessibilityViolationsAsync(page)];
        }
        Assert.True(errors.Count == 0, string.Join('\n', errors));
        Assert.True(violations.Length == 0, string.Join('\n', violations));
        await page.Context.CloseAsync();
    }

    [Fact]
    public async Task SignIn_WrongPassword_ClearMessageNoConsoleErrors()
    {
        var context = await _app.Browser.NewContextAsync();
        var page = await context.NewPageAsync();
        var errors = new List<string>();
        page.Console += (_, message) => { if (message.Type == "error") { errors.Add(message.Text); } };

        await page.GotoAsync(_app.BaseUrl + "/?range=7d");
        Assert.Contains("/login", page.Url, StringComparison.Ordinal);
        await page.FillAsync("#login-email", _app.Email);
        await page.FillAsync("#login-password", "not-the-password-1A");
        await page.ClickAsync("button[type='submit']");

        Assert.Contains("incorrect", await page.InnerTextAsync("[data-login-error]"), StringComparison.Ordinal);
        Directory.CreateDirectory(ScreenshotFolder);
        await page.ScreenshotAsync(new PageScreenshotOptions { Path = Path.Combine(ScreenshotFolder, "login-failed.png") });
        Assert.Empty(errors);
        await context.CloseAsync();
    }

    public static string ScreenshotFolder => Path.Combine(AppContext.BaseDirectory, "screenshots");

    /// <summary>The pages the shell owns (insights pages, sign-in); admin and health pages are checked with their own components.</summary>
    private static bool IsShellPage(string path) => !path.StartsWith("/admin", StringComparison.Ordinal) && !path.StartsWith("/health", StringComparison.Ordinal);

    /// <summary>The circuit is up: MainLayout marks the body after its first interactive render.</summary>
    private static Task WaitInteractiveAsync(IPage page) =>
        page.WaitForSelectorAsync("body[data-circuit='up']", new PageWaitForSelectorOptions { State = WaitForSelectorState.Attached });

    /// <summary>Every chart on the page has been drawn by chart.mjs.</summary>
    private static Task WaitForChartsAsync(IPage page) =>
        page.WaitForFunctionAsync("() => { const c = [...document.querySelectorAll('[data-chart]')]; return c.length > 0 && c.every(e => e.dataset.chartMounted === 'true' && e.querySelector('canvas')); }");

    private static async Task ScreenshotAsync(IPage page, string name)
    {
        Directory.CreateDirectory(ScreenshotFolder);
        await page.ScreenshotAsync(new PageScreenshotOptions { Path = Path.Combine(ScreenshotFolder, name + ".png"), FullPage = true });
    }

    /// <summary>
    /// Runs axe-core (an npm devDependency read from node_modules, nothing copied into the repository) in
    /// the page through the DevTools protocol, which the page's CSP does not govern, and lists the serious
    /// and critical violations.
    /// </summary>
    private static async Task<string[]> SeriousAccessibilityViolationsAsync(IPage page)
    {
        var axe = Path.Combine(AppFactory.RepoRoot, "node_modules", "axe-core", "axe.min.js");
        await page.EvaluateAsync(await File.ReadAllTextAsync(axe));
        return await page.EvaluateAsync<string[]>("""
            async () => {
              const result = await axe.run(document, { resultTypes: ['violations'] });
              return result.violations
                .filter(v => v.impact === 'serious' || v.impact === 'critical')
                .map(v => `${v.impact} ${v.id}: ${v.help} at ${v.nodes.slice(0, 3).map(n => `${n.target.join(' ')} (${n.html.slice(0, 160)}; ${n.failureSummary ?? ''})`).join(' | ')}`);
            }
            """);
    }
}


[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class BrowserCollection
{
    public const string Name = "browser";
}
