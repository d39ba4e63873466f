using System.Net;
using System.Text;
using System.Text.Json;
using AngleSharp;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.Extensions.DependencyInjection;
using UsageDashboard.Access;
using UsageDashboard.Health;
using UsageDashboard.Store;
using UsageDashboard.Tests.Access;
using UsageDashboard.Tests.Infrastructure;
using static UsageDashboard.Tests.Infrastructure.TestEvents;

namespace UsageDashboard.Tests.Health;

/// <summary>
/// Detection through the real app and database: evaluate, flags, the flag page, webhooks.
/// Each test works on a tool of its own, so no test sees another's flags.
/// </summary>
public sealed class HealthFlowTests : IClassFixture<HealthFlowTests.Db>
{
    public sealed class Db : DatabaseFixture;

    internal static readonly DateTimeOffset Now = new(2026, 11, 20, 12, 0, 0, TimeSpan.Zero);
    private readonly Db _db;

    public HealthFlowTests(Db db) => _db = db;

    /// <summary>
    /// tap-github 2.0.0 healthy for three days (2% failures, 30 installations); 1.4.2 first seen three
    /// hours ago, failing 40% of its runs across 24 installations. Optionally the same for CI runs only.
    /// </summary>
    internal static async Task SeedBrokenReleaseAsync(DatabaseFixture db, string tool, bool brokenOnlyInCi = false)
    {
        var events = new List<TelemetryEvent>();
        var now = Now.UtcDateTime;
        for (var i = 0; i < 600; i++)
        {
            var failed = i % 50 == 0;
            events.Add(Run(tool, $"i{i % 30}", now.AddMinutes(-(i * 7) - 5), "2.0.0", failed, isCi: false));
        }
        for (var i = 0; i < 120; i++)
        {
            var failed = i % 5 < 2;
            events.Add(Run(tool, $"n{i % 24}", now.AddMinutes(-(i * 1.5) - 1), "1.4.2", failed && !brokenOnlyInCi, isCi: false));
            if (brokenOnlyInCi)
            {
                events.Add(Run(tool, $"ci{i % 10}", now.AddMinutes(-(i * 1.5) - 1), "1.4.2", failed: true, isCi: true));
            }
        }
        await CreateWriter(db, new FakeTimeProvider(Now)).WriteAsync(events, default);
    }

    private static TelemetryEvent Run(string tool, string installation, DateTime at, string version, bool failed, bool isCi)
    {
        var status = failed ? RunStatus.Failed : RunStatus.Succeeded;
        return CreateEvent(tool: tool, installationId: installation, at: at, status: status, isCi: isCi,
            plugins: [new PluginRef { Name = "tap-github", Type = "extractors", Version = version, Status = status }]);
    }

    private AppFactory CreateApp(Dictionary<string, string?>? settings = null, FakeTimeProvider? time = null)
    {
        var all = new Dictionary<string, string?> { ["Health:RunInBackground"] = "false", ["Hub:SnapshotTtl"] = "00:00:00" };
        foreach (var (k, v) in settings ?? [])
        {
            all[k] = v;
        }
        return new AppFactory(_db.ConnectionString, time ?? new FakeTimeProvider(Now), all);
    }

    private static async Task<List<HealthFlag>> FlagsAsync(AppFactory app, string tool)
    {
        await using var scope = app.Services.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<UsageDbContext>();
        return db.HealthFlags.Where(f => f.Tool == tool).OrderBy(f => f.Id).ToList();
    }

