using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Text.Json.Nodes;
using Xunit.Abstractions;
using static UsageDashboard.LoadGen.BodyMutations;
using static UsageDashboard.Tests.Ingestion.FuzzTests;
using static UsageDashboard.Tests.Ingestion.Payloads;

namespace UsageDashboard.Tests.Ingestion;

/// <summary>
/// One client sends malformed and hostile bodies of every wire format as fast as it can while another
/// sends valid single events, on a cluster with PostgreSQL's default settings: the hostile traffic must
/// neither break the collector nor hold the valid events up.
/// </summary>
public sealed class HostileTrafficTests(HostileTrafficTests.Fixture app, ITestOutputHelper output) : IClassFixture<HostileTrafficTests.Fixture>
{
    public sealed class Fixture : IngestionFixture
    {
        protected override bool StockSettings => true;

        // The hostile client must reach the parsers and the write path, not the rate limiter.
        protected override IReadOnlyDictionary<string, string?> Settings => new Dictionary<string, string?>
        {
            ["Ingestion:RateLimit:RequestsPerSecond"] = "100000",
            ["Ingestion:RateLimit:Burst"] = "100000",
        };
    }

    private const int HostileBodies = 2400;
    private const string PostHog = """
        {"api_key": "phc_xxx", "batch": [{"event": "cli_command_completed", "distinct_id": "0197f0e1-2b3c-7d4e-8f90-a1b2c3d4e5f6",
         "uuid": "0198c7b0-11aa-7c3d-8e9f-001122334455", "timestamp": "2026-10-31T09:29:58.120Z",
         "properties": {"command": "sync", "duration_ms": 8123, "exit_code": 0, "os": "linux"}}]}
        """;

    [Fact]
    public async Task Hostile_ThousandsOfMalformedBodiesBesideValidSingleEvents_No5xxNoneOver1sValidStoredOnce()
    {
        var requests = CreateHostileRequests(new Random(20261207));
        var hostileClient = app.Client(null);
        var validClient = app.Client();
        // Warm up both paths first, so the timings measure the steady state rather than the first connections.
        foreach (var create in requests.Take(40).Select(r => r.Create))
        {
            using var request = create();
            (await hostileClient.SendAsync(request)).Dispose();
        }
        Assert.Equal(HttpStatusCode.OK, (await validClient.PostAsync("/api/v1/events", Json(CreateNativeEvent(installationId: "warm-up")))).StatusCode);

        var failures = new List<string>();
        var slowest = TimeSpan.Zero;
        var hostileDone = false;
        var hostileTime = Stopwatch.StartNew();
        var hostile = Task.Run(async () =>
        {
            foreach (var (endpoint, create) in requests)
            {
                using var request = create();
                var started = Stopwatch.GetTimestamp();
                using var response = await hostileClient.SendAsync(request);
                var took = Stopwatch.GetElapsedTime(started);
                lock (failures)
                {
                    slowest = took > slowest ? took : slowest;
                    if ((int)response.StatusCode >= 500 || took > TimeSpan.FromSeconds(1))
                    {
                        failures.Add($"{endpoint}: {(int)response.StatusCode} in {took.TotalMilliseconds:F0} ms");
                    }
                }
            }
            hostileTime.Stop();
            Volatile.Write(ref hostileDone, true);
        });
        // A random UUID is stored as sent (anything else is stored as a keyed hash, docs/privacy.md).
        var validInstallation = Guid.NewGuid().ToString();
        var validIds = new List<Guid>();
        var latencies = new List<double>();
        while (!Volatile.Read(ref hostileDone))
        {
            var e = CreateNativeEvent(installationId: validInstallation);
            var started = Stopwatch.GetTimestamp();
            using var response = await validClient.PostAsync("/api/v1/events", Json(e));
            var took = Stopwatch.GetElapsedTime(started);
            latencies.Add(took.TotalMilliseconds);
            if (response.StatusCode != HttpStatusCode.OK || took > TimeSpan.FromSeconds(1))
            {
                lock (failures)
                {
                    failures.Add($"valid: {(int)response.StatusCode} in {took.TotalMilliseconds:F0} ms");
                }
            }
            else
            {
                validIds.Add(Guid.Parse((string)e["eventId"]!));
            }
        }
        await hostile;

        latencies.Sort();
        double Percentile(double p) => latencies[Math.Min(latencies.Count - 1, (int)(p * latencies.Count))];
        output.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"{requests.Count} hostile bodies in {hostileTime.Elapsed.TotalSeconds:F1} s ({requests.Count / hostileTime.Elapsed.TotalSeconds:F0}/s), slowest {slowest.TotalMilliseconds:F0} ms; " +
            $"{latencies.Count} valid single events: p50 {Percentile(0.5):F1} ms, p99 {Percentile(0.99):F1} ms, max {latencies[^1]:F1} ms"));
        Assert.True(failures.Count == 0, string.Join('\n', failures.Take(10)));
        Assert.True(validIds.Count > 50, $"only {validIds.Count} valid events were sent meanwhile");
        Assert.Equal(validIds.Count, await app.CountAsync("SELECT count(*) FROM events WHERE event_id = ANY($1)", validIds.ToArray()));
        Assert.Equal(validIds.Count, await app.CountAsync("SELECT count(*) FROM events WHERE installation_id = $1", validInstallation));
    }

    /// <summary>Mutated bodies of every wire format, in turn: native (with Jetty, Evidently 0.1, PostHog), Jitsu, Snowplow POST and GET.</summary>
    private static List<(string Endpoint, Func<HttpRequestMessage> Create)> CreateHostileRequests(Random random)
    {
        string[] native = [CreateNativeEvent().ToJsonString(), new JsonArray(CreateNativeEvent(), CreateNativeEvent()).ToJsonString(), SeedExamples.Jetty,
            SeedExamples.JettyFirestore, SeedExamples.Evidently01, PostHog];
        string[] jitsu = [.. SeedExamples.Evidently04.Take(3), "[" + string.Join(',', SeedExamples.Evidently04.Skip(3)) + "]"];
        string[] snowplow =
        [
            PayloadData(DbtEvent("invocation", "start", IngestionFixture.Now, Contexts(DbtInvocation("f", "start"), DbtPlatform(), DbtEnv())),
                DbtEvent("run_model", "f", IngestionFixture.Now, Contexts(DbtRunModel("f")))).ToJsonString(),
            PayloadData(MeltanoEvent("iglu:com.meltano/cli_event/jsonschema/1-0-1", CliEvent("started"), IngestionFixture.Now, MeltanoContexts("p"))).ToJsonString(),
        ];
        var requests = new List<(string, Func<HttpRequestMessage>)>();
        while (requests.Count < HostileBodies)
        {
            var nativeBody = Mutate(random, Pick(random, native));
            var ndjson = random.Next(4) == 0;
            requests.Add(("native", () => Post("/api/v1/events", nativeBody, ndjson ? "application/x-ndjson" : "application/json", IngestionFixture.ToolKey)));
            var jitsuBody = Mutate(random, Pick(random, jitsu));
            requests.Add(("jitsu", () => Post($"/api/v1/s2s/event?token={IngestionFixture.EvidentlyKey}", jitsuBody, "application/json", null)));
            var snowplowBody = Mutate(random, Pick(random, snowplow));
            requests.Add(("snowplow", () => Post("/com.snowplowanalytics.snowplow/tp2", snowplowBody, "application/json; charset=utf-8", null)));
            var query = MutatedQuery(random);
            requests.Add(("pixel", () => new HttpRequestMessage(HttpMethod.Get, "/i?" + query)));
        }
        return requests;
    }
}
