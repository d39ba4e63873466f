using System.Net;
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

    // The corpus: personal data of every kind, in every place each wire format can carry it.
    private const string Email = "alice.liddell@example.org";
    private const string PostHogEmail = "bob.builder@example.net";
    private const string SnowplowEmail = "heidi.hacker@example.com";
    private const string CorpusIp = "198.51.100.23";
    private const string CorpusIp6 = "2001:db8:85a3::8a2e:370:7334";
    private const string HomePath = "/home/alice/projects/acme-analytics";
    private const string WindowsPath = @"C:\Users\alice\meltano.yml";
    private const string TildePath = "~/acme-secret-project";
    private const string IntranetUrl = "https://intranet.acme-corp.example/dashboards";
    private const string Latitude = "52.5200";
    private const string Longitude = "13.4050";

    // Raw ids that are not random UUIDs: none may be stored as sent.
    private static readonly string[] s_rawIds =
    [
        "alice-laptop-7f3", "native-user-alice", "posthog-raw-carol-42", "jetty-raw-dave-9", "evidently-raw-erin", "jitsu-anon-frank",
        "dbt-raw-grace-5", "duid-raw-ivan-77", "nuid-raw-judy-88", "meltano-raw-mallory", "acme-org-oscar",
    ];

    private static JsonObject PersonalBag() => new()
    {
        ["user_email"] = Email, ["contact"] = Email, ["page_url"] = IntranetUrl, ["link"] = IntranetUrl, ["referer"] = IntranetUrl,
        ["project_dir"] = HomePath, ["workdir"] = WindowsPath, ["where"] = TildePath, ["log"] = "cannot open " + HomePath + "/x.csv",
        ["client_ip"] = CorpusIp, ["peer"] = "peer " + CorpusIp6 + " refused", ["upstream"] = CorpusIp + ":8080",
        ["geo"] = new JsonObject { ["lat"] = 52.52, ["lon"] = 13.405, ["city"] = "Potsdam", ["country"] = "DE" },
        ["position"] = Latitude + "," + Longitude, ["$geoip_latitude"] = 52.52, ["$geoip_city_name"] = "Potsdam",
        ["nested"] = new JsonObject { ["deeper"] = new JsonArray(Email, CorpusIp, HomePath, "kept-value", new JsonObject { ["home"] = HomePath, ["email"] = Email }) },
        [Email] = 1, [HomePath] = "key is a path",
        ["user_id"] = "native-user-alice", ["distinct_id"] = "posthog-raw-carol-42",
        ["plugin"] = "tap-postgres", ["plugin_version"] = "1.2.3", ["path_count"] = 4,
    };

    [Fact]
    public async Task Ingest_PersonalCorpusThroughEveryEndpoint_NoTextOrJsonColumnHoldsIt()
    {
        await _app.ResetAsync();
        var client = _app.Client(null);
        var sent = new List<HttpResponseMessage>();
        async Task PostAsync(string url, JsonNode body, string? key)
        {
            var request = new HttpRequestMessage(HttpMethod.Post, url) { Content = Json(body) };
            if (key is not null)
            {
                request.Headers.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", key);
            }
            sent.Add(await client.SendAsync(request));
        }
        var at = IngestionFixture.Now.AddMinutes(-10);

        // Native: identifiers, canonical text fields and properties; a second event of the same run and a rejected one.
        JsonObject Native(string status, string eventId)
        {
            var e = CreateNativeEvent(eventId: eventId, installationId: "alice-laptop-7f3", status: status, runId: "run-" + Email, timestamp: at,
                command: "run --profiles-dir " + HomePath);
            e["userId"] = "native-user-alice";
            e["environment"] = Email;
            e["os"] = new JsonObject { ["name"] = "Linux", ["version"] = HomePath };
            e["plugins"] = new JsonArray(new JsonObject { ["name"] = "tap-postgres", ["version"] = "1.2.3" }, new JsonObject { ["name"] = WindowsPath, ["version"] = IntranetUrl });
            e["properties"] = PersonalBag();
            e["error"] = new JsonObject { ["type"] = Email };
            return e;
        }
        var rejected = Native("not-a-status", Guid.NewGuid().ToString());
        await PostAsync("/api/v1/events", new JsonArray(Native("started", Guid.NewGuid().ToString()), Native("succeeded", Guid.NewGuid().ToString()), rejected), IngestionFixture.ToolKey);

        // PostHog capture, single and batch, with its usual person and geoip properties.
        JsonObject PostHog(string distinctId) => new()
        {
            ["event"] = "cli_command_completed", ["distinct_id"] = distinctId, ["uuid"] = Guid.NewGuid().ToString(),
            ["timestamp"] = at.ToString("O", System.Globalization.CultureInfo.InvariantCulture),
            ["properties"] = new JsonObject
            {
                ["command"] = "sync", ["$current_url"] = IntranetUrl, ["$ip"] = CorpusIp, ["email"] = PostHogEmail, ["$device_id"] = "posthog-raw-carol-42",
                ["$set"] = new JsonObject { ["email"] = PostHogEmail, ["name"] = "Bob" }, ["$geoip_latitude"] = 52.52, ["$geoip_country_code"] = "DE",
                ["extra"] = PersonalBag(),
            },
        };
        await PostAsync("/api/v1/events", PostHog(PostHogEmail), IngestionFixture.ToolKey);
        await PostAsync("/api/v1/events", new JsonObject { ["api_key"] = "phc_x", ["batch"] = new JsonArray(PostHog(PostHogEmail), PostHog("posthog-raw-carol-42")) }, IngestionFixture.ToolKey);

        // Jetty, plain and as a Firestore document (with a geo point).
        var jetty = JsonNode.Parse(SeedExamples.Jetty)!.AsObject();
        jetty["user_id"] = "jetty-raw-dave-9";
        jetty["event"]!["properties"]!["config_path"] = HomePath;
        jetty["event"]!["properties"]!["details"] = PersonalBag();
        await PostAsync("/api/v1/events", jetty, IngestionFixture.JettyKey);
        var firestore = JsonNode.Parse(SeedExamples.JettyFirestore)!.AsObject();
        firestore["fields"]!["user_id"] = new JsonObject { ["stringValue"] = "jetty-raw-dave-9" };
        firestore["fields"]!["where"] = new JsonObject { ["geoPointValue"] = new JsonObject { ["latitude"] = 52.52, ["longitude"] = 13.405 } };
        firestore["fields"]!["owner"] = new JsonObject { ["stringValue"] = Email };
        await PostAsync("/api/v1/events", firestore, IngestionFixture.JettyKey);

        // Evidently 0.1 (no identifier) with personal data in its usage block.
        var evidently01 = JsonNode.Parse(SeedExamples.Evidently01)!.AsObject();
        evidently01["usage"]!["reference_path"] = HomePath;
        evidently01["usage"]!["extra"] = PersonalBag();
        await PostAsync("/api/v1/events", evidently01, IngestionFixture.EvidentlyKey);

        // Jitsu s2s (Evidently 0.4): user_id, anonymous_id, group_id, source_ip, extra.
        var jitsu = JsonNode.Parse(SeedExamples.Evidently04[0])!.AsObject();
        jitsu["user_id"] = "evidently-raw-erin";
        jitsu["group_id"] = "acme-org-oscar";
        jitsu["source_ip"] = CorpusIp;
        jitsu["extra"] = PersonalBag();
        jitsu["eventn_ctx"] = new JsonObject { ["user_agent"] = "Mozilla", ["url"] = IntranetUrl, ["user"] = new JsonObject { ["email"] = Email } };
        var anonymous = jitsu.DeepClone().AsObject();
        anonymous.Remove("user_id");
        anonymous["anonymous_id"] = "jitsu-anon-frank";
        anonymous["eventn_ctx_event_id"] = Guid.NewGuid().ToString();
        await PostAsync($"/api/v1/s2s/event?token={IngestionFixture.EvidentlyKey}", new JsonArray(jitsu, anonymous), null);
        await PostAsync($"/api/v1/s2s/events?token={IngestionFixture.EvidentlyKey}", jitsu.DeepClone(), null);

        // Snowplow POST: dbt with a non-UUID uid and a custom context, Meltano with paths in its CLI options,
        // a generic tracker event with uid/duid/nuid and page fields, and one with an unknown app id (quarantined).
        var dbtContexts = Contexts(DbtInvocation("5d5b0e51-51b2-4f3e-8f6a-1e9d0b3c7a55", "start"), DbtPlatform(),
            Context("iglu:com.acme/custom/jsonschema/1-0-0", PersonalBag()));
        var dbt = DbtEvent("invocation", "start", at, dbtContexts, uid: "dbt-raw-grace-5");
        dbt["url"] = IntranetUrl;
        dbt["ip"] = CorpusIp;
        var meltanoContexts = MeltanoContexts("0198c7a2-5d31-7c4e-9a0b-3f2e1d0c9b8a");
        var meltanoNode = JsonNode.Parse(meltanoContexts)!;
        foreach (var item in meltanoNode["data"]!.AsArray())
        {
            if (item!["schema"]!.GetValue<string>().Contains("project_context", StringComparison.Ordinal))
            {
                item["data"]!["client_uuid"] = "meltano-raw-mallory";
            }
            if (item["schema"]!.GetValue<string>().Contains("cli_context", StringComparison.Ordinal))
            {
                item["data"]!["options"] = new JsonObject { ["config"] = WindowsPath, ["state_dir"] = TildePath, ["note"] = Email };
            }
        }
        var meltano = MeltanoEvent("iglu:com.meltano/cli_event/jsonschema/1-0-1", CliEvent("started"), at, meltanoNode.ToJsonString());
        var generic = new JsonObject
        {
            ["e"] = "pv", ["eid"] = Guid.NewGuid().ToString(), ["aid"] = "dbt", ["p"] = "web", ["tv"] = "js-3.0.0",
            ["dtm"] = Ms(at).ToString(System.Globalization.CultureInfo.InvariantCulture),
            ["uid"] = SnowplowEmail, ["duid"] = "duid-raw-ivan-77", ["nuid"] = "nuid-raw-judy-88", ["url"] = IntranetUrl, ["refr"] = IntranetUrl,
            ["page"] = "Acme " + Email, ["ip"] = CorpusIp6, ["tz"] = "Europe/Berlin", ["res"] = "1920x1080",
            ["co"] = Contexts(Context("iglu:com.acme/geo/jsonschema/1-0-0", new JsonObject { ["latitude"] = 52.52, ["longitude"] = 13.405, ["city"] = "Potsdam" })),
        };
        var genericDuidOnly = generic.DeepClone().AsObject();
        genericDuidOnly.Remove("uid");
        genericDuidOnly["eid"] = Guid.NewGuid().ToString();
        var unknownApp = generic.DeepClone().AsObject();
        unknownApp["aid"] = "nobody";
        unknownApp["eid"] = Guid.NewGuid().ToString();
        await PostAsync("/com.snowplowanalytics.snowplow/tp2", PayloadData(dbt, meltano, generic, genericDuidOnly, unknownApp), null);

        // Snowplow GET: one event in the query string.
        var query = string.Join('&', new Dictionary<string, string>
        {
            ["e"] = "se", ["eid"] = Guid.NewGuid().ToString(), ["aid"] = "dbt", ["se_ca"] = "web", ["se_ac"] = "click", ["se_la"] = Email,
            ["se_pr"] = HomePath, ["uid"] = SnowplowEmail, ["duid"] = "duid-raw-ivan-77", ["url"] = IntranetUrl, ["ip"] = CorpusIp,
            ["dtm"] = Ms(at).ToString(System.Globalization.CultureInfo.InvariantCulture),
        }.Select(kv => kv.Key + "=" + Uri.EscapeDataString(kv.Value)));
        sent.Add(await client.GetAsync("/i?" + query));

        Assert.All(sent, r => Assert.True(r.StatusCode is HttpStatusCode.OK or HttpStatusCode.UnprocessableEntity, r.StatusCode.ToString()));
        Assert.True(await _app.CountAsync("SELECT count(*) FROM events") >= 14);
        Assert.True(await _app.CountAsync("SELECT count(*) FROM quarantine") >= 2);
        var needles = new[] { Email, "alice.liddell", PostHogEmail, SnowplowEmail, "example.org", "example.net", CorpusIp, CorpusIp6, "2001:db8", "/home/alice",
            @"C:\Users", @"C:\\Users", "~/acme", "intranet.acme-corp", "acme-corp.example", Latitude, Longitude, "52.52", "13.405", "Potsdam" }
            .Concat(s_rawIds);
        var leaks = new List<string>();
        foreach (var needle in needles)
        {
            leaks.AddRange(await FindEverywhereAsync(needle));
        }
        Assert.Empty(leaks);

        // Hashing keeps identity: each raw id is one installation, and both events of the native run are one run.
        Assert.Equal(3, await _app.CountAsync("SELECT count(*) FROM installations WHERE tool = 'mytool'"));
        Assert.Equal(1, await _app.CountAsync("SELECT count(*) FROM installations WHERE tool = 'jetty'"));
        Assert.Equal(1, await _app.CountAsync("SELECT count(*) FROM runs WHERE tool = 'mytool' AND event_count = 2"));
        Assert.Equal(1, await _app.CountAsync("SELECT count(DISTINCT user_id) FROM events WHERE source = 'native'"));
        // What is not personal survives.
        foreach (var kept in new[] { "kept-value", "tap-postgres", "1.2.3", "Europe/Berlin", "path_count" })
        {
            Assert.NotEmpty(await FindEverywhereAsync(kept));
        }
    }

    /// <summary>"table.column" for every text, json or array column of the public schema holding <paramref name="needle"/>.</summary>
    private async Task<List<string>> FindEverywhereAsync(string needle)
    {
        var columns = await _app.RowsAsync("""
            SELECT c.table_name, c.column_name FROM information_schema.columns c
            JOIN information_schema.tables t ON t.table_schema = c.table_schema AND t.table_name = c.table_name AND t.table_type = 'BASE TABLE'
            WHERE c.table_schema = 'public' AND c.data_type IN ('text', 'character varying', 'character', 'json', 'jsonb', 'ARRAY', 'USER-DEFINED')
            ORDER BY 1, 2
            """);
        Assert.Contains(columns, c => (string)c["table_name"]! == "quarantine");
        var found = new List<string>();
        foreach (var column in columns)
        {
            var (table, name) = ((string)column["table_name"]!, (string)column["column_name"]!);
            if (await _app.CountAsync($"SELECT count(*) FROM \"{table}\" WHERE \"{name}\"::text LIKE '%' || $1 || '%'", needle) > 0)
            {
                found.Add($"{table}.{name}: {needle}");
            }
        }
        return found;
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
