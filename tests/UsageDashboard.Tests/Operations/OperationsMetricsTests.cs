using System.Net;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using UsageDashboard.Ingestion;
using UsageDashboard.Operations;
using UsageDashboard.Tests.Ingestion;
using UsageDashboard.Tests.Infrastructure;
using static UsageDashboard.Tests.Ingestion.Payloads;

namespace UsageDashboard.Tests.Operations;

/// <summary>The Prometheus endpoint of a running app, and the names docs/operations/ builds on.</summary>
[Collection(MetricsCollection.Name)]
public sealed partial class OperationsMetricsTests : IClassFixture<OperationsMetricsTests.Fixture>
{
    public sealed class Fixture : IngestionFixture
    {
        protected override IReadOnlyDictionary<string, string?> Settings => new Dictionary<string, string?>
        {
            ["Operations:Metrics:Enabled"] = "true",
        };
    }

    private readonly Fixture _app;

    public OperationsMetricsTests(Fixture app) => _app = app;

    [Fact]
    public async Task Metrics_AfterIngestion_EveryNameTheDashboardAndAlertsUseIsExported()
    {
        var client = _app.Client();
        var good = new JsonArray(CreateNativeEvent(), CreateNativeEvent(), CreateNativeEvent(installationId: ""));
        Assert.Equal(HttpStatusCode.OK, (await client.PostAsync("/api/v1/events", Json(good))).StatusCode);
        var duplicate = CreateNativeEvent();
        await client.PostAsync("/api/v1/events", Json(duplicate));
        await client.PostAsync("/api/v1/events", Json(duplicate));
        await _app.App.CreateClient().GetAsync("/badges/mytool/nothing.svg");
        await _app.App.RefreshRollupsAsync();

        var scrape = await ScrapeUntilAsync(s => s.Contains("usagedashboard_rollups_refresh_duration_seconds_bucket", StringComparison.Ordinal)
            && s.Contains("usagedashboard_rollups_cache_reload_duration_seconds_bucket", StringComparison.Ordinal));
        var exported = MetricName().Matches(scrape).Select(m => m.Groups["name"].Value).ToHashSet(StringComparer.Ordinal);
        var used = new[] { "docs/operations/grafana-dashboard.json", "docs/operations/alerts.yml", "docs/operations.md" }
            .SelectMany(f => UsedName().Matches(File.ReadAllText(Path.Combine(AppFactory.RepoRoot, f))).Select(m => m.Value))
            .Append("http_server_request_duration_seconds_bucket")
            .ToHashSet(StringComparer.Ordinal);

        Assert.True(used.Count > 10, "the dashboard and alerts name the app's metrics");
        // A histogram is exported as its _bucket, _sum and _count series.
        var missing = used.Where(n => !exported.Contains(n) && !exported.Contains(n + "_bucket")).Order(StringComparer.Ordinal).ToList();
        Assert.True(missing.Count == 0, "not exported: " + string.Join(", ", missing) + "\n--- scrape ---\n" + scrape);
        Assert.Matches("usagedashboard_ingest_events_total\\{[^}]*endpoint=\"/api/v1/events\",outcome=\"duplicate\",tool=\"mytool\"\\} 1", scrape);
        Assert.Matches("usagedashboard_ingest_rejected_total\\{[^}]*reason=\"missing_installation_id\",tool=\"mytool\"\\} 1", scrape);
    }