    [Fact]
    public async Task Evaluate_BrokenRelease_OpensOneExplainedFlagAndOnlyOnce()
    {
        await SeedBrokenReleaseAsync(_db, "flowtool");
        await using var app = CreateApp();
        var maintainer = await app.CreateClientAsAsync(Roles.Maintainer);

        var first = await maintainer.PostAsync("/api/health/evaluate", null);
        var again = await maintainer.PostAsync("/api/health/evaluate", null);

        Assert.Equal(HttpStatusCode.OK, first.StatusCode);
        Assert.Equal(HttpStatusCode.OK, again.StatusCode);
        var flag = Assert.Single(await FlagsAsync(app, "flowtool"), f => f.Kind == HealthSubject.PluginKind);
        Assert.Equal(("tap-github", "1.4.2", "broken", FlagStates.Open), (flag.Name, flag.Version, flag.Severity, flag.State));
        Assert.StartsWith("tap-github 1.4.2 failed 48 of 120 runs (40%, 95% CI", flag.Reason, StringComparison.Ordinal);
        Assert.Contains("from 24 installations since it was first seen 3 h ago; other versions", flag.Reason, StringComparison.Ordinal);
        using var body = JsonDocument.Parse(await again.Content.ReadAsStringAsync());
        Assert.Equal(0, body.RootElement.GetProperty("opened").GetInt32());
    }

