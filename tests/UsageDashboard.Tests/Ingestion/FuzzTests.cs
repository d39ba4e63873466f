using System.Collections.Concurrent;
using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json.Nodes;
using static UsageDashboard.Tests.Ingestion.Payloads;

namespace UsageDashboard.Tests.Ingestion;

public sealed class FuzzTests : IClassFixture<FuzzTests.Fixture>
{
    public sealed class Fixture : IngestionFixture
    {
        // The fuzzer must reach the parsers, not the rate limiter.
        protected override IReadOnlyDictionary<string, string?> Settings => new Dictionary<string, string?>
        {
            ["Ingestion:RateLimit:RequestsPerSecond"] = "100000",
            ["Ingestion:RateLimit:Burst"] = "100000",
        };
    }

    private const int BodiesPerEndpoint = 1300;

    private static readonly string[] s_hostile =
    [
        "'; DROP TABLE events; --", "<script>alert(1)</script>", "\u0000", "\u202Eevil\u202C", "💥🧨👩‍💻", "\uFFFF", "%00%ff",
        "${jndi:ldap://x}", "../../../../etc/passwd", "\r\n\r\nHTTP/1.1 200 OK", "NaN", "-0", "1e999999", "\\ud800", "Ω≈ç√∫",
    ];

    private readonly Fixture _app;

    public FuzzTests(Fixture app) => _app = app;

