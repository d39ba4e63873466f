using System.Net;
using Npgsql;
using static UsageDashboard.Tests.Ingestion.Payloads;

namespace UsageDashboard.Tests.Ingestion;

public sealed class RateLimitTests : IClassFixture<RateLimitTests.Fixture>
{
    public sealed class Fixture : IngestionFixture
    {
        protected override IReadOnlyDictionary<string, string?> Settings => new Dictionary<string, string?>
        {
            ["Ingestion:RateLimit:RequestsPerSecond"] = "1",
            ["Ingestion:RateLimit:Burst"] = "3",
        };
    }

    private readonly Fixture _app;

    public RateLimitTests(Fixture app) => _app = app;

    [Fact]
    public async Task PostEvents_OverTheKeysRate_429WithRetryAfterOtherKeysUnaffected()
    {
        var client = _app.Client();
        var statuses = new List<HttpStatusCode>();
        for (var i = 0; i < 6; i++)
        {
            statuses.Add((await client.PostAsync("/api/v1/events", Json(CreateNativeEvent()))).StatusCode);
        }
        var limited = await client.PostAsync("/api/v1/events", Json(CreateNativeEvent()));
        var otherKey = await _app.Client(IngestionFixture.JettyKey).PostAsync("/api/v1/events", Json(SeedExamples.Jetty));

        Assert.Contains(HttpStatusCode.OK, statuses);
        Assert.Equal((HttpStatusCode)429, limited.StatusCode);
        Assert.True(int.Parse(limited.Headers.GetValues("Retry-After").Single(), System.Globalization.CultureInfo.InvariantCulture) >= 1);
        Assert.Equal("rate_limited", (await limited.ReadJsonAsync()).GetProperty("error").GetString());
        Assert.Equal(HttpStatusCode.OK, otherKey.StatusCode);
    }
}

public sealed class DatabaseOutageTests : IClassFixture<DatabaseOutageTests.Fixture>
{
    public sealed class Fixture : IngestionFixture;

    private readonly Fixture _app;

    public DatabaseOutageTests(Fixture app) => _app = app;

    [Fact]
    public async Task PostEvents_DatabaseConnectionsKilled_503RetryAfterThenRecovers()
    {
        var client = _app.Client();
        Assert.Equal(HttpStatusCode.OK, (await client.PostAsync("/api/v1/events", Json(CreateNativeEvent()))).StatusCode);
        var database = new NpgsqlConnectionStringBuilder(_app.ConnectionString).Database;

        // What a server restart does to the app's pooled connections.
        await using (var admin = new NpgsqlConnection(new NpgsqlConnectionStringBuilder(_app.ConnectionString) { Database = "postgres", Pooling = false }.ConnectionString))
        {
            await admin.OpenAsync();
            await using var kill = new NpgsqlCommand("SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()", admin);
            kill.Parameters.Add(new NpgsqlParameter { Value = database! });
            await kill.ExecuteScalarAsync();
        }
        NpgsqlConnection.ClearPool(new NpgsqlConnection(_app.ConnectionString));
        var batch = new System.Text.Json.Nodes.JsonArray(CreateNativeEvent(), CreateNativeEvent());
        var statuses = new List<HttpStatusCode>();
        HttpResponseMessage? unavailable = null;
        for (var i = 0; i < 20 && statuses.LastOrDefault() != HttpStatusCode.OK; i++)
        {
            var response = await client.PostAsync("/api/v1/events", Json(batch.ToJsonString()));
            statuses.Add(response.StatusCode);
            if (response.StatusCode == HttpStatusCode.ServiceUnavailable)
            {
                unavailable = response;
            }
        }

        Assert.DoesNotContain(HttpStatusCode.InternalServerError, statuses);
        Assert.Equal(HttpStatusCode.OK, statuses[^1]);
        if (unavailable is not null)
        {
            Assert.True(unavailable.Headers.Contains("Retry-After"));
        }
        // Whatever failed was rolled back: the batch is stored exactly once.
        Assert.Equal(3, await _app.CountAsync("SELECT count(*) FROM events"));
    }
}
