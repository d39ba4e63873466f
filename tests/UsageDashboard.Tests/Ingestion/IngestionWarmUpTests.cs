using System.Net;
using Microsoft.Extensions.DependencyInjection;
using UsageDashboard.Hosting;
using UsageDashboard.Ingestion;
using UsageDashboard.Tests.Infrastructure;

namespace UsageDashboard.Tests.Ingestion;

public sealed class IngestionWarmUpTests(IngestionWarmUpTests.Db db) : IClassFixture<IngestionWarmUpTests.Db>
{
    public sealed class Db : DatabaseFixture;

    private static readonly Dictionary<string, string?> s_warmUpOn = new() { ["Ingestion:WarmUpRounds"] = "3" };

    [Theory]
    [InlineData("http://127.0.0.1:5000", "http://127.0.0.1:5000/")]
    [InlineData("http://0.0.0.0:8080", "http://127.0.0.1:8080/")]
    [InlineData("http://[::]:80", "http://127.0.0.1/")]
    [InlineData("http://+:5000", "http://127.0.0.1:5000/")]
    [InlineData("http://*:5000", "http://127.0.0.1:5000/")]
    [InlineData("http://localhost:5000", "http://localhost:5000/")]
    [InlineData("http://0.0.0.0.example:80", "http://0.0.0.0.example/")]
    public void LoopbackFor_ListenAddress_ReachableAddress(string address, string expected) =>
        Assert.Equal(expected, IngestionWarmUp.LoopbackFor(address).ToString());

    [Fact]
    public async Task Round_MappedLikeRequests_EveryEventAccepted()
    {
        await using var app = new AppFactory(db.ConnectionString, settings: s_warmUpOn);
        var warmUp = app.Services.GetRequiredService<IngestionWarmUp>();

        var round = warmUp.Round("dbt", 0);

        // A body that stopped mapping (a format change) would warm the quarantine path instead, silently.
        Assert.All(round, b => Assert.Empty(b.Rejected));
        Assert.Equal([1, 1, 100, 2], round.Select(b => b.Events.Count));
        Assert.Equal(["native", "native", "native", "snowplow"], round.Select(b => b.Events[0].Source));
    }

    [Fact]
    public async Task Start_WarmUpOn_ReadyAfterEveryRoundAndNothingStored()
    {
        await db.ResetAsync();
        await using var app = new AppFactory(db.ConnectionString, settings: s_warmUpOn);
        var client = app.CreateClient();
        var deadline = DateTime.UtcNow.AddSeconds(60);
        HttpResponseMessage ready;
        while ((ready = await client.GetAsync("/readyz")).StatusCode != HttpStatusCode.OK && DateTime.UtcNow < deadline)
        {
            await Task.Delay(100);
        }

        Assert.Equal(HttpStatusCode.OK, ready.StatusCode);
        Assert.Equal(2 * 3, app.Services.GetRequiredService<IngestionWarmUp>().RoundsDone);
        Assert.DoesNotContain(IngestionWarmUp.StartupWork, app.Services.GetRequiredService<StartupReadiness>().Pending);
        foreach (var table in new[] { "events", "event_keys", "runs", "run_plugins", "installations", "quarantine", "rollup_dirty" })
        {
            await using var cmd = db.DataSource.CreateCommand($"SELECT count(*) FROM {table}");
            Assert.True((long)(await cmd.ExecuteScalarAsync())! == 0, $"{table} kept rows of the warm-up");
        }
    }
}
