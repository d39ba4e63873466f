using System.Collections.Concurrent;
using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using System.Text.Json.Nodes;
using static UsageDashboard.LoadGen.BodyMutations;
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
