using System.Diagnostics;
using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.RegularExpressions;
using UsageDashboard.Tests.Infrastructure;

namespace UsageDashboard.Tests.Operations;

/// <summary>
/// <c>dotnet publish</c>'s output run as docs/operations.md says: its own folder, Production, settings from
/// the environment. One publish (tens of seconds) serves every check.
/// </summary>
public sealed partial class PublishedAppTests : IClassFixture<PublishedAppTests.Db>
{
    public sealed class Db : DatabaseFixture;

    private const string WriteKey = "published-write-key-0c1d";
    private readonly Db _db;

    public PublishedAppTests(Db db) => _db = db;

    [Fact]
    public async Task PublishedApp_ProductionStart_ReadyServesAssetsAcceptsEventsAndRendersPages()
    {
        var output = Directory.CreateTempSubdirectory("ud-publish-");
        try
        {
            // --no-build: the test runs on the build it was compiled with; publishing is the step under test.
            var publish = await RunAsync("dotnet", AppFactory.RepoRoot, "publish", "src/UsageDashboard", "-c", "Release", "--no-build", "-o", output.FullName);
            Assert.True(publish.ExitCode == 0, publish.Output);
            if (!File.Exists(Path.Combine(output.FullName, "appsettings.json")))
            {
                // Seen once in a full parallel run (publish succeeded in under half a second, without the linked
                // root content); a second publish shows whether it is the build system's transient state or the project.
                publish = await RunAsync("dotnet", AppFactory.RepoRoot, "publish", "src/UsageDashboard", "-c", "Release", "--no-build", "-o", output.FullName);
            }
            var dll = Path.Combine(output.FullName, "UsageDashboard.dll");
            Assert.True(File.Exists(Path.Combine(output.FullName, "appsettings.json")),
                $"appsettings.json not published; output holds: {string.Join(", ", output.EnumerateFileSystemInfos().Select(f => f.Name).Take(40))}\n{publish.Output}");
            Assert.False(File.Exists(Path.Combine(output.FullName, "appsettings.Development.json")), "development keys must not ship");
            var environment = new Dictionary<string, string>
            {
                ["ConnectionStrings__Events"] = _db.ConnectionString,
                ["Tools__dbt__WriteKeys__0"] = WriteKey,
                // Plain http in the test: the sign-in cookie cannot be Secure.
                ["Access__SecureCookies"] = "false",
            };

            var user = await AppProcess.RunVerbWithInputAsync(dll, output.FullName, environment, AppFactory.TestPassword, "users", "add", "--email", "ops@example.test", "--role", "admin", "--password-stdin");
            Assert.True(user.ExitCode == 0, user.Output);
            var token = await AppProcess.RunVerbAsync(dll, output.FullName, environment, "tokens", "create", "--email", "ops@example.test", "--name", "published", "--scope", "admin");
            Assert.True(token.ExitCode == 0, token.Output);
            var secret = token.Output.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)[^1];

            await using var app = await AppProcess.StartAsync(dll, output.FullName, environment);
            using var http = new HttpClient(new HttpClientHandler { AutomaticDecompression = DecompressionMethods.All }) { BaseAddress = app.Address };
            http.DefaultRequestHeaders.TryAddWithoutValidation("Accept-Encoding", "gzip, deflate, br");

            var login = await http.GetStringAsync("/login");
            var assets = AssetReference().Matches(login).Select(m => m.Groups["url"].Value).Distinct().ToList();
            Assert.NotEmpty(assets);
            foreach (var asset in assets)
            {
                using var response = await http.GetAsync(asset);
                Assert.True(response.StatusCode == HttpStatusCode.OK, $"{asset}: {(int)response.StatusCode}");
                Assert.True((await response.Content.ReadAsByteArrayAsync()).Length > 0, $"{asset}: empty body");
            }

            using (var post = new HttpRequestMessage(HttpMethod.Post, "/api/v1/events"))
            {
                post.Content = new StringContent($$"""{"eventId":"{{Guid.NewGuid()}}","tool":"dbt","installationId":"published-1","command":"run","status":"succeeded","timestamp":"{{DateTimeOffset.UtcNow.AddMinutes(-1):O}}"}""", Encoding.UTF8, "application/json");
                post.Headers.Authorization = new AuthenticationHeaderValue("Bearer", WriteKey);
                using var response = await http.SendAsync(post);
                var body = await response.Content.ReadAsStringAsync();
                Assert.True(response.StatusCode == HttpStatusCode.OK, body);
                Assert.Contains("\"accepted\":1", body, StringComparison.Ordinal);
            }

            http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", secret);
            using var page = await http.GetAsync("/");
            var html = await page.Content.ReadAsStringAsync();
            Assert.True(page.StatusCode == HttpStatusCode.OK, $"{(int)page.StatusCode}: {html}\n{app.OutputText}");
            Assert.Contains("<html", html, StringComparison.OrdinalIgnoreCase);

            await SignInWithBrowserAsync(app.Address, "ops@example.test");
        }
        finally
        {
            output.Delete(recursive: true);
        }
    }

    /// <summary>Chromium signs in through the published sign-in form and opens the overview, with no console error.</summary>
    private static async Task SignInWithBrowserAsync(Uri address, string email)
    {
        var baseUrl = address.ToString().TrimEnd('/');
        using var playwright = await Microsoft.Playwright.Playwright.CreateAsync();
        await using var browser = await playwright.Chromium.LaunchAsync(new Microsoft.Playwright.BrowserTypeLaunchOptions
        {
            ExecutablePath = Environment.GetEnvironmentVariable("CHROMIUM_PATH") is { Length: > 0 } path ? path : "/usr/bin/chromium",
            Headless = true,
            Args = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic"],
        });
        var page = await browser.NewPageAsync();
        var errors = new List<string>();
        page.Console += (_, message) =>
        {
            if (message.Type is "error")
            {
                errors.Add(message.Text);
            }
        };
        page.PageError += (_, error) => errors.Add("page error: " + error);
        await page.GotoAsync(baseUrl + "/login");
        await page.FillAsync("#login-email", email);
        await page.FillAsync("#login-password", AppFactory.TestPassword);
        await page.ClickAsync("button[type='submit']");
        await page.WaitForURLAsync(baseUrl + "/");
        await page.WaitForLoadStateAsync(Microsoft.Playwright.LoadState.NetworkIdle);
        // The circuit recomputes the prerendered view once it starts: wait for it, then for the overview's tiles.
        await page.WaitForSelectorAsync("body[data-circuit='up']", new() { State = Microsoft.Playwright.WaitForSelectorState.Attached });
        await page.WaitForSelectorAsync("main [data-tile]", new() { Timeout = 30_000 });
        Assert.False(string.IsNullOrWhiteSpace(await page.InnerTextAsync("main")), "the overview rendered nothing");
        Assert.Empty(errors);
    }

    private static async Task<(int ExitCode, string Output)> RunAsync(string exe, string workingDirectory, params string[] args)
    {
        var start = new ProcessStartInfo(exe, args) { RedirectStandardOutput = true, RedirectStandardError = true, WorkingDirectory = workingDirectory };
        using var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync().WaitAsync(TimeSpan.FromMinutes(5));
        return (process.ExitCode, await stdout + await stderr);
    }

    [GeneratedRegex("(?:href|src)=\"(?<url>[^\"#?:]+\\.(?:css|js|mjs|svg))\"")]
    private static partial Regex AssetReference();
}
