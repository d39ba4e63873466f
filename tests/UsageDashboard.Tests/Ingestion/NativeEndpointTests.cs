using System.Net;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using static UsageDashboard.Tests.Ingestion.Payloads;

namespace UsageDashboard.Tests.Ingestion;

public sealed class NativeEndpointTests : IClassFixture<NativeEndpointTests.Fixture>, IAsyncLifetime
{
    public sealed class Fixture : IngestionFixture;

    private readonly Fixture _app;

    public NativeEndpointTests(Fixture app) => _app = app;

    public Task InitializeAsync() => _app.ResetAsync();

    public Task DisposeAsync() => Task.CompletedTask;

    [Fact]
    public async Task PostEvents_OneObject_StoredWithCanonicalFields()
    {
        var e = CreateNativeEvent(durationMs: 8123);
        e["plugins"] = new JsonArray(new JsonObject { ["name"] = "tap-github", ["type"] = "extractor", ["version"] = "1.4.2", ["status"] = "failed" });
        e["error"] = new JsonObject { ["type"] = "ValueError", ["message"] = "could not open /home/alice/secret.csv" };
        e["status"] = "failed";

        var response = await _app.Client().PostAsync("/api/v1/events", Json(e));

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var body = await response.ReadJsonAsync();
        Assert.Equal(1, body.GetProperty("accepted").GetInt32());
        Assert.Equal(0, body.GetProperty("duplicates").GetInt32());
        Assert.Equal(0, body.GetProperty("rejected").GetArrayLength());
        var row = Assert.Single(await _app.RowsAsync("SELECT * FROM events"));
        Assert.Equal("mytool", row["tool"]);
        Assert.Equal("native", row["source"]);
        Assert.Equal(Guid.Parse(e["eventId"]!.GetValue<string>()), row["event_id"]);
        Assert.Equal("linux", row["os_name"]);
        Assert.Equal("python", row["runtime_name"]);
        Assert.Equal("3.12.4", row["runtime_version"]);
        Assert.Equal(8123L, row["duration_ms"]);
        Assert.Equal("ValueError", row["error_type"]);
        Assert.Equal(IngestionFixture.Now.AddMinutes(-5).UtcDateTime, row["occurred_at"]);
        Assert.DoesNotContain("secret.csv", (string)row["properties"]! + row["plugins"]);
        var run = Assert.Single(await _app.RowsAsync("SELECT status FROM runs"));
        Assert.Equal("failed", run["status"]);
        Assert.Equal("failed", (await _app.RowsAsync("SELECT status FROM run_plugins"))[0]["status"]);
    }

    [Fact]
    public async Task PostEvents_ArrayAndNdjson_AllAccepted()
    {
        var array = new JsonArray(CreateNativeEvent(), CreateNativeEvent());
        var ndjson = string.Join('\n', CreateNativeEvent().ToJsonString(), "", CreateNativeEvent().ToJsonString()) + "\n";

        var first = await _app.Client().PostAsync("/api/v1/events", Json(array));
        var second = await _app.Client().PostAsync("/api/v1/events", Json(ndjson, "application/x-ndjson"));

        Assert.Equal(2, (await first.ReadJsonAsync()).GetProperty("accepted").GetInt32());
        Assert.Equal(2, (await second.ReadJsonAsync()).GetProperty("accepted").GetInt32());
        Assert.Equal(4, await _app.CountAsync("SELECT count(*) FROM events"));
    }

    [Fact]
    public async Task PostEvents_SameBatchTwice_CountedOnce()
    {
        var batch = new JsonArray(CreateNativeEvent(runId: "r1", status: "started"), CreateNativeEvent(runId: "r1", status: "succeeded", timestamp: IngestionFixture.Now.AddMinutes(-1)));
        // No eventId: the id is a hash of the content, so the re-sent copy is still recognised.
        var noId = CreateNativeEvent(installationId: "inst-2");
        noId.Remove("eventId");
        batch.Add(noId);

        var first = await (await _app.Client().PostAsync("/api/v1/events", Json(batch.ToJsonString()))).ReadJsonAsync();
        var second = await (await _app.Client().PostAsync("/api/v1/events", Json(batch.ToJsonString()))).ReadJsonAsync();

        Assert.Equal(3, first.GetProperty("accepted").GetInt32());
        Assert.Equal(0, second.GetProperty("accepted").GetInt32());
        Assert.Equal(3, second.GetProperty("duplicates").GetInt32());
        Assert.Equal(3, await _app.CountAsync("SELECT count(*) FROM events"));
        Assert.Equal(2, await _app.CountAsync("SELECT count(*) FROM runs"));
        Assert.Equal(240_000, await _app.CountAsync("SELECT duration_ms FROM runs WHERE run_key = 'r1'"));
    }