    [Fact]
    public async Task Evaluate_Viewer_Forbidden()
    {
        await using var app = CreateApp();
        var viewer = await app.CreateClientAsAsync(Roles.Viewer);

        Assert.Equal(HttpStatusCode.Forbidden, (await viewer.PostAsync("/api/health/evaluate", null)).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await viewer.GetAsync("/api/health/flags")).StatusCode);
    }

    [Theory]
    [InlineData(true, 0)]
    [InlineData(false, 1)]
    public async Task Evaluate_FailuresOnlyInCi_FlaggedOnlyWhenCiIncluded(bool excludeCi, int expectedFlags)
    {
        var tool = excludeCi ? "citool_ex" : "citool_in";
        await SeedBrokenReleaseAsync(_db, tool, brokenOnlyInCi: true);
        await using var app = CreateApp(new() { ["Health:ExcludeCi"] = excludeCi ? "true" : "false" });

        await using (var scope = app.Services.CreateAsyncScope())
        {
            await scope.ServiceProvider.GetRequiredService<HealthEvaluator>().EvaluateAsync(default);
        }

        Assert.Equal(expectedFlags, (await FlagsAsync(app, tool)).Count(f => f.Kind == HealthSubject.PluginKind));
    }

    [Fact]
    public async Task Flag_AcknowledgeThenResolve_PageShowsActionsToMaintainersAndKeepsHistory()
    {
        await SeedBrokenReleaseAsync(_db, "formtool");
        await using var app = CreateApp();
        await using (var scope = app.Services.CreateAsyncScope())
        {
            await scope.ServiceProvider.GetRequiredService<HealthEvaluator>().EvaluateAsync(default);
        }
        var flag = Assert.Single(await FlagsAsync(app, "formtool"), f => f.Kind == HealthSubject.PluginKind);
        var page = $"/health/flags/{flag.Id}";

        // A viewer sees the flag and its chart, but no actions (the dialogs and their handlers: Components/FlagPageTests).
        var viewerEmail = await app.CreateUserAsync(Roles.Viewer);
        var viewer = Browser(app);
        await AccessTests.PostLoginAsync(viewer, viewerEmail, AppFactory.TestPassword);
        var viewerDoc = await ParseAsync(await viewer.GetStringAsync(page));
        Assert.NotNull(viewerDoc.QuerySelector("[data-chart]"));
        Assert.Null(viewerDoc.QuerySelector("[data-action]"));

        var email = await app.CreateUserAsync(Roles.Maintainer);
        var client = Browser(app);
        await AccessTests.PostLoginAsync(client, email, AppFactory.TestPassword);
        var maintainerDoc = await ParseAsync(await client.GetStringAsync(page));
        Assert.Equal(["acknowledge", "resolve"], maintainerDoc.QuerySelectorAll("[data-action]").Select(b => b.GetAttribute("data-action")));
        await using (var scope = app.Services.CreateAsyncScope())
        {
            var flags = scope.ServiceProvider.GetRequiredService<HealthFlagService>();
            Assert.True(await flags.AcknowledgeAsync(flag.Id, email, "Upstream API changed; fix in 1.4.3", default));
            Assert.True(await flags.ResolveAsync(flag.Id, email, "1.4.3 released", default));
        }

        var stored = (await FlagsAsync(app, "formtool")).Single(f => f.Id == flag.Id);
        Assert.Equal((FlagStates.Resolved, email, "1.4.3 released"), (stored.State, stored.ResolvedBy, stored.ResolveNote));
        var doc = await ParseAsync(await client.GetStringAsync(page));
        var history = doc.QuerySelector("[data-history]")!.TextContent;
        Assert.Contains("opened", history, StringComparison.Ordinal);
        Assert.Contains("Upstream API changed; fix in 1.4.3", history, StringComparison.Ordinal);
        Assert.Contains("resolved", history, StringComparison.Ordinal);
        Assert.Null(doc.QuerySelector("[data-action]"));
    }

    [Fact]
    public async Task Flag_PostWithoutAntiforgeryToken_Rejected()
    {
        await using var app = CreateApp();
        var email = await app.CreateUserAsync(Roles.Maintainer);
        var client = Browser(app);
        await AccessTests.PostLoginAsync(client, email, AppFactory.TestPassword);

        var response = await client.PostAsync("/health/flags/1", new FormUrlEncodedContent(new Dictionary<string, string> { ["_handler"] = "resolve", ["Resolve.Note"] = "x" }));

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
    }

    [Fact]
    public async Task PluginPage_ActiveFlag_ShowsHealthStatusWithReason()
    {
        await SeedBrokenReleaseAsync(_db, "plugintool");
        await using var app = CreateApp();
        await using (var scope = app.Services.CreateAsyncScope())
        {
            await scope.ServiceProvider.GetRequiredService<HealthEvaluator>().EvaluateAsync(default);
        }
        var viewer = await app.CreateClientAsAsync(Roles.Viewer);

        var doc = await ParseAsync(await viewer.GetStringAsync("/plugins/tap-github?tool=plugintool"));

        var panel = doc.QuerySelector("[data-plugin-health]");
        Assert.NotNull(panel);
        Assert.Equal("broken", panel.GetAttribute("data-plugin-health"));
        Assert.Contains("tap-github 1.4.2 failed 48 of 120 runs", panel.TextContent, StringComparison.Ordinal);
    }

    [Fact]
    public async Task HealthPage_ActiveFlag_ShownWithReasonAndChart()
    {
        await SeedBrokenReleaseAsync(_db, "pagetool");
        await using var app = CreateApp();
        await using (var scope = app.Services.CreateAsyncScope())
        {
            await scope.ServiceProvider.GetRequiredService<HealthEvaluator>().EvaluateAsync(default);
        }
        var email = await app.CreateUserAsync(Roles.Viewer);
        var client = Browser(app);
        await AccessTests.PostLoginAsync(client, email, AppFactory.TestPassword);

        var doc = await ParseAsync(await client.GetStringAsync("/health?tool=pagetool"));

        var card = doc.QuerySelectorAll("[data-flag][data-severity='broken']")
            .FirstOrDefault(c => c.QuerySelector("[data-reason]")!.TextContent.StartsWith("tap-github 1.4.2 failed 48 of 120 runs", StringComparison.Ordinal));
        Assert.NotNull(card);
        using var option = JsonDocument.Parse(card.QuerySelector("[data-chart]")!.GetAttribute("data-chart")!);
        Assert.Equal(3, option.RootElement.GetProperty("series").GetArrayLength());
    }

    [Fact]
    public async Task Webhooks_FlagOpens_DeliveredOnceWithRetryAfterReceiverError()
    {
        await SeedBrokenReleaseAsync(_db, "hooktool");
        using var receiver = new WebhookReceiver(failFirst: 1);
        var clock = new FakeTimeProvider(Now);
        await using var app = CreateApp(new()
        {
            ["Health:Webhooks:0:Url"] = receiver.Url,
            ["Health:Webhooks:0:Secret"] = "s3cret",
            ["Health:DashboardUrl"] = "https://dash.example.org",
        }, clock);
        var sender = app.Services.GetRequiredService<WebhookSender>();
        await using (var scope = app.Services.CreateAsyncScope())
        {
            await scope.ServiceProvider.GetRequiredService<HealthEvaluator>().EvaluateAsync(default);
        }

        // Two flags opened (the plugin version, and the CLI release its failures drag down): the first
        // message meets the receiver's error and waits for its retry, the second goes through.
        Assert.Equal(1, await sender.SendDueAsync(default));
        Assert.Equal(0, await sender.SendDueAsync(default));
        clock.Advance(TimeSpan.FromMinutes(2));
        Assert.Equal(1, await sender.SendDueAsync(default));
        await using (var scope = app.Services.CreateAsyncScope())
        {
            await scope.ServiceProvider.GetRequiredService<HealthEvaluator>().EvaluateAsync(default);
        }
        clock.Advance(TimeSpan.FromHours(1));
        Assert.Equal(0, await sender.SendDueAsync(default));

        Assert.Equal(3, receiver.Requests.Count);
        Assert.Equal(receiver.Requests[0].Body, receiver.Requests[2].Body);
        var delivered = receiver.Requests[^1];
        using var json = JsonDocument.Parse(delivered.Body);
        Assert.Equal("opened", json.RootElement.GetProperty("event").GetString());
        Assert.StartsWith("tap-github 1.4.2 failed", json.RootElement.GetProperty("reason").GetString(), StringComparison.Ordinal);
        Assert.StartsWith("https://dash.example.org/health/flags/", json.RootElement.GetProperty("evidenceUrl").GetString(), StringComparison.Ordinal);
        var mac = System.Security.Cryptography.HMACSHA256.HashData(Encoding.UTF8.GetBytes("s3cret"), Encoding.UTF8.GetBytes(delivered.Body));
        Assert.Equal("sha256=" + Convert.ToHexStringLower(mac), delivered.Signature);
    }

    private static HttpClient Browser(AppFactory app) =>
        app.CreateClient(new WebApplicationFactoryClientOptions { AllowAutoRedirect = true, BaseAddress = new Uri("https://localhost"), HandleCookies = true });

    private static Task<AngleSharp.Dom.IDocument> ParseAsync(string html) =>
        BrowsingContext.New(Configuration.Default).OpenAsync(r => r.Content(html));
}

