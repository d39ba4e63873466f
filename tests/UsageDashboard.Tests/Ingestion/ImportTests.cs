using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.Extensions.DependencyInjection;
using UsageDashboard.Ingestion;
using static UsageDashboard.Tests.Ingestion.Payloads;

namespace UsageDashboard.Tests.Ingestion;

public sealed class ImportTests : IClassFixture<ImportTests.Fixture>, IAsyncLifetime
{
    public sealed class Fixture : IngestionFixture;

    private readonly Fixture _app;
    private readonly string _folder = Directory.CreateTempSubdirectory("ud-import-").FullName;

    public ImportTests(Fixture app) => _app = app;

    public Task InitializeAsync() => _app.ResetAsync();

    public Task DisposeAsync()
    {
        Directory.Delete(_folder, recursive: true);
        return Task.CompletedTask;
    }

    private EventImporter Importer => _app.App.Services.GetRequiredService<EventImporter>();

    private string WriteFile(params string[] lines)
    {
        var path = Path.Combine(_folder, "history.ndjson");
        File.WriteAllLines(path, lines);
        return path;
    }

    [Fact]
    public async Task Import_MixedFormatsAuto_StoredAndReimportAddsNothing()
    {
        var t = IngestionFixture.Now.AddDays(-400);
        var path = WriteFile(
            CreateNativeEvent(tool: "mytool", timestamp: t).ToJsonString(),
            new JsonArray(CreateNativeEvent(tool: "mytool", timestamp: t), CreateNativeEvent(tool: "mytool", timestamp: t)).ToJsonString(),
            PayloadData(DbtEvent("invocation", "start", t, Contexts(DbtInvocation("i1", "start"), DbtPlatform(), DbtEnv()))).ToJsonString(),
            JsonNode.Parse(SeedExamples.Evidently04[0])!.ToJsonString(),
            JsonNode.Parse(SeedExamples.Jetty)!.ToJsonString(),
            "",
            "{\"installationId\": broken",
            new JsonObject { ["tool"] = "mytool", ["status"] = "succeeded" }.ToJsonString());
        var rejects = Path.Combine(_folder, "rejects.ndjson");

        var first = await Importer.ImportAsync(path, null, WireFormats.Auto, rejects, null, default);
        var second = await Importer.ImportAsync(path, null, WireFormats.Auto, rejects, null, default);

        Assert.Equal(6, first.Accepted);
        Assert.Equal(2, first.Rejected);
        Assert.Equal(0, second.Accepted);
        Assert.Equal(6, second.Duplicates);
        Assert.Equal(6, await _app.CountAsync("SELECT count(*) FROM events"));
        Assert.Equal(["dbt", "evidently", "jetty", "mytool"], (await _app.RowsAsync("SELECT DISTINCT tool FROM events ORDER BY tool")).Select(r => (string)r["tool"]!));
        Assert.Equal(0, await _app.CountAsync("SELECT count(*) FROM quarantine"));
        var rejected = File.ReadAllLines(rejects).Select(l => JsonDocument.Parse(l).RootElement).ToList();
        Assert.Equal([(7L, "malformed_json"), (8L, "missing_installation_id")], rejected.Select(r => (r.GetProperty("line").GetInt64(), r.GetProperty("reason").GetString()!)));
        // History keeps its own time.
        Assert.Equal(6, await _app.CountAsync("SELECT count(*) FROM events WHERE occurred_at < $1", IngestionFixture.Now.UtcDateTime.AddDays(-100)));
    }

    [Fact]
    public async Task Import_ToolOption_AttributesEveryEvent()
    {
        var e = CreateNativeEvent();
        var path = WriteFile(e.ToJsonString());

        var result = await Importer.ImportAsync(path, "meltano", WireFormats.Native, Path.Combine(_folder, "r.ndjson"), null, default);

        Assert.Equal(1, result.Accepted);
        Assert.Equal("meltano", (await _app.RowsAsync("SELECT tool FROM events"))[0]["tool"]);
    }

    [Fact]
    public async Task Import_UnknownTool_Refused()
    {
        var path = WriteFile(CreateNativeEvent().ToJsonString());

        await Assert.ThrowsAsync<ArgumentException>(() => Importer.ImportAsync(path, "nope", WireFormats.Auto, Path.Combine(_folder, "r.ndjson"), null, default));
    }
}