    [Fact]
    public async Task Metrics_ImportVerbRunTwice_CountsAcceptedDuplicateAndRejected()
    {
        var folder = Directory.CreateTempSubdirectory("ud-import-metrics-").FullName;
        try
        {
            var path = Path.Combine(folder, "history.ndjson");
            File.WriteAllLines(path, [
                new JsonArray(CreateNativeEvent(tool: "mytool"), CreateNativeEvent(tool: "mytool")).ToJsonString(),
                "{\"installationId\": broken",
                CreateNativeEvent(tool: "mytool", installationId: "").ToJsonString(),
            ]);
            var importer = _app.App.Services.GetRequiredService<EventImporter>();

            await importer.ImportAsync(path, null, WireFormats.Auto, path + ".rejected", null, default);
            await importer.ImportAsync(path, null, WireFormats.Auto, path + ".rejected", null, default);

            var scrape = await ScrapeUntilAsync(s => s.Contains("endpoint=\"import\",outcome=\"duplicate\"", StringComparison.Ordinal));
            Assert.Matches("usagedashboard_ingest_events_total\\{[^}]*endpoint=\"import\",outcome=\"accepted\",tool=\"mytool\"\\} 2\\s", scrape);
            Assert.Matches("usagedashboard_ingest_events_total\\{[^}]*endpoint=\"import\",outcome=\"duplicate\",tool=\"mytool\"\\} 2\\s", scrape);
            // A line that is not JSON is refused before mapping; an event without an installation by its mapper.
            Assert.Matches("usagedashboard_ingest_rejected_total\\{[^}]*endpoint=\"import\",[^}]*reason=\"malformed_json\",tool=\"none\"\\} 2\\s", scrape);
            Assert.Matches("usagedashboard_ingest_rejected_total\\{[^}]*endpoint=\"import\",[^}]*reason=\"missing_installation_id\",tool=\"mytool\"\\} 2\\s", scrape);
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }

    [Fact]
    public async Task Metrics_RequestThroughAProxy_NotServed()
    {
        using var client = _app.App.CreateClient(new Microsoft.AspNetCore.Mvc.Testing.WebApplicationFactoryClientOptions { AllowAutoRedirect = false });
        using var request = new HttpRequestMessage(HttpMethod.Get, "/metrics");
        request.Headers.Add("X-Forwarded-For", "203.0.113.9");

        using var response = await client.SendAsync(request);

        Assert.DoesNotContain("usagedashboard_", await response.Content.ReadAsStringAsync(), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("127.0.0.1", null, 8080, true)]
    [InlineData("::1", null, 8080, true)]
    [InlineData("203.0.113.9", null, 8080, false)]
    [InlineData("10.1.2.3", null, 8080, true)]
    [InlineData("127.0.0.1", 9464, 8080, false)]
    [InlineData("127.0.0.1", 9464, 9464, true)]
    public void MayScrape_CallerAndPort_AllowedOnlyFromLocalOrAllowedNetworks(string remote, int? port, int localPort, bool expected)
    {
        var http = new DefaultHttpContext();
        http.Connection.RemoteIpAddress = IPAddress.Parse(remote);
        http.Connection.LocalPort = localPort;

        Assert.Equal(expected, OperationsExtensions.MayScrape(http, port, [System.Net.IPNetwork.Parse("10.0.0.0/8")]));
    }

    [Fact]
    public async Task Metrics_NotEnabled_NotServed()
    {
        await using var app = new AppFactory(_app.ConnectionString);
        using var client = app.CreateClient(new Microsoft.AspNetCore.Mvc.Testing.WebApplicationFactoryClientOptions { AllowAutoRedirect = false });

        using var response = await client.GetAsync("/metrics");

        Assert.DoesNotContain("usagedashboard_", await response.Content.ReadAsStringAsync(), StringComparison.Ordinal);
    }

    private async Task<string> ScrapeUntilAsync(Func<string, bool> done)
    {
        using var client = _app.App.CreateClient();
        var text = "";
        for (var i = 0; i < 50; i++)
        {
            using var response = await client.GetAsync("/metrics");
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            text = await response.Content.ReadAsStringAsync();
            if (done(text))
            {
                break;
            }
            await Task.Delay(200);
        }
        return text;
    }

    [GeneratedRegex(@"^(?<name>[a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{| )", RegexOptions.Multiline)]
    private static partial Regex MetricName();

    [GeneratedRegex(@"\b(?:usagedashboard|http_server)_[a-z0-9_]+")]
    private static partial Regex UsedName();
}
