using System.Net;
using System.Text.Json;
using UsageDashboard.Demo;
using UsageDashboard.Store;
using UsageDashboard.Tests.Ingestion;
using static UsageDashboard.Tests.Ingestion.Payloads;

namespace UsageDashboard.Tests.Demo;

/// <summary>The demo's Meltano data is real Snowplow traffic: posted to the collector, it stores what the demo loads.</summary>
public sealed class DemoMeltanoWireTests : IClassFixture<DemoMeltanoWireTests.Fixture>
{
    public sealed class Fixture : IngestionFixture;

    private readonly Fixture _app;

    public DemoMeltanoWireTests(Fixture app) => _app = app;

    [Fact]
    public async Task PostDemoMeltanoWire_SampleOfBodies_CollectorStoresWhatTheDemoLoads()
    {
        await _app.ResetAsync();
        var wire = new List<byte[]>();
        var generated = DemoDataGenerator.Generate(new DemoOptions { Events = 3_000, Days = 5, Seed = 7, End = IngestionFixture.Now.UtcDateTime }, wire)
            .Where(e => e.Tool == "meltano").ToDictionary(e => e.EventId);
        var sample = wire.Take(300).ToList();

        foreach (var chunk in sample.Chunk(100))
        {
            var response = await _app.Client(null).PostAsync("/com.snowplowanalytics.snowplow/tp2", Json(MeltanoWire.Body(chunk), "application/json; charset=utf-8"));
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        }

        Assert.Equal(0, await _app.CountAsync("SELECT count(*) FROM quarantine"));
        var rows = await _app.RowsAsync("SELECT event_id, source, installation_id, event_name, command, status, tool_version, os_name, is_ci, error_type, duration_ms, plugins::text AS plugins FROM events");
        Assert.Equal(sample.Count, rows.Count);
        foreach (var row in rows)
        {
            var e = generated[(Guid)row["event_id"]!];
            Assert.Equal(SnowplowMapperSource, row["source"]);
            Assert.Equal(e.InstallationId, row["installation_id"]);
            Assert.Equal(e.EventName, row["event_name"]);
            Assert.Equal(e.Command, row["command"]);
            Assert.Equal(e.Status, row["status"]);
            Assert.Equal(e.ToolVersion, row["tool_version"]);
            Assert.Equal(e.OsName, row["os_name"]);
            Assert.Equal(e.IsCi, row["is_ci"]);
            Assert.Equal(e.ErrorType, row["error_type"]);
            Assert.Equal(e.DurationMs, row["duration_ms"] as long?);
            var stored = JsonSerializer.Deserialize<List<PluginRef>>((string)row["plugins"]!, s_json)!;
            Assert.Equal(e.Plugins.Select(p => (p.Name, p.Type, p.Version)), stored.Select(p => (p.Name, p.Type, p.Version)));
            // Meltano's shape: digests of (name.variant) and of the pip_url, never a version number.
            Assert.All(stored, p => Assert.Matches("^[0-9a-f]{64}\\.[0-9a-f]{64}$", p.Name));
            Assert.All(stored, p => Assert.Matches("^[0-9a-f]{64}$", p.Version!));
        }
    }

    private const string SnowplowMapperSource = UsageDashboard.Ingestion.SnowplowMapper.Source;
    private static readonly JsonSerializerOptions s_json = new(JsonSerializerDefaults.Web);
}