    [Fact]
    public async Task PostEvents_ConcurrentRequestsSomeRepeated_EachStoredOnceEachAnswerRight()
    {
        // Concurrent requests share transactions (group commit); each still gets its own counts.
        var events = Enumerable.Range(0, 40).Select(_ => CreateNativeEvent().ToJsonString()).ToList();
        var client = _app.Client();

        var answers = await Task.WhenAll(events.Concat(events.Take(10)).Select(async e => await (await client.PostAsync("/api/v1/events", Json(e))).ReadJsonAsync()));

        Assert.Equal(40, answers.Sum(a => a.GetProperty("accepted").GetInt32()));
        Assert.Equal(10, answers.Sum(a => a.GetProperty("duplicates").GetInt32()));
        Assert.All(answers, a => Assert.Equal(1, a.GetProperty("accepted").GetInt32() + a.GetProperty("duplicates").GetInt32()));
        Assert.Equal(40, await _app.CountAsync("SELECT count(*) FROM events"));
    }

    [Fact]
    public async Task PostEvents_OneMalformedInBatch_RejectsOnlyThatOne()
    {
        var bad = CreateNativeEvent();
        bad.Remove("installationId");
        var wrongType = CreateNativeEvent();
        wrongType["durationMs"] = "slow";
        var batch = new JsonArray(CreateNativeEvent(), bad, wrongType, JsonValue.Create(42));

        var response = await _app.Client().PostAsync("/api/v1/events", Json(batch));

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var body = await response.ReadJsonAsync();
        Assert.Equal(1, body.GetProperty("accepted").GetInt32());
        var rejected = body.GetProperty("rejected").EnumerateArray().Select(r => (r.GetProperty("index").GetInt32(), r.GetProperty("reason").GetString())).ToList();
        Assert.Equal([(1, "missing_installation_id"), (2, "invalid_field"), (3, "not_an_object")], rejected);
        var quarantine = await _app.RowsAsync("SELECT reason, endpoint, tool, payload FROM quarantine ORDER BY id");
        Assert.Equal(["missing_installation_id", "invalid_field", "not_an_object"], quarantine.Select(q => (string)q["reason"]!));
        Assert.Contains("slow", (string)quarantine[1]["payload"]!);
        Assert.Equal("/api/v1/events", quarantine[0]["endpoint"]);
    }

    [Fact]
    public async Task PostEvents_AllRejected_422WithReasons()
    {
        var e = CreateNativeEvent(status: "exploded");

        var response = await _app.Client().PostAsync("/api/v1/events", Json(e));

        Assert.Equal(HttpStatusCode.UnprocessableEntity, response.StatusCode);
        Assert.Equal("invalid_field", (await response.ReadJsonAsync()).GetProperty("rejected")[0].GetProperty("reason").GetString());
        Assert.Equal(1, await _app.CountAsync("SELECT count(*) FROM quarantine"));
    }

    [Theory]
    [InlineData(null)]
    [InlineData("not-a-key")]
    public async Task PostEvents_MissingOrWrongKey_401Json(string? key)
    {
        var response = await _app.Client(key).PostAsync("/api/v1/events", Json(CreateNativeEvent()));

        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
        Assert.Equal("unauthorized", (await response.ReadJsonAsync()).GetProperty("error").GetString());
        Assert.Equal(0, await _app.CountAsync("SELECT count(*) FROM events"));
    }

    [Fact]
    public async Task PostEvents_XWriteKeyHeader_Accepted()
    {
        var client = _app.Client(null);
        client.DefaultRequestHeaders.Add("X-Write-Key", IngestionFixture.ToolKey);

        var response = await client.PostAsync("/api/v1/events", Json(CreateNativeEvent()));

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
    }

