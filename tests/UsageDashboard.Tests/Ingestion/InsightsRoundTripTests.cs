using System.Text.Json.Nodes;
using static UsageDashboard.Tests.Ingestion.Payloads;

namespace UsageDashboard.Tests.Ingestion;

public sealed class InsightsRoundTripTests : IClassFixture<InsightsRoundTripTests.Fixture>
{
    public sealed class Fixture : IngestionFixture;

    private readonly Fixture _app;

    public InsightsRoundTripTests(Fixture app) => _app = app;

    [Fact]
    public async Task PostEvents_ThenCommandsInsight_ShowsThemPerCommand()
    {
        var t = IngestionFixture.Now.AddHours(-2);
        var events = new JsonArray(
            CreateNativeEvent(runId: "a", status: "started", command: "sync", timestamp: t),
            CreateNativeEvent(runId: "a", status: "succeeded", command: "sync", timestamp: t.AddSeconds(30)),
            CreateNativeEvent(runId: "b", status: "failed", command: "sync", timestamp: t.AddMinutes(5), installationId: "inst-2"),
            CreateNativeEvent(runId: "c", status: "succeeded", command: "init", timestamp: t.AddMinutes(6)));
        var posted = await _app.Client().PostAsync("/api/v1/events", Json(events));
        Assert.True(posted.IsSuccessStatusCode, $"POST answered {(int)posted.StatusCode}: {await posted.Content.ReadAsStringAsync()}");

        // Reading insights needs a signed-in viewer: here, a real personal API token.
        var viewer = await _app.App.CreateClientAsAsync(UsageDashboard.Access.Roles.Viewer);
        // Nothing refreshes the rollups here but the app's own background refresher: the events must show
        // up on their own, well within the minute the dashboards promise.
        var body = await (await viewer.GetAsync("/api/insights/commands?tool=mytool&range=7d")).ReadJsonAsync();
        // Up to 30 s: it failed once (2026-12-02) within the 10 s it used to wait, while the browser tests ran
        // alongside, and did not again in eight runs; the message now says what the insight showed.
        for (var waited = 0; body.GetProperty("items").GetArrayLength() < 2 && waited < 300; waited++)
        {
            await Task.Delay(100);
            body = await (await viewer.GetAsync("/api/insights/commands?tool=mytool&range=7d")).ReadJsonAsync();
        }

        Assert.True(body.GetProperty("items").GetArrayLength() == 2, $"the commands insight after waiting: {body}");
        var items = body.GetProperty("items").EnumerateArray().ToDictionary(i => i.GetProperty("command").GetString()!);
        Assert.Equal(2, items["sync"].GetProperty("runs").GetInt32());
        Assert.Equal(1, items["sync"].GetProperty("failedRuns").GetInt32());
        Assert.Equal(1, items["sync"].GetProperty("succeededRuns").GetInt32());
        Assert.Equal(2, items["sync"].GetProperty("installations").GetInt32());
        Assert.Equal(1, items["init"].GetProperty("runs").GetInt32());
        Assert.All(items.Values, i => Assert.Equal("mytool", i.GetProperty("tool").GetString()));
    }
}