/// <summary>A real HTTP listener on 127.0.0.1 that records webhook posts, answering 500 to the first <c>failFirst</c>.</summary>
internal sealed class WebhookReceiver : IDisposable
{
    private readonly HttpListener _listener = new();
    private readonly Task _loop;
    private int _toFail;

    public sealed record Received(string Body, string? Signature);

    public List<Received> Requests { get; } = [];
    public string Url { get; }

    public WebhookReceiver(int failFirst)
    {
        _toFail = failFirst;
        var port = FreePort();
        Url = $"http://127.0.0.1:{port}/hook/";
        _listener.Prefixes.Add(Url);
        _listener.Start();
        _loop = Task.Run(LoopAsync);
    }

    private async Task LoopAsync()
    {
        while (_listener.IsListening)
        {
            HttpListenerContext context;
            try
            {
                context = await _listener.GetContextAsync();
            }
            catch (Exception e) when (e is HttpListenerException or ObjectDisposedException)
            {
                return;
            }
            using var reader = new StreamReader(context.Request.InputStream, Encoding.UTF8);
            var body = await reader.ReadToEndAsync();
            lock (Requests)
            {
                Requests.Add(new Received(body, context.Request.Headers["X-UsageDashboard-Signature"]));
            }
            context.Response.StatusCode = Interlocked.Decrement(ref _toFail) >= 0 ? 500 : 204;
            context.Response.Close();
        }
    }

    private static int FreePort()
    {
        var l = new System.Net.Sockets.TcpListener(IPAddress.Loopback, 0);
        l.Start();
        var port = ((IPEndPoint)l.LocalEndpoint).Port;
        l.Stop();
        return port;
    }

    public void Dispose()
    {
        _listener.Stop();
        _listener.Close();
        _loop.Wait(TimeSpan.FromSeconds(5));
    }
}
