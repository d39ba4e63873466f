using System.Net;
using System.Text.Json.Nodes;
using Microsoft.Extensions.DependencyInjection;
using UsageDashboard.Ingestion;
using UsageDashboard.Store;
using static UsageDashboard.Tests.Ingestion.Payloads;

namespace UsageDashboard.Tests.Ingestion;

/// <summary>
/// The collector on a cluster with PostgreSQL's default settings (<see cref="Infrastructure.TestCluster.Stock"/>),
/// as users run it: jit on, 128MB shared_buffers. The rest of the suite runs on the tuned local cluster.
/// </summary>
public sealed class StockSettingsTests(StockSettingsTests.Fixture app) : IClassFixture<StockSettingsTests.Fixture>
{
    public sealed class Fixture : IngestionFixture
    {
        protected override bool StockSettings => true;
    }

    [Fact]
    public async Task Cluster_StockSettings_JitOnAsUsersHaveIt()
    {
        var rows = await app.RowsAsync("SELECT current_setting('jit') AS jit, current_setting('shared_buffers') AS buffers");

        Assert.Equal("on", rows[0]["jit"]);
        Assert.Equal("128MB", rows[0]["buffers"]);
    }

    /// <summary>
    /// A statement whose estimated cost passes jit_above_cost is compiled at every execution (seconds),
    /// and the small write's <c>enable_seqscan = off</c> gives its statements such costs. Deterministic:
    /// the plan of the derivation, made in the write's transaction after the write, must not ask for JIT.
    /// </summary>
    [Theory]
    [InlineData(1)]
    [InlineData(EventWriter.PreparedWriteMaxEvents + 1)]
    public async Task Write_StockSettings_NoStatementJitCompiled(int events)
    {
        var writer = app.App.Services.GetRequiredService<EventWriter>();
        await using var conn = await app.DataSource.OpenConnectionAsync();
        await using var tx = await conn.BeginTransactionAsync();

        var result = await writer.WriteAsync(conn, [.. Enumerable.Range(0, events).Select(i => Infrastructure.TestEvents.CreateEvent(installationId: "jit-" + i))], default);
        await using var explain = new Npgsql.NpgsqlCommand("EXPLAIN (FORMAT JSON) " + RunDerivationSql.DeriveAffected, conn);
        explain.Parameters.AddWithValue("now", DateTime.UtcNow);
        explain.Parameters.AddWithValue("abort_before", DateTime.UtcNow.AddDays(-1));
        var plan = (string)(await explain.ExecuteScalarAsync())!;
        await using var jit = new Npgsql.NpgsqlCommand("SELECT current_setting('jit')", conn);
        var setting = (string)(await jit.ExecuteScalarAsync())!;
        await tx.RollbackAsync();

        Assert.Equal(events, result.Accepted);
        Assert.DoesNotContain("\"JIT\"", plan, StringComparison.Ordinal);
        Assert.Equal("off", setting);
    }

