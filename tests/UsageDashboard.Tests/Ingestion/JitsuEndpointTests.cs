using System.Net;
using System.Text.Json.Nodes;
using static UsageDashboard.Tests.Ingestion.Payloads;

namespace UsageDashboard.Tests.Ingestion;

public sealed class JitsuEndpointTests : IClassFixture<JitsuEndpointTests.Fixture>, IAsyncLifetime
{
    public sealed class Fixture : IngestionFixture;

    private readonly Fixture _app;

    public JitsuEndpointTests(Fixture app) => _app = app;

    public Task InitializeAsync() => _app.ResetAsync();

    public Task DisposeAsync() => Task.CompletedTask;

    /// <summary>What Evidently's client sends (no timestamp, no id; Jitsu adds those server-side).</summary>
    private static JsonObject CreateEvidentlyEvent(string action = "get_snapshot_data", string? error = null) => new()
    {
        ["interface"] = "service", ["action"] = action, ["error"] = error,
        ["extra"] = new JsonObject { ["snapshot_type"] = "report", ["metrics"] = new JsonArray("ValueDrift") },
        ["python_version"] = new JsonObject { ["major"] = 3, ["minor"] = 11, ["patch"] = 9 },
        ["tool_name"] = "evidently", ["tool_version"] = "0.7.14",
        ["user_id"] = "4f3c2b1a-9d8e-4c7b-a6f5-0e1d2c3b4a59", ["group_id"] = null, ["os_name"] = "linux", ["os_version"] = "22.04",
    };

    [Fact]
    public async Task PostS2s_AllNineSeedEvents_StoredOnceWithoutIpOrKey()
    {
        var body = "[" + string.Join(',', SeedExamples.Evidently04) + "]";

        var response = await _app.Client(null).PostAsync($"/api/v1/s2s/event?ip_policy=strict&token={IngestionFixture.EvidentlyKey}", Json(body));
        var again = await _app.Client(null).PostAsync($"/api/v1/s2s/event?ip_policy=strict&token={IngestionFixture.EvidentlyKey}", Json(body));

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("ok", (await response.ReadJsonAsync()).GetProperty("status").GetString());
        Assert.Equal(HttpStatusCode.OK, again.StatusCode);
        Assert.Equal(9, await _app.CountAsync("SELECT count(*) FROM events WHERE tool = 'evidently' AND source = 'jitsu'"));
        Assert.Equal(0, await _app.CountAsync("SELECT count(*) FROM quarantine"));
        var startup = Assert.Single(await _app.RowsAsync("SELECT * FROM events WHERE command = 'startup'"));
        Assert.Equal(Guid.Parse("cfcc182d-5a2d-47d6-89dd-37590ec7b08a"), startup["event_id"]);
        Assert.Equal(new DateTime(2023, 7, 7, 14, 8, 44, 332, DateTimeKind.Utc).AddTicks(5280), startup["occurred_at"]);
        Assert.Equal("16d5bb6f-0400-4e2c-90f3-c3b31c95a1d3", startup["installation_id"]);
        Assert.Equal("succeeded", startup["status"]);
        Assert.Equal("mac", startup["os_name"]);
        Assert.Equal("13.0.1", startup["os_version"]);
        Assert.Equal("python", startup["runtime_name"]);
        Assert.Equal("3.9.16", startup["runtime_version"]);
        Assert.Equal("0.3.3", startup["tool_version"]);
        Assert.Contains("19", (string)(await _app.RowsAsync("SELECT properties FROM events WHERE command = 'list_reports'"))[0]["properties"]!);
        Assert.Equal(0, await _app.CountAsync("SELECT count(*) FROM events WHERE properties::text LIKE '%78.163%' OR properties::text LIKE '%s2s.%' OR properties::text LIKE '%88.225%'"));
    }

    [Fact]
    public async Task PostS2s_ClientEventWithTokenHeader_AcceptedAndErrorIsOutcome()
    {
        var client = _app.Client(null);
        client.DefaultRequestHeaders.Add("X-Auth-Token", IngestionFixture.EvidentlyKey);

        var response = await client.PostAsync("/api/v1/s2s/event", Json(new JsonArray(CreateEvidentlyEvent(), CreateEvidentlyEvent("add_project", "ValueError"))));

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var rows = (await _app.RowsAsync("SELECT command, status, error_type, runtime_version, occurred_at FROM events ORDER BY command")).ToList();
        Assert.Equal(("add_project", "failed", "ValueError"), ((string)rows[0]["command"]!, (string)rows[0]["status"]!, (string)rows[0]["error_type"]!));
        Assert.Equal(("get_snapshot_data", "succeeded"), ((string)rows[1]["command"]!, (string)rows[1]["status"]!));
        Assert.Equal("3.11.9", rows[1]["runtime_version"]);
        Assert.Equal(IngestionFixture.Now.UtcDateTime, rows[1]["occurred_at"]);
    }

    [Fact]
    public async Task PostS2s_TemplateAndEvents_TemplateFieldsUnderEach()
    {
        var template = CreateEvidentlyEvent();
        template.Remove("action");
        var body = new JsonObject
        {
            ["template"] = template,
            ["events"] = new JsonArray(new JsonObject { ["action"] = "list_projects" }, new JsonObject { ["action"] = "index", ["os_name"] = "windows" }),
        };

        await _app.Client(null).PostAsync($"/api/v1/s2s/event?token={IngestionFixture.EvidentlyKey}", Json(body));

        var rows = await _app.RowsAsync("SELECT command, os_name, installation_id FROM events ORDER BY command");
        Assert.Equal(["index", "list_projects"], rows.Select(r => (string)r["command"]!));
        Assert.Equal(["windows", "linux"], rows.Select(r => (string)r["os_name"]!));
        Assert.All(rows, r => Assert.Equal("4f3c2b1a-9d8e-4c7b-a6f5-0e1d2c3b4a59", r["installation_id"]));
    }

    [Fact]
    public async Task PostS2s_WrongToken_401Json()
    {
        var response = await _app.Client(null).PostAsync("/api/v1/s2s/event?token=s2s.wrong", Json(CreateEvidentlyEvent()));

        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
        Assert.Equal("unauthorized", (await response.ReadJsonAsync()).GetProperty("error").GetString());
    }

    [Fact]
    public async Task PostS2s_NoUserId_QuarantinedStill200()
    {
        var e = CreateEvidentlyEvent();
        e["user_id"] = null;

        var response = await _app.Client(null).PostAsync($"/api/v1/s2s/event?token={IngestionFixture.EvidentlyKey}", Json(e));

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("missing_installation_id", (await _app.RowsAsync("SELECT reason FROM quarantine"))[0]["reason"]);
    }
}
