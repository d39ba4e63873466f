using System.Globalization;
using System.Net;
using System.Text;
using System.Text.Json.Nodes;
using static UsageDashboard.Tests.Ingestion.Payloads;

namespace UsageDashboard.Tests.Ingestion;

/// <summary>Work per request bounded before it is done, and text PostgreSQL refuses stopped at the door.</summary>
public sealed class RequestBoundsTests : IClassFixture<RequestBoundsTests.Fixture>, IAsyncLifetime
{
    public sealed class Fixture : IngestionFixture;

    private readonly Fixture _app;

    public RequestBoundsTests(Fixture app) => _app = app;

    public Task InitializeAsync() => _app.ResetAsync();

    public Task DisposeAsync() => Task.CompletedTask;

    private HttpClient Jitsu() => _app.Client(IngestionFixture.EvidentlyKey);

    private const string JitsuPath = "/api/v1/s2s/event";

    /// <summary>A template of about <paramref name="bytes"/> bytes, as 1 KB fields (each under the string and property limits).</summary>
    private static string Template(int bytes)
    {
        var sb = new StringBuilder("{\"user_id\":\"4f3c2b1a-9d8e-4c7b-a6f5-0e1d2c3b4a59\"");
        for (var i = 0; i < bytes / 1024; i++)
        {
            sb.Append(CultureInfo.InvariantCulture, $",\"f{i}\":\"").Append('x', 1000).Append('"');
        }
        return sb.Append('}').ToString();
    }

    private static string EmptyEvents(int count) => "[" + string.Join(',', Enumerable.Repeat("{}", count)) + "]";

    [Fact]
    public async Task PostS2s_HalfMebibyteTemplateUnder900Events_413TemplateTooLargeBeforeExpansion()
    {
        var body = $$"""{"template":{{Template(512 * 1024)}},"events":{{EmptyEvents(900)}}}""";

        var response = await Jitsu().PostAsync(JitsuPath, Json(body));

        Assert.Equal(HttpStatusCode.RequestEntityTooLarge, response.StatusCode);
        Assert.Equal("template_too_large", (await response.ReadJsonAsync()).GetProperty("error").GetString());
        Assert.Equal(0, await _app.CountAsync("SELECT count(*) FROM events"));
    }

    [Fact]
    public void Parse_HalfMebibyteTemplateUnder900Events_RefusedAllocatingAboutTheBody()
    {
        var body = Encoding.UTF8.GetBytes($$"""{"template":{{Template(512 * 1024)}},"events":{{EmptyEvents(900)}}}""");
        var limits = new UsageDashboard.Ingestion.IngestionOptions();
        // Parse is synchronous: everything it allocates is on this thread, whatever other tests run meanwhile.
        var before = GC.GetAllocatedBytesForCurrentThread();

        using var parsed = UsageDashboard.Ingestion.RequestBody.Parse(body, ndjson: false, limits.MaxEventsPerRequest,
            root => UsageDashboard.Ingestion.WireFormats.UnwrapJitsu(root, limits), limits);

        var allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        Assert.Equal("template_too_large", parsed.Error?.Error);
        Assert.Empty(parsed.Items);
        // Expanded, the body would be 900 copies of the template: over 450 MB.
        Assert.True(allocated < 4 * body.Length, $"{allocated} bytes allocated for a body of {body.Length}");
    }

    [Fact]
    public async Task PostS2s_TemplateUnder170000EmptyEvents_413TooManyEventsBeforeExpansion()
    {
        var body = $$"""{"template":{{Template(400 * 1024)}},"events":{{EmptyEvents(170_000)}}}""";

        var response = await Jitsu().PostAsync(JitsuPath, Json(body)).WaitAsync(TimeSpan.FromSeconds(30));

        Assert.Equal(HttpStatusCode.RequestEntityTooLarge, response.StatusCode);
        Assert.Equal("too_many_events", (await response.ReadJsonAsync()).GetProperty("error").GetString());
    }

    [Fact]
    public async Task PostS2s_SmallTemplateUnderEvents_EachStoredWithTemplateFields()
    {
        var body = $$"""{"template":{"user_id":"4f3c2b1a-9d8e-4c7b-a6f5-0e1d2c3b4a59","os_name":"linux"},"events":[{"action":"a"},{"action":"b","os_name":"windows"}]}""";

        var response = await Jitsu().PostAsync(JitsuPath, Json(body));

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal(1, await _app.CountAsync("SELECT count(*) FROM events WHERE command = 'a' AND os_name = 'linux'"));
        Assert.Equal(1, await _app.CountAsync("SELECT count(*) FROM events WHERE command = 'b' AND os_name = 'windows'"));
    }

    [Fact]
    public async Task PostEvents_NestedDeeperThan64_400MalformedJson()
    {
        var e = CreateNativeEvent();
        var json = e.ToJsonString().TrimEnd('}') + ",\"properties\":{\"deep\":" + new string('[', 100) + new string(']', 100) + "}}";

        var response = await _app.Client().PostAsync("/api/v1/events", Json(json));

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Equal("malformed_json", (await response.ReadJsonAsync()).GetProperty("error").GetString());
    }