    [Fact]
    public async Task Fuzz_FiveThousandMutatedBodiesToEveryEndpoint_No5xxAndStillHealthy()
    {
        var random = new Random(20261101);
        var seeds = new Dictionary<string, string[]>
        {
            ["native"] = [CreateNativeEvent().ToJsonString(), new JsonArray(CreateNativeEvent(), CreateNativeEvent()).ToJsonString(), SeedExamples.Jetty, SeedExamples.JettyFirestore, SeedExamples.Evidently01],
            ["jitsu"] = [.. SeedExamples.Evidently04.Take(3), "[" + string.Join(',', SeedExamples.Evidently04.Skip(3)) + "]"],
            ["snowplow"] =
            [
                PayloadData(DbtEvent("invocation", "start", IngestionFixture.Now, Contexts(DbtInvocation("f", "start"), DbtPlatform(), DbtEnv())),
                    DbtEvent("run_model", "f", IngestionFixture.Now, Contexts(DbtRunModel("f")))).ToJsonString(),
                PayloadData(MeltanoEvent("iglu:com.meltano/cli_event/jsonschema/1-0-1", CliEvent("started"), IngestionFixture.Now, MeltanoContexts("p"))).ToJsonString(),
            ],
        };
        var requests = new List<(string Endpoint, Func<HttpRequestMessage> Create)>();
        for (var i = 0; i < BodiesPerEndpoint; i++)
        {
            var native = Mutate(random, Pick(random, seeds["native"]));
            var ndjson = random.Next(4) == 0;
            requests.Add(("native", () => Post("/api/v1/events", native, ndjson ? "application/x-ndjson" : "application/json", IngestionFixture.ToolKey)));
            var jitsu = Mutate(random, Pick(random, seeds["jitsu"]));
            requests.Add(("jitsu", () => Post($"/api/v1/s2s/event?token={IngestionFixture.EvidentlyKey}", jitsu, "application/json", null)));
            var snowplow = Mutate(random, Pick(random, seeds["snowplow"]));
            requests.Add(("snowplow", () => Post("/com.snowplowanalytics.snowplow/tp2", snowplow, "application/json; charset=utf-8", null)));
            var query = MutatedQuery(random);
            requests.Add(("pixel", () => new HttpRequestMessage(HttpMethod.Get, "/i?" + query)));
        }

        var failures = new ConcurrentBag<string>();
        var statuses = new ConcurrentDictionary<(string, int), int>();
        var client = _app.Client(null);
        await Parallel.ForEachAsync(requests, new ParallelOptions { MaxDegreeOfParallelism = 4 }, async (r, ct) =>
        {
            using var request = r.Create();
            using var response = await client.SendAsync(request, ct);
            statuses.AddOrUpdate((r.Endpoint, (int)response.StatusCode), 1, (_, n) => n + 1);
            if ((int)response.StatusCode >= 500)
            {
                failures.Add($"{r.Endpoint} {(int)response.StatusCode}: {await response.Content.ReadAsStringAsync(ct)}");
            }
        });

        Assert.True(requests.Count >= 5000);
        Assert.True(failures.IsEmpty, string.Join('\n', failures.Take(10)));
        Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("/healthz")).StatusCode);
        var after = await _app.Client().PostAsync("/api/v1/events", Json(CreateNativeEvent()));
        Assert.Equal(1, (await after.ReadJsonAsync()).GetProperty("accepted").GetInt32());
        // The mutations must exercise both sides: plenty rejected, and some still accepted.
        Assert.Contains(statuses, s => s.Key.Item2 == 400);
        Assert.True(await _app.CountAsync("SELECT count(*) FROM events") > 10);
        Assert.True(await _app.CountAsync("SELECT count(*) FROM quarantine") > 10);
    }

    internal static HttpRequestMessage Post(string url, byte[] body, string contentType, string? key)
    {
        var request = new HttpRequestMessage(HttpMethod.Post, url) { Content = new ByteArrayContent(body) };
        request.Content.Headers.ContentType = MediaTypeHeaderValue.Parse(contentType);
        if (key is not null)
        {
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", key);
        }
        return request;
    }

    internal static T Pick<T>(Random random, T[] items) => items[random.Next(items.Length)];

    /// <summary>One of: truncation, byte flips, invalid UTF-8, a value replaced by something hostile, deep nesting, huge strings, bad base64.</summary>
    internal static byte[] Mutate(Random random, string seed)
    {
        var bytes = Encoding.UTF8.GetBytes(seed);
        switch (random.Next(10))
        {
            case 0:
                return bytes[..random.Next(bytes.Length)];
            case 1:
                for (var i = 0; i < 1 + random.Next(8); i++)
                {
                    bytes[random.Next(bytes.Length)] = (byte)random.Next(256);
                }
                return bytes;
            case 2:
                var at = random.Next(bytes.Length);
                byte[][] invalid = [[0xC3, 0x28], [0xFF], [0xED, 0xA0, 0x80], [0xF4, 0x90, 0x80, 0x80], [0xC0, 0xAF]];
                return [.. bytes[..at], .. Pick(random, invalid), .. bytes[at..]];
            case 3:
                var nest = random.Next(30, 5000);
                return Encoding.UTF8.GetBytes(seed.Insert(seed.IndexOf(':', StringComparison.Ordinal) + 1, new string('[', nest) + "1" + new string(']', nest)));
            default:
                return Encoding.UTF8.GetBytes(ReplaceValues(random, seed));
        }
    }

    private static string ReplaceValues(Random random, string seed)
    {
        JsonNode? root;
        try
        {
            root = JsonNode.Parse(seed);
        }
        catch (System.Text.Json.JsonException)
        {
            return seed;
        }
        var nodes = new List<JsonNode>();
        void Walk(JsonNode? n, int depth)
        {
            if (n is null || depth > 12)
            {
                return;
            }
            nodes.Add(n);
            if (n is JsonObject o)
            {
                foreach (var kv in o.ToList())
                {
                    Walk(kv.Value, depth + 1);
                }
            }
            else if (n is JsonArray a)
            {
                foreach (var item in a.ToList())
                {
                    Walk(item, depth + 1);
                }
            }
        }
        Walk(root, 0);
        for (var i = 0; i < 1 + random.Next(4); i++)
        {
            var target = nodes[random.Next(nodes.Count)];
            if (target.Parent is JsonObject parent)
            {
                var key = parent.First(kv => ReferenceEquals(kv.Value, target)).Key;
                parent[key] = HostileValue(random);
            }
            else if (target.Parent is JsonArray array)
            {
                array[array.IndexOf(target)] = HostileValue(random);
            }
            else if (target is JsonObject obj)
            {
                obj[Pick(random, s_hostile)] = HostileValue(random);
            }
        }
        var text = root?.ToJsonString() ?? "null";
        // JsonNode escapes what it writes; put some raw hostile escapes back in.
        return random.Next(3) == 0 ? text.Replace("\"linux\"", "\"\\ud800\\u0000\"", StringComparison.Ordinal).Replace("\"mac\"", "\"\\udfff\"", StringComparison.Ordinal) : text;
    }

    private static JsonNode? HostileValue(Random random) => random.Next(12) switch
    {
        0 => null,
        1 => JsonValue.Create(random.NextDouble() * 1e300),
        2 => JsonValue.Create(long.MinValue),
        3 => JsonValue.Create(new string('x', random.Next(1, 80_000))),
        4 => JsonValue.Create(Pick(random, s_hostile)),
        5 => new JsonArray(JsonValue.Create(1), JsonValue.Create("a"), null),
        6 => new JsonObject { ["type"] = Pick(random, s_hostile), ["message"] = "hello from /home/x" },
        7 => JsonValue.Create(true),
        8 => JsonValue.Create("!!!!not-base64###"),
        9 => JsonValue.Create(Convert.ToBase64String(Encoding.UTF8.GetBytes("{\"schema\":\"iglu:a/b/c/1-0-0\",\"data\":[" + new string('[', 100)))),
        10 => JsonValue.Create("9999-12-31T23:59:59Z"),
        _ => JsonValue.Create(random.Next().ToString(CultureInfo.InvariantCulture)),
    };

    internal static string MutatedQuery(Random random)
    {
        var e = DbtEvent("invocation", "start", IngestionFixture.Now, Contexts(DbtInvocation("q", "start"), DbtPlatform()), padding: random.Next(2) == 0);
        var parts = new List<string>();
        foreach (var (key, value) in e)
        {
            var v = value!.GetValue<string>();
            switch (random.Next(6))
            {
                case 0:
                    // Arbitrary bytes, percent-encoded: invalid UTF-8 included.
                    var bytes = new byte[random.Next(1, 40)];
                    random.NextBytes(bytes);
                    parts.Add(key + "=" + string.Concat(bytes.Select(b => "%" + b.ToString("X2", CultureInfo.InvariantCulture))));
                    break;
                case 1:
                    parts.Add(key + "=" + Uri.EscapeDataString(v[..random.Next(v.Length + 1)]));
                    break;
                default:
                    parts.Add(key + "=" + Uri.EscapeDataString(v));
                    break;
            }
        }
        return string.Join('&', parts);
    }
}