    [Fact]
    public async Task PostEvents_KeyOfTwoTools_ToolFieldDecides()
    {
        var named = CreateNativeEvent(tool: "dbt");
        var unnamed = CreateNativeEvent();
        var foreign = CreateNativeEvent(tool: "jetty");

        var body = await (await _app.Client(IngestionFixture.SharedKey).PostAsync("/api/v1/events", Json(new JsonArray(named, unnamed, foreign)))).ReadJsonAsync();

        Assert.Equal(1, body.GetProperty("accepted").GetInt32());
        Assert.Equal("missing_tool", body.GetProperty("rejected")[0].GetProperty("reason").GetString());
        Assert.Equal("tool_not_allowed", body.GetProperty("rejected")[1].GetProperty("reason").GetString());
        Assert.Equal("dbt", (await _app.RowsAsync("SELECT tool FROM events"))[0]["tool"]);
    }

    [Fact]
    public async Task PostEvents_FutureTimestamp_SetToReceiptAndFlagged_OldKept()
    {
        var future = CreateNativeEvent(timestamp: IngestionFixture.Now.AddMinutes(11));
        var nearFuture = CreateNativeEvent(timestamp: IngestionFixture.Now.AddMinutes(9));
        var old = CreateNativeEvent(timestamp: new DateTimeOffset(2019, 3, 1, 0, 0, 0, TimeSpan.Zero));

        await _app.Client().PostAsync("/api/v1/events", Json(new JsonArray(future, nearFuture, old)));

        var rows = (await _app.RowsAsync("SELECT event_id, occurred_at, clock_adjusted, properties FROM events")).ToDictionary(r => r["event_id"]!.ToString()!);
        var f = rows[future["eventId"]!.GetValue<string>()];
        Assert.Equal(IngestionFixture.Now.UtcDateTime, f["occurred_at"]);
        Assert.True((bool)f["clock_adjusted"]!);
        Assert.Contains("deviceTimestamp", (string)f["properties"]!);
        Assert.False((bool)rows[nearFuture["eventId"]!.GetValue<string>()]["clock_adjusted"]!);
        Assert.Equal(new DateTime(2019, 3, 1, 0, 0, 0, DateTimeKind.Utc), rows[old["eventId"]!.GetValue<string>()]["occurred_at"]);
    }

    [Fact]
    public async Task PostEvents_MalformedJson_400NamingLineAndPosition()
    {
        var response = await _app.Client().PostAsync("/api/v1/events", Json("{\n  \"installationId\": \"a\",\n  \"command\": run\n}"));

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        var body = await response.ReadJsonAsync();
        Assert.Equal("malformed_json", body.GetProperty("error").GetString());
        Assert.Equal(3, body.GetProperty("line").GetInt32());
        Assert.Equal(14, body.GetProperty("position").GetInt32());
        Assert.Contains("line 3", body.GetProperty("message").GetString());
    }

    [Fact]
    public async Task PostEvents_MalformedNdjsonLine_400NamingThatLine()
    {
        var ndjson = CreateNativeEvent().ToJsonString() + "\n" + "{\"installationId\": }" + "\n";

        var body = await (await _app.Client().PostAsync("/api/v1/events", Json(ndjson, "application/x-ndjson"))).ReadJsonAsync();

        Assert.Equal(2, body.GetProperty("line").GetInt32());
        Assert.Equal(0, await _app.CountAsync("SELECT count(*) FROM events"));
    }

    [Fact]
    public async Task PostEvents_DeepNesting_400NotACrash()
    {
        var deep = "{\"installationId\":\"a\",\"properties\":" + string.Concat(Enumerable.Repeat("[", 100_000)) + string.Concat(Enumerable.Repeat("]", 100_000)) + "}";

        var response = await _app.Client().PostAsync("/api/v1/events", Json(deep));

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Contains("depth", (await response.ReadJsonAsync()).GetProperty("message").GetString(), StringComparison.OrdinalIgnoreCase);
    }

    [Fact]
    public async Task PostEvents_UnsupportedContentType_415()
    {
        var response = await _app.Client().PostAsync("/api/v1/events", new StringContent("installationId=a", Encoding.UTF8, "application/x-www-form-urlencoded"));

        Assert.Equal(HttpStatusCode.UnsupportedMediaType, response.StatusCode);
        Assert.Equal("unsupported_media_type", (await response.ReadJsonAsync()).GetProperty("error").GetString());
    }

    [Fact]
    public async Task PostEvents_BodyOver1MiB_413()
    {
        var e = CreateNativeEvent();
        e["properties"] = new JsonObject { ["blob"] = new string('x', 1024 * 1024) };

        var response = await _app.Client().PostAsync("/api/v1/events", Json(e));

        Assert.Equal(HttpStatusCode.RequestEntityTooLarge, response.StatusCode);
        Assert.Equal("payload_too_large", (await response.ReadJsonAsync()).GetProperty("error").GetString());
    }

