using System.Net;
using System.Text.Json.Nodes;
using static UsageDashboard.Tests.Ingestion.Payloads;

namespace UsageDashboard.Tests.Ingestion;

/// <summary>
/// Small writes and large ones run on separate pools, so a connection that staged a large batch never
/// serves the small writes' prepared statements (their plans went bad after one; docs/ingestion.md).
/// </summary>
public sealed class CollectorPoolsTests(CollectorPoolsTests.Fixture app) : IClassFixture<CollectorPoolsTests.Fixture>
{
    public sealed class Fixture : IngestionFixture;

    private const string LargePool = "UsageDashboard collector";
    private const string SmallPool = "UsageDashboard collector, small writes";

    [Fact]
    public async Task PostEvents_LargeBatchThenSingleEvent_EachWrittenOnItsOwnPool()
    {
        var batch = new JsonArray([.. Enumerable.Range(0, 100).Select(_ => (JsonNode)CreateNativeEvent())]);

        var large = await app.Client().PostAsync("/api/v1/events", Json(batch));
        var afterLarge = await PoolsConnectedAsync();
        var small = await app.Client().PostAsync("/api/v1/events", Json(CreateNativeEvent()));
        var afterSmall = await PoolsConnectedAsync();

        Assert.Equal(HttpStatusCode.OK, large.StatusCode);
        Assert.Equal(HttpStatusCode.OK, small.StatusCode);
        Assert.Equal(101, await app.CountAsync("SELECT count(*) FROM events"));
        Assert.Equal([LargePool], afterLarge);
        Assert.Equal([LargePool, SmallPool], afterSmall);
    }

    /// <summary>The collector pools that hold a connection to the test database (pools keep idle connections open).</summary>
    private async Task<List<string>> PoolsConnectedAsync() =>
        [.. (await app.RowsAsync("""
            SELECT DISTINCT application_name FROM pg_stat_activity
            WHERE datname = current_database() AND application_name LIKE 'UsageDashboard collector%' ORDER BY 1
            """)).Select(r => (string)r["application_name"]!)];
}