    [Fact]
    public async Task PostEvents_ObjectWithTooManyProperties_400TooManyProperties()
    {
        var e = CreateNativeEvent();
        var properties = new JsonObject();
        for (var i = 0; i < 1001; i++)
        {
            properties["p" + i.ToString(CultureInfo.InvariantCulture)] = i;
        }
        e["properties"] = properties;

        var response = await _app.Client().PostAsync("/api/v1/events", Json(e));

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Equal("too_many_properties", (await response.ReadJsonAsync()).GetProperty("error").GetString());
        Assert.Equal(0, await _app.CountAsync("SELECT count(*) FROM events"));
    }

    [Fact]
    public async Task PostEvents_StringOver256KiB_400StringTooLong()
    {
        var e = CreateNativeEvent();
        e["properties"] = new JsonObject { ["blob"] = new string('x', 300 * 1024) };

        var response = await _app.Client().PostAsync("/api/v1/events", Json(e));

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Equal("string_too_long", (await response.ReadJsonAsync()).GetProperty("error").GetString());
    }

    [Fact]
    public async Task PostEvents_NulInInstallationId_400InvalidTextNothingStored()
    {
        var e = CreateNativeEvent(installationId: "inst\u0000-1");

        var response = await _app.Client().PostAsync("/api/v1/events", Json(e));

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        var error = await response.ReadJsonAsync();
        Assert.Equal("invalid_text", error.GetProperty("error").GetString());
        Assert.Contains("NUL", error.GetProperty("message").GetString());
        Assert.Equal(0, await _app.CountAsync("SELECT count(*) FROM events"));
        // Refused whole, still counted: under the write key's tool.
        Assert.Equal(1, await _app.CountAsync("SELECT count FROM quarantine_counts WHERE tool = 'mytool' AND reason = 'invalid_text'"));
    }

    [Fact]
    public async Task PostEvents_NdjsonLoneSurrogateOnLineTwo_400InvalidTextWithLine()
    {
        var body = CreateNativeEvent().ToJsonString() + "\n" + CreateNativeEvent().ToJsonString().Replace("\"sync\"", "\"sy\\ud800nc\"", StringComparison.Ordinal) + "\n";

        var response = await _app.Client().PostAsync("/api/v1/events", Json(body, "application/x-ndjson"));

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        var error = await response.ReadJsonAsync();
        Assert.Equal("invalid_text", error.GetProperty("error").GetString());
        Assert.Equal(2, error.GetProperty("line").GetInt32());
    }

    [Fact]
    public async Task PostS2s_NulInEvent_400InvalidText()
    {
        var body = """{"action":"startup","user_id":"4f3c2b1a\u0000","tool_version":"0.7.14"}""";

        var response = await Jitsu().PostAsync(JitsuPath, Json(body));

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Equal("invalid_text", (await response.ReadJsonAsync()).GetProperty("error").GetString());
    }

    [Fact]
    public async Task PostS2s_LoneSurrogateInTemplate_400InvalidText()
    {
        var body = """{"template":{"user_id":"4f3c2b1a-9d8e-4c7b-a6f5-0e1d2c3b4a59","\ud800":"x","os_name":"li\udc00nux"},"events":[{"action":"startup"}]}""";

        var response = await Jitsu().PostAsync(JitsuPath, Json(body));

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        var error = await response.ReadJsonAsync();
        Assert.Equal("invalid_text", error.GetProperty("error").GetString());
        Assert.Contains("surrogate", error.GetProperty("message").GetString());
        Assert.Equal(0, await _app.CountAsync("SELECT count(*) FROM events"));
    }

    [Fact]
    public async Task PostSnowplow_NulInUid_400InvalidText()
    {
        var at = IngestionFixture.Now.AddMinutes(-1);
        var body = PayloadData(DbtEvent("invocation", "start", at, Contexts(DbtInvocation(Guid.NewGuid().ToString(), "start")), uid: "user\u0000"));

        var response = await _app.Client(null).PostAsync("/com.snowplowanalytics.snowplow/tp2", Json(body));

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Equal("invalid_text", (await response.ReadJsonAsync()).GetProperty("error").GetString());
    }

    [Fact]
    public async Task GetSnowplowPixel_NulInQueryParameter_400InvalidText()
    {
        var response = await _app.Client(null).GetAsync($"/i?e=se&aid=dbt&se_ca=dbt&se_ac=invocation&uid=a%00b&eid={Guid.NewGuid()}");

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Equal("invalid_text", (await response.ReadJsonAsync()).GetProperty("error").GetString());
        Assert.Equal(0, await _app.CountAsync("SELECT count(*) FROM events"));
        Assert.Equal(1, await _app.CountAsync("SELECT count FROM quarantine_counts WHERE tool = '' AND reason = 'invalid_text'"));
    }

    [Fact]
    public async Task PostSnowplow_NulInsideBase64Contexts_EventRejectedInvalidTextOthersStored()
    {
        var at = IngestionFixture.Now.AddMinutes(-1);
        var invocation = Guid.NewGuid().ToString();
        var bad = DbtEvent("invocation", "start", at, Contexts(DbtInvocation(invocation, "start", command: "ru\u0000n")));
        var good = DbtEvent("invocation", "start", at, Contexts(DbtInvocation(Guid.NewGuid().ToString(), "start"), DbtPlatform()));

        var response = await _app.Client(null).PostAsync("/com.snowplowanalytics.snowplow/tp2", Json(PayloadData(bad, good)));

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal(1, await _app.CountAsync("SELECT count(*) FROM events"));
        Assert.Equal(1, await _app.CountAsync("SELECT count FROM quarantine_counts WHERE reason = 'invalid_text' AND tool = 'dbt'"));
    }
}
