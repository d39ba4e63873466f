using System.Net;
using Microsoft.EntityFrameworkCore;
using Npgsql;
using UsageDashboard.Database;
using UsageDashboard.Store;
using UsageDashboard.Tests.Infrastructure;

namespace UsageDashboard.Tests.Operations;

/// <summary>Two app instances started at the same moment against one empty database; one evaluator at a time.</summary>
[Collection(MetricsCollection.Name)]
public sealed class SeveralInstancesTests
{
    [Fact]
    public async Task HealthEvaluation_AnotherInstanceEvaluating_SkipsThePass()
    {
        var connectionString = await TestCluster.CreateDatabaseAsync(nameof(SeveralInstancesTests));
        // The other instance, in the middle of an evaluation.
        await using var other = new NpgsqlConnection(connectionString);
        await other.OpenAsync();
        await using (var hold = new NpgsqlCommand($"SELECT pg_advisory_lock({UsageDashboard.Operations.AdvisoryLock.HealthEvaluationKey})", other))
        {
            await hold.ExecuteNonQueryAsync();
        }
        await using var app = new AppFactory(connectionString, settings: new Dictionary<string, string?> { ["Operations:Metrics:Enabled"] = "true" });
        using var client = app.CreateClient();

        var scrape = "";
        for (var i = 0; i < 50 && !scrape.Contains("outcome=\"skipped\"} 1", StringComparison.Ordinal); i++)
        {
            await Task.Delay(200);
            scrape = await client.GetStringAsync("/metrics");
        }

        Assert.Contains("usagedashboard_health_evaluations_total{otel_scope_name=\"UsageDashboard\",outcome=\"skipped\"} 1", scrape);
        Assert.Contains("usagedashboard_health_evaluations_total{otel_scope_name=\"UsageDashboard\",outcome=\"ok\"} 0", scrape);
    }

    [Fact]
    public async Task TwoInstances_StartedTogetherOnAnEmptyDatabase_MigrateOnceAndBothServe()
    {
        var cluster = await TestCluster.GetAsync();
        var name = "several_" + Guid.NewGuid().ToString("N")[..8];
        await EventsDatabase.CreateDatabaseIfMissingAsync(cluster.ConnectionString(), name, default);
        var connectionString = cluster.ConnectionString(name);
        await using var first = new AppFactory(connectionString);
        await using var second = new AppFactory(connectionString);

        var clients = await Task.WhenAll(Task.Run(() => first.CreateClient()), Task.Run(() => second.CreateClient()));

        foreach (var client in clients)
        {
            // Ready once the start-up work (the rollup cache's first load) is done.
            var ready = HttpStatusCode.ServiceUnavailable;
            for (var i = 0; i < 300 && ready != HttpStatusCode.OK; i++)
            {
                ready = (await client.GetAsync("/readyz")).StatusCode;
                await Task.Delay(ready == HttpStatusCode.OK ? 0 : 200);
            }
            Assert.Equal(HttpStatusCode.OK, ready);
            Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("/healthz")).StatusCode);
        }
        var options = new DbContextOptionsBuilder<UsageDbContext>();
        UsageDbContext.Configure(options, connectionString);
        await using var db = new UsageDbContext(options.Options);
        var known = db.Database.GetMigrations().ToList();
        await using var conn = new NpgsqlConnection(connectionString);
        await conn.OpenAsync();
        await using var cmd = new NpgsqlCommand("SELECT count(*), count(DISTINCT \"MigrationId\") FROM \"__EFMigrationsHistory\"", conn);
        await using var reader = await cmd.ExecuteReaderAsync();
        await reader.ReadAsync();
        Assert.Equal(known.Count, reader.GetInt64(0));
        Assert.Equal(known.Count, reader.GetInt64(1));
    }
}