    [Fact]
    public async Task PostEvents_MoreThan1000Events_413NothingStored()
    {
        var batch = new JsonArray(Enumerable.Range(0, 1001).Select(i => (JsonNode)new JsonObject { ["installationId"] = "i" }).ToArray());

        var response = await _app.Client().PostAsync("/api/v1/events", Json(batch));

        Assert.Equal(HttpStatusCode.RequestEntityTooLarge, response.StatusCode);
        Assert.Equal("too_many_events", (await response.ReadJsonAsync()).GetProperty("error").GetString());
        Assert.Equal(0, await _app.CountAsync("SELECT count(*) FROM events"));
    }

    [Fact]
    public async Task PostEvents_EventOver64KiB_RejectedWithReasonOthersStored()
    {
        var big = CreateNativeEvent();
        big["properties"] = new JsonObject { ["blob"] = new string('x', 70_000) };

        var body = await (await _app.Client().PostAsync("/api/v1/events", Json(new JsonArray(CreateNativeEvent(), big)))).ReadJsonAsync();

        Assert.Equal(1, body.GetProperty("accepted").GetInt32());
        Assert.Equal("event_too_large", body.GetProperty("rejected")[0].GetProperty("reason").GetString());
        var q = Assert.Single(await _app.RowsAsync("SELECT payload_truncated, payload_bytes FROM quarantine"));
        Assert.True((bool)q["payload_truncated"]!);
        Assert.True((int)q["payload_bytes"]! > 70_000);
    }

    [Fact]
    public async Task PostEvents_UnknownFieldsAndHugeProperties_KeptUnderCap()
    {
        var e = CreateNativeEvent();
        e["rows_synced"] = 1200;
        e["properties"] = new JsonObject
        {
            ["small"] = "kept",
            ["huge"] = new JsonArray(Enumerable.Range(0, 500).Select(i => (JsonNode)("value-" + i.ToString(System.Globalization.CultureInfo.InvariantCulture) + new string('y', 50))).ToArray()),
        };

        await _app.Client().PostAsync("/api/v1/events", Json(e));

        var properties = JsonDocument.Parse((string)(await _app.RowsAsync("SELECT properties FROM events"))[0]["properties"]!).RootElement;
        Assert.Equal("kept", properties.GetProperty("small").GetString());
        Assert.Equal(1200, properties.GetProperty("rows_synced").GetInt32());
        Assert.True(properties.GetRawText().Length <= 8 * 1024 + 64);
    }

    [Fact]
    public async Task PostEvents_JettySeedPlainAndFirestore_SameEventOnce()
    {
        var plain = await _app.Client(IngestionFixture.JettyKey).PostAsync("/api/v1/events", Json(SeedExamples.Jetty));
        var firestore = await _app.Client(IngestionFixture.JettyKey).PostAsync("/api/v1/events", Json(SeedExamples.JettyFirestore));

        Assert.Equal(1, (await plain.ReadJsonAsync()).GetProperty("accepted").GetInt32());
        // The Firestore document is the same event, so it hashes to the same id: a duplicate, not a second run.
        Assert.Equal(1, (await firestore.ReadJsonAsync()).GetProperty("duplicates").GetInt32());
        var row = Assert.Single(await _app.RowsAsync("SELECT * FROM events"));
        Assert.Equal("jetty", row["tool"]);
        Assert.Equal("jetty", row["source"]);
        Assert.Equal("e677e873-2870-49c5-bc28-c1a8be520465", row["installation_id"]);
        Assert.Equal("invoked_fetch", row["event_name"]);
        Assert.Equal("fetch", row["command"]);
        Assert.Equal("unknown", row["status"]);
        Assert.Equal("mac", row["os_name"]);
        Assert.Equal("0.1.0", row["tool_version"]);
        Assert.Equal("dev", row["environment"]);
        Assert.Equal(new DateTime(2022, 11, 11, 0, 16, 3, 399, DateTimeKind.Utc).AddTicks(1910), row["occurred_at"]);
        var plugins = JsonDocument.Parse((string)row["plugins"]!).RootElement.EnumerateArray().Select(p => p.GetProperty("name").GetString()).ToList();
        Assert.Equal(["dbt", "snowflake", "tableau"], plugins);
        Assert.Contains("8c48dc5c-7762-46f3-bc84-524bc85ef5a8", (string)row["properties"]!);
        Assert.Equal(3, await _app.CountAsync("SELECT count(*) FROM run_plugins WHERE type = 'connector'"));
    }

