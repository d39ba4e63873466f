using System.Diagnostics;
using System.Net;
using System.Text.RegularExpressions;
using UsageDashboard.Tests.Infrastructure;

namespace UsageDashboard.Tests.Hosting;

/// <summary>
/// The app as an operator without the launch profile starts it: its own process from the build output,
/// <c>ASPNETCORE_ENVIRONMENT=Production</c>, the repository root as content root. WebApplicationFactory
/// hides what this catches (it loads the static web assets manifest by itself).
/// </summary>
public sealed partial class ProductionStartTests : IClassFixture<ProductionStartTests.Db>
{
    public sealed class Db : DatabaseFixture;

    private readonly Db _db;

    public ProductionStartTests(Db db) => _db = db;

    [Fact]
    public async Task ProductionStart_BrowserAcceptEncoding_EveryPageAssetServedWithContent()
    {
        await using var app = await ProductionApp.StartAsync(_db.ConnectionString);
        using var http = new HttpClient(new HttpClientHandler { AutomaticDecompression = DecompressionMethods.All }) { BaseAddress = app.Address };
        http.DefaultRequestHeaders.TryAddWithoutValidation("Accept-Encoding", "gzip, deflate, br");

        var page = await http.GetStringAsync("/login");
        var assets = AssetReference().Matches(page).Select(m => m.Groups["url"].Value).Where(u => !u.StartsWith("data:", StringComparison.Ordinal)).Distinct().ToList();

        Assert.NotEmpty(assets);
        foreach (var asset in assets)
        {
            using var response = await http.GetAsync(asset);
            var body = await response.Content.ReadAsByteArrayAsync();
            Assert.True(response.StatusCode == HttpStatusCode.OK, $"{asset}: {(int)response.StatusCode}");
            Assert.True(body.Length > 0, $"{asset}: empty body");
            Assert.False(string.IsNullOrEmpty(response.Content.Headers.ContentType?.MediaType), $"{asset}: no Content-Type");
        }
    }

    [GeneratedRegex("(?:href|src)=\"(?<url>[^\"#?]+\\.(?:css|js|mjs|svg))\"")]
    private static partial Regex AssetReference();

    /// <summary>The build output started as a process in Production, listening on a free loopback port.</summary>
    private sealed class ProductionApp : IAsyncDisposable
    {
        private readonly Process _process;

        private ProductionApp(Process process, Uri address)
        {
            _process = process;
            Address = address;
        }

        public Uri Address { get; }

        public static async Task<ProductionApp> StartAsync(string connectionString)
        {
            var start = new ProcessStartInfo("dotnet", [typeof(Program).Assembly.Location, "--contentRoot", AppFactory.RepoRoot])
            {
                RedirectStandardOutput = true,
                RedirectStandardError = true,
                WorkingDirectory = AppFactory.RepoRoot,
            };
            start.Environment["ASPNETCORE_ENVIRONMENT"] = "Production";
            start.Environment["ConnectionStrings__Events"] = connectionString;
            start.Environment["Demo__SeedLocalDatabase"] = "false";
            start.Environment["Ingestion__WarmUpRounds"] = "0";
            start.Environment["Urls"] = "http://127.0.0.1:0";
            var process = Process.Start(start)!;
            var listening = new TaskCompletionSource<Uri>(TaskCreationOptions.RunContinuationsAsynchronously);
            var output = new System.Collections.Concurrent.ConcurrentQueue<string>();
            process.OutputDataReceived += (_, e) =>
            {
                if (e.Data is null)
                {
                    return;
                }
                output.Enqueue(e.Data);
                const string Running = "UsageDashboard is running at ";
                var at = e.Data.IndexOf(Running, StringComparison.Ordinal);
                if (at >= 0)
                {
                    listening.TrySetResult(new Uri(e.Data[(at + Running.Length)..].Trim()));
                }
            };
            process.ErrorDataReceived += (_, e) => output.Enqueue(e.Data ?? "");
            process.BeginOutputReadLine();
            process.BeginErrorReadLine();
            var app = new ProductionApp(process, await WaitAsync(listening.Task, process, output));
            await app.WaitReadyAsync(output);
            return app;
        }

        private static async Task<Uri> WaitAsync(Task<Uri> listening, Process process, IEnumerable<string> output)
        {
            try
            {
                return await listening.WaitAsync(TimeSpan.FromSeconds(90));
            }
            catch (TimeoutException)
            {
                process.Kill(entireProcessTree: true);
                throw new TimeoutException("the Production app did not start:\n" + string.Join('\n', output));
            }
        }

        private async Task WaitReadyAsync(IEnumerable<string> output)
        {
            using var http = new HttpClient { BaseAddress = Address };
            var deadline = DateTime.UtcNow.AddSeconds(90);
            while (DateTime.UtcNow < deadline)
            {
                if ((await http.GetAsync("/readyz")).StatusCode == HttpStatusCode.OK)
                {
                    return;
                }
                await Task.Delay(200);
            }
            throw new TimeoutException("/readyz never answered 200:\n" + string.Join('\n', output));
        }

        public async ValueTask DisposeAsync()
        {
            _process.Kill(entireProcessTree: true);
            await _process.WaitForExitAsync();
            _process.Dispose();
        }
    }
}
