using System.Net;
using System.Net.Sockets;
using System.Text;
using UsageDashboard.Access;
using UsageDashboard.Tests.Infrastructure;

namespace UsageDashboard.Tests.Operations;

/// <summary>OTLP export, received by a stand-in collector: request spans with Npgsql's database spans in them.</summary>
[Collection(MetricsCollection.Name)]
public sealed class TracingTests : IClassFixture<TracingTests.Db>
{
    public sealed class Db : DatabaseFixture;

    private readonly Db _db;

    public TracingTests(Db db) => _db = db;

    [Fact]
    public async Task Tracing_OtlpEndpointSet_RequestsExportedWithDatabaseSpans()
    {
        var port = FreePort();
        using var collector = new HttpListener();
        collector.Prefixes.Add($"http://127.0.0.1:{port}/");
        collector.Start();
        var received = new System.Collections.Concurrent.ConcurrentQueue<(string Path, byte[] Body)>();
        var receiving = Task.Run(async () =>
        {
            while (collector.IsListening)
            {
                HttpListenerContext context;
                try
                {
                    context = await collector.GetContextAsync();
                }
                catch (Exception e) when (e is HttpListenerException or ObjectDisposedException)
                {
                    return;
                }
                using var body = new MemoryStream();
                await context.Request.InputStream.CopyToAsync(body);
                received.Enqueue((context.Request.Url!.AbsolutePath, body.ToArray()));
                context.Response.StatusCode = 200;
                context.Response.Close();
            }
        });
        await using var app = new AppFactory(_db.ConnectionString, settings: new Dictionary<string, string?>
        {
            ["OTEL_EXPORTER_OTLP_ENDPOINT"] = $"http://127.0.0.1:{port}",
            ["OTEL_EXPORTER_OTLP_PROTOCOL"] = "http/protobuf",
            ["OTEL_BSP_SCHEDULE_DELAY"] = "200",
            ["Operations:Tracing:SampleRatio"] = "1",
        });
        // A token request: its authentication reads the tokens table within the request.
        var client = await app.CreateClientAsAsync(Roles.Viewer, UsageDashboard.Store.TokenScopes.Read);

        Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("/api/insights/overview")).StatusCode);
        using var collectorClient = app.CreateClient();
        collectorClient.DefaultRequestHeaders.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", "dev-dbt-write-key");
        var ingest = await collectorClient.PostAsync("/api/v1/events", new StringContent(
            $$"""{"eventId":"{{Guid.NewGuid()}}","tool":"dbt","installationId":"traced-1","command":"run","status":"succeeded","timestamp":"{{DateTimeOffset.UtcNow.AddMinutes(-1):O}}"}""",
            Encoding.UTF8, "application/json"));
        Assert.Equal(HttpStatusCode.OK, ingest.StatusCode);

        string traces = "";
        // The commit span ends before its request span, so the two can arrive in different batches: wait for all three.
        string[] expected = ["/api/insights/overview", "/api/v1/events", "usagedashboard.ingest.commit"];
        for (var i = 0; i < 50 && !expected.All(e => traces.Contains(e, StringComparison.Ordinal)); i++)
        {
            await Task.Delay(200);
            traces = string.Join('\n', received.Where(r => r.Path == "/v1/traces").Select(r => Encoding.UTF8.GetString(r.Body)));
        }
        collector.Stop();
        Assert.Contains("/api/insights/overview", traces, StringComparison.Ordinal);
        Assert.Contains("postgresql", traces, StringComparison.Ordinal);
        // The collector's write, on a background writer, is a span of the request's trace.
        Assert.Contains("/api/v1/events", traces, StringComparison.Ordinal);
        Assert.Contains("usagedashboard.ingest.commit", traces, StringComparison.Ordinal);
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}
