using System.Text.Json.Nodes;
using static UsageDashboard.Tests.Ingestion.Payloads;

namespace UsageDashboard.Tests.Ingestion;

public sealed class PrivacyTests : IClassFixture<PrivacyTests.Fixture>
{
    public sealed class Fixture : IngestionFixture;

    private const string Ip = "203.0.113.77";
    private const string Ip6 = "2001:db8::8a2e:370:7334";
    private const string ApiKey = "phc_SuperSecretProjectKey123";
    private const string Token = "tok_DoNotStoreMe_987";
    private const string UserAgent = "Mozilla/5.0 (X11; Linux x86_64) PrivacyProbe/1.0";
    private const string Message = "cannot read /home/alice/customers.csv";

    private readonly Fixture _app;

    public PrivacyTests(Fixture app) => _app = app;

    [Fact]
    public async Task Ingest_EventsCarryingIpKeyTokenAndMessage_NoTableHoldsThem()
    {
        await _app.ResetAsync();
        var native = CreateNativeEvent();
        native["ip"] = Ip;
        native["api_key"] = ApiKey;
        native["error"] = new JsonObject { ["type"] = "OSError", ["message"] = Message };
        native["properties"] = new JsonObject
        {
            ["source_ip"] = Ip, ["token"] = Token, ["github_token"] = Token, ["nested"] = new JsonObject { ["X-Forwarded-For"] = Ip, ["host"] = Ip6, ["user_agent"] = UserAgent },
            ["peers"] = new JsonArray(Ip, "kept"), ["remote"] = Ip6,
        };
        var rejected = CreateNativeEvent(status: "nope");
        rejected["source_ip"] = Ip;
        rejected["token"] = Token;
        rejected["properties"] = new JsonObject { ["addr"] = Ip, ["api_key"] = ApiKey };
        var client = _app.Client();
        client.DefaultRequestHeaders.Add("X-Forwarded-For", Ip);
        client.DefaultRequestHeaders.UserAgent.ParseAdd("PrivacyProbe/1.0");
        await client.PostAsync("/api/v1/events", Json(new JsonArray(native, rejected)));

        var jitsu = JsonNode.Parse(SeedExamples.Evidently04[0])!.AsObject();
        jitsu["source_ip"] = Ip;
        jitsu["user"] = new JsonObject { ["hashed_anonymous_id"] = "2c1f0e9d8c7b6a5f4e3d2c1b0a9f8e7d", ["ip"] = Ip };
        jitsu["extra"] = new JsonObject { ["token"] = Token, ["ip"] = Ip };
        var jitsuNoUser = jitsu.DeepClone().AsObject();
        jitsuNoUser.Remove("user_id");
        await client.PostAsync($"/api/v1/s2s/event?token={IngestionFixture.EvidentlyKey}", Json(new JsonArray(jitsu, jitsuNoUser)));

        var dbt = DbtEvent("invocation", "start", IngestionFixture.Now.AddMinutes(-1), Contexts(DbtInvocation("77777777-51b2-4f3e-8f6a-1e9d0b3c7a55", "start")));
        dbt["ip"] = Ip;
        dbt["ua"] = UserAgent;
        var unknownApp = dbt.DeepClone().AsObject();
        unknownApp["aid"] = "nobody";
        unknownApp["eid"] = Guid.NewGuid().ToString();
        await client.PostAsync("/com.snowplowanalytics.snowplow/tp2", Json(PayloadData(dbt, unknownApp)));

        Assert.True(await _app.CountAsync("SELECT count(*) FROM events") >= 3);
        Assert.True(await _app.CountAsync("SELECT count(*) FROM quarantine") >= 3);
        foreach (var secret in new[] { Ip, Ip6, "203.0.113", ApiKey, Token, UserAgent, "PrivacyProbe", Message, "customers.csv", SeedExamples.EvidentlyApiKey, "78.163.128.1", "2c1f0e9d8c7b6a5f4e3d2c1b0a9f8e7d" })
        {
            Assert.True(await CountEverywhereAsync(secret) == 0, secret);
        }
        // The scrubbing removes what is sensitive, not everything.
        Assert.True(await CountEverywhereAsync("kept") > 0);
    }

    /// <summary>Rows of any table of the store whose text contains <paramref name="needle"/>.</summary>
    private async Task<long> CountEverywhereAsync(string needle)
    {
        long total = 0;
        foreach (var table in new[] { "events", "runs", "run_plugins", "installations", "quarantine" })
        {
            total += await _app.CountAsync($"SELECT count(*) FROM {table} t WHERE t::text LIKE '%' || $1 || '%'", needle);
        }
        return total;
    }
}