    [Fact]
    public async Task PostEvents_JettyDocsLiteralWithMissingComma_400PointsAtIt()
    {
        // The docs page's example is not valid JSON (no comma after "event"); the CLI's serde output is.
        var response = await _app.Client(IngestionFixture.JettyKey).PostAsync("/api/v1/events", Json(SeedExamples.JettyDocsLiteral));

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Equal(13, (await response.ReadJsonAsync()).GetProperty("line").GetInt32());
    }

    [Fact]
    public async Task PostEvents_EvidentlyCliSeed_Accepted()
    {
        var response = await _app.Client(IngestionFixture.EvidentlyKey).PostAsync("/api/v1/events", Json(SeedExamples.Evidently01));

        Assert.Equal(1, (await response.ReadJsonAsync()).GetProperty("accepted").GetInt32());
        var row = Assert.Single(await _app.RowsAsync("SELECT * FROM events"));
        Assert.Equal("evidently", row["tool"]);
        Assert.Equal("profile", row["command"]);
        Assert.Equal("mac", row["os_name"]);
        Assert.Equal("11.4", row["os_version"]);
        Assert.Equal("3.8.2", row["runtime_version"]);
        Assert.Equal("0.1.19.dev0", row["tool_version"]);
        Assert.Equal("unidentified", row["installation_id"]);
        Assert.Contains("data_drift", (string)row["properties"]!);
    }

    [Fact]
    public async Task PostEvents_JettyEventWithAnotherToolsKey_Rejected()
    {
        var body = await (await _app.Client(IngestionFixture.SharedKey).PostAsync("/api/v1/events", Json(SeedExamples.Jetty))).ReadJsonAsync();

        Assert.Equal("tool_not_allowed", body.GetProperty("rejected")[0].GetProperty("reason").GetString());
    }

    [Fact]
    public async Task PostEvents_PostHogBatch_UuidIsTheIdAndApiKeyDropped()
    {
        const string body = """
            {"api_key": "phc_xxx", "historical_migration": false, "sentAt": "2026-08-21T09:30:00.412Z",
             "batch": [
              {"event": "cli_command_completed", "distinct_id": "0197f0e1-2b3c-7d4e-8f90-a1b2c3d4e5f6",
               "uuid": "0198c7b0-11aa-7c3d-8e9f-001122334455", "timestamp": "2026-08-21T09:29:58.120Z",
               "properties": {"command": "sync", "duration_ms": 8123, "exit_code": 0,
                              "tool_version": "2.4.1", "os": "linux", "python_version": "3.12.4",
                              "$lib": "posthog-python", "$lib_version": "6.7.0",
                              "$process_person_profile": false}}]}
            """;

        var first = await (await _app.Client().PostAsync("/api/v1/events", Json(body))).ReadJsonAsync();
        var again = await (await _app.Client().PostAsync("/api/v1/events", Json(body))).ReadJsonAsync();

        Assert.Equal(1, first.GetProperty("accepted").GetInt32());
        Assert.Equal(1, again.GetProperty("duplicates").GetInt32());
        var row = Assert.Single(await _app.RowsAsync("SELECT * FROM events"));
        Assert.Equal(Guid.Parse("0198c7b0-11aa-7c3d-8e9f-001122334455"), row["event_id"]);
        Assert.Equal(("posthog", "sync", "succeeded", 8123L, "linux", "3.12.4"),
            ((string)row["source"]!, (string)row["command"]!, (string)row["status"]!, (long)row["duration_ms"]!, (string)row["os_name"]!, (string)row["runtime_version"]!));
        Assert.DoesNotContain("phc_xxx", (string)row["properties"]!);
    }

    [Fact]
    public async Task GetSchema_ServesPublishedFile()
    {
        var served = await _app.Client(null).GetStringAsync("/api/v1/schema/event.json");

        var file = await File.ReadAllTextAsync(Path.Combine(Infrastructure.AppFactory.RepoRoot, "docs", "schema", "event.schema.json"));
        Assert.Equal(file, served);
        var properties = JsonDocument.Parse(served).RootElement.GetProperty("properties").EnumerateObject().Select(p => p.Name).Order().ToList();
        var wire = typeof(UsageDashboard.Ingestion.NativeEvent).GetProperties().Select(p => JsonNamingPolicy.CamelCase.ConvertName(p.Name)).Order().ToList();
        Assert.Equal(wire, properties);
    }
}
