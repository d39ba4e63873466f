using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Text.Json.Nodes;
using UsageDashboard.Tests.Infrastructure;
using static UsageDashboard.Tests.Ingestion.Payloads;

namespace UsageDashboard.Tests.Operations;

/// <summary>The CLI's <c>import</c> verb, a process of its own with no /metrics: its counts are pushed over OTLP.</summary>
public sealed class CliMetricsTests
{
    [Fact]
    public async Task ImportVerb_OtlpEndpointSet_ExportsTheImportedEventCounts()
    {
        var connectionString = await TestCluster.CreateDatabaseAsync(nameof(CliMetricsTests));
        var folder = Directory.CreateTempSubdirectory("ud-cli-metrics-");
        using var collector = new HttpListener();
        var port = FreePort();
        collector.Prefixes.Add($"http://127.0.0.1:{port}/");
        collector.Start();
        var received = new ConcurrentQueue<(string Path, byte[] Body)>();
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
        try
        {
            var file = Path.Combine(folder.FullName, "history.ndjson");
            await File.WriteAllLinesAsync(file, [new JsonArray(CreateNativeEvent(tool: "dbt"), CreateNativeEvent(tool: "dbt")).ToJsonString()]);

            var (exit, output) = await AppProcess.RunVerbAsync(typeof(Program).Assembly.Location, AppFactory.RepoRoot, new Dictionary<string, string>
            {
                ["ConnectionStrings__Events"] = connectionString,
                ["OTEL_EXPORTER_OTLP_ENDPOINT"] = $"http://127.0.0.1:{port}",
                ["OTEL_EXPORTER_OTLP_PROTOCOL"] = "http/protobuf",
            }, "import", file);

            Assert.True(exit == 0, output);
            Assert.Contains("(2 new, 0 already stored, 0 rejected)", output, StringComparison.Ordinal);
            // The export at exit: protobuf keeps names and label values as plain UTF-8.
            var metrics = string.Join('\n', received.Where(r => r.Path == "/v1/metrics").Select(r => Encoding.UTF8.GetString(r.Body)));
            Assert.Contains("usagedashboard.ingest.events", metrics, StringComparison.Ordinal);
            Assert.Contains("import", metrics, StringComparison.Ordinal);
            Assert.Contains("accepted", metrics, StringComparison.Ordinal);
        }
        finally
        {
            collector.Stop();
            await receiving;
            folder.Delete(recursive: true);
        }
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}
