using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using UsageDashboard.Operations;
using UsageDashboard.Tests.Infrastructure;

namespace UsageDashboard.Tests.Operations;

/// <summary>
/// The build output started in Production with JSON console logs: what an operator's log shipper receives.
/// Personal data sent to the collector (emails, addresses, paths, raw ids) and secrets (write keys) never
/// appear in a line; a Production start names what is missing, one line per problem.
/// </summary>
public sealed class OperationsLoggingTests : IClassFixture<OperationsLoggingTests.Db>
{
    public sealed class Db : DatabaseFixture;

    private const string WriteKey = "ops-wk-SECRET-5d1c9a77";
    private const string WrongKey = "wrong-wk-SECRET-88aa41";
    private static readonly string[] s_personal =
    [
        "alice.pii@example.com", "198.51.100.77", "2001:db8::77", "/home/alicepii", "C:\\Users\\alicepii", "raw-install-PII-4711", "run-PII-0815",
        WriteKey, WrongKey, "SECRET",
    ];

    private readonly Db _db;

    public OperationsLoggingTests(Db db) => _db = db;

    [Fact]
    public async Task JsonLogs_PersonalDataThroughTheCollector_NoLineCarriesIt()
    {
        await using var app = await AppProcess.StartAsync(typeof(Program).Assembly.Location, AppFactory.RepoRoot, new Dictionary<string, string>
        {
            ["ConnectionStrings__Events"] = _db.ConnectionString,
            ["Tools__dbt__WriteKeys__0"] = WriteKey,
            ["Logging__Console__FormatterName"] = "json",
            ["Logging__Console__FormatterOptions__IncludeScopes"] = "true",
            // Everything the app itself says, down to Debug, and the framework's request-scoped warnings.
            ["Logging__LogLevel__UsageDashboard"] = "Debug",
            ["Rollups__RefreshEvery"] = "00:00:00.200",
        });
        using var http = new HttpClient { BaseAddress = app.Address };

        foreach (var body in PersonalBodies())
        {
            await PostAsync(http, "/api/v1/events", body, WriteKey);
            await PostAsync(http, "/api/v1/events", body, WrongKey);
        }
        await PostAsync(http, "/api/v1/events", "{\"installationId\": \"raw-install-PII-4711\", \"email\": \"alice.pii@example.com\"", WriteKey);
        await PostAsync(http, "/api/v1/events", "{\"installationId\": \"raw-install-PII-4711\", \"bad\": \"\\ud800 alice.pii@example.com\"}", WriteKey);
        await http.GetAsync("/api/v1/events?email=alice.pii@example.com&ip=198.51.100.77");
        await Task.Delay(1500);

        var lines = app.Output.Where(l => l.StartsWith('{')).ToList();
        Assert.NotEmpty(lines);
        foreach (var line in lines)
        {
            using var json = JsonDocument.Parse(line);
            Assert.True(json.RootElement.TryGetProperty("Category", out _), line);
        }
        // A line written while a request ran carries the request's id and trace id (IncludeScopes).
        Assert.True(lines.Any(l => l.Contains("\"RequestId\"", StringComparison.Ordinal) && l.Contains("\"TraceId\"", StringComparison.Ordinal)),
            "no request-scoped line:\n" + string.Join('\n', lines));
        var leaks = app.Output.Where(l => s_personal.Any(p => l.Contains(p, StringComparison.OrdinalIgnoreCase))).ToList();
        Assert.True(leaks.Count == 0, "log lines with personal data or secrets:\n" + string.Join('\n', leaks));
    }

    [Fact]
    public async Task ProductionStart_PublicUrlsNoWriteKeysNoCertificate_OneWarningPerProblem()
    {
        await using var app = await AppProcess.StartAsync(typeof(Program).Assembly.Location, AppFactory.RepoRoot, new Dictionary<string, string>
        {
            ["ConnectionStrings__Events"] = _db.ConnectionString,
            ["Urls"] = "http://0.0.0.0:0",
        });
        await Task.Delay(500);
        var output = app.OutputText;

        Assert.Contains("No write key for", output);
        Assert.Contains("Data-protection keys", output);
        Assert.Single(app.Output, l => l.Contains("Listening on a public address", StringComparison.Ordinal));
    }

    [Fact]
    public async Task StartupChecks_NoConnectionString_SaysTheLocalClusterIsUsed()
    {
        var logger = new ListLogger();
        var configuration = new ConfigurationBuilder().AddInMemoryCollection([new("ConnectionStrings:Events", "")]).Build();
        var checks = new OperationsStartupChecks(configuration, new Microsoft.Extensions.Hosting.Internal.HostingEnvironment { EnvironmentName = Environments.Production },
            null!, new Microsoft.Extensions.Hosting.Internal.ApplicationLifetime(NullLogger<Microsoft.Extensions.Hosting.Internal.ApplicationLifetime>.Instance), logger);

        await checks.StartAsync(default);

        var line = Assert.Single(logger.Lines);
        Assert.Contains("No connection string (ConnectionStrings__Events)", line);
        Assert.Contains(".data/postgres", line);
    }

    [Theory]
    [InlineData("http://0.0.0.0:8080", true)]
    [InlineData("http://[::]:8080", true)]
    [InlineData("http://+:8080", true)]
    [InlineData("http://192.0.2.10:8080", true)]
    [InlineData("http://127.0.0.1:5000", false)]
    [InlineData("http://[::1]:5000", false)]
    [InlineData("http://localhost:5000", false)]
    public void IsPublic_ListenAddress_TrueOnlyBeyondLoopback(string address, bool expected) =>
        Assert.Equal(expected, OperationsStartupChecks.IsPublic(address));

    private static IEnumerable<string> PersonalBodies()
    {
        JsonObject Event() => new()
        {
            ["eventId"] = Guid.NewGuid().ToString(),
            ["tool"] = "dbt",
            ["installationId"] = "raw-install-PII-4711",
            ["runId"] = "run-PII-0815",
            ["command"] = "run",
            ["status"] = "failed",
            ["timestamp"] = DateTimeOffset.UtcNow.AddMinutes(-1).ToString("O", System.Globalization.CultureInfo.InvariantCulture),
            ["user"] = new JsonObject { ["email"] = "alice.pii@example.com", ["ip"] = "198.51.100.77", ["ipv6"] = "2001:db8::77" },
            ["error"] = new JsonObject { ["type"] = "OSError", ["message"] = "cannot open /home/alicepii/.dbt/profiles.yml for alice.pii@example.com at 198.51.100.77" },
            ["cwd"] = "C:\\Users\\alicepii\\project",
        };
        yield return Event().ToJsonString();
        yield return new JsonArray(Event(), Event()).ToJsonString();
        // Rejected ones go to the quarantine, and through the code that logs refusals.
        var old = Event();
        old["timestamp"] = "1999-01-01T00:00:00Z";
        yield return old.ToJsonString();
        var unnamed = Event();
        unnamed.Remove("installationId");
        yield return unnamed.ToJsonString();
    }

    private static async Task PostAsync(HttpClient http, string path, string body, string key)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, path) { Content = new StringContent(body, Encoding.UTF8, "application/json") };
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", key);
        request.Headers.TryAddWithoutValidation("X-Forwarded-For", "198.51.100.77");
        request.Headers.TryAddWithoutValidation("User-Agent", "dbt/1.8 (alice.pii@example.com)");
        using var response = await http.SendAsync(request);
    }

    private sealed class ListLogger : ILogger<OperationsStartupChecks>
    {
        public List<string> Lines { get; } = [];

        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => true;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter) =>
            Lines.Add(formatter(state, exception));
    }
}