    /// <summary>The start-up warm-up runs the whole write path; with JIT compiling its statements, 120 rounds took 643 s.</summary>
    [Fact]
    public async Task Start_StockSettingsWarmUp_ReadySoon()
    {
        await using var started = new Infrastructure.AppFactory(app.ConnectionString, settings: new Dictionary<string, string?> { ["Ingestion:WarmUpRounds"] = "20" });
        var client = started.CreateClient();
        var clock = System.Diagnostics.Stopwatch.StartNew();
        while ((await client.GetAsync("/readyz")).StatusCode != HttpStatusCode.OK && clock.Elapsed < TimeSpan.FromSeconds(60))
        {
            await Task.Delay(100);
        }

        Assert.Equal(2 * 20, started.Services.GetRequiredService<IngestionWarmUp>().RoundsDone);
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(30), $"ready after {clock.Elapsed.TotalSeconds:F1} s");
    }

    public static TheoryData<string> WireFormats() => ["native", "native-batch", "ndjson", "jetty", "evidently-0.1", "posthog", "jitsu", "snowplow-post", "snowplow-get"];

    [Theory]
    [MemberData(nameof(WireFormats))]
    public async Task Ingest_EachWireFormat_StoredOnStockCluster(string format)
    {
        var before = await app.CountAsync("SELECT count(*) FROM events");
        var (client, request, expected) = Create(format);

        var started = System.Diagnostics.Stopwatch.StartNew();
        using var response = await client.SendAsync(request);
        started.Stop();

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal(expected, await app.CountAsync("SELECT count(*) FROM events") - before);
        // Generous for a loaded CI machine; a JIT-compiled write took seconds here.
        Assert.True(started.Elapsed < TimeSpan.FromSeconds(2), $"{format} took {started.Elapsed.TotalMilliseconds:F0} ms");
    }

    private (HttpClient Client, HttpRequestMessage Request, long Expected) Create(string format)
    {
        HttpRequestMessage Post(string url, string body, string contentType = "application/json") =>
            new(HttpMethod.Post, url) { Content = Json(body, contentType) };
        var snowplow = DbtEvent("invocation", "start", IngestionFixture.Now, Contexts(DbtInvocation(Guid.NewGuid().ToString(), "start"), DbtPlatform(), DbtEnv()), eid: Guid.NewGuid().ToString());
        return format switch
        {
            "native" => (app.Client(), Post("/api/v1/events", CreateNativeEvent().ToJsonString()), 1),
            "native-batch" => (app.Client(), Post("/api/v1/events", new JsonArray([.. Enumerable.Range(0, 100).Select(_ => (JsonNode)CreateNativeEvent())]).ToJsonString()), 100),
            "ndjson" => (app.Client(), Post("/api/v1/events", CreateNativeEvent().ToJsonString() + "\n" + CreateNativeEvent().ToJsonString() + "\n", "application/x-ndjson"), 2),
            "jetty" => (app.Client(IngestionFixture.JettyKey), Post("/api/v1/events", WithNewIds(SeedExamples.Jetty)), 1),
            "evidently-0.1" => (app.Client(IngestionFixture.EvidentlyKey), Post("/api/v1/events", WithNewIds(SeedExamples.Evidently01)), 1),
            "posthog" => (app.Client(), Post("/api/v1/events", $$$"""
                {"api_key": "phc_xxx", "batch": [{"event": "cli_command_completed", "distinct_id": "0197f0e1-2b3c-7d4e-8f90-a1b2c3d4e5f6",
                 "uuid": "{{{Guid.NewGuid()}}}", "timestamp": "2026-10-31T09:29:58.120Z", "properties": {"command": "sync", "exit_code": 0}}]}
                """), 1),
            "jitsu" => (app.Client(null), Post($"/api/v1/s2s/event?token={IngestionFixture.EvidentlyKey}", WithNewIds(SeedExamples.Evidently04[0])), 1),
            "snowplow-post" => (app.Client(null), Post("/com.snowplowanalytics.snowplow/tp2", PayloadData(snowplow).ToJsonString()), 1),
            "snowplow-get" => (app.Client(null), new HttpRequestMessage(HttpMethod.Get, "/i?" + string.Join('&',
                snowplow.Select(kv => kv.Key + "=" + Uri.EscapeDataString(kv.Value!.GetValue<string>())))), 1),
            _ => throw new ArgumentOutOfRangeException(nameof(format)),
        };
    }

    /// <summary>A seed example with every id-like value made unique, so each run of a case stores anew.</summary>
    private static string WithNewIds(string json)
    {
        var node = JsonNode.Parse(json)!;
        void Walk(JsonNode? n)
        {
            if (n is JsonObject o)
            {
                foreach (var (key, value) in o.ToList())
                {
                    if (value is JsonValue v && v.TryGetValue<string>(out var s) && Guid.TryParse(s, out _)
                        && key is "eventId" or "eventn_ctx_event_id" or "uuid")
                    {
                        o[key] = Guid.NewGuid().ToString();
                    }
                    else
                    {
                        Walk(value);
                    }
                }
            }
            else if (n is JsonArray a)
            {
                foreach (var item in a)
                {
                    Walk(item);
                }
            }
        }
        Walk(node);
        return node.ToJsonString();
    }
}
