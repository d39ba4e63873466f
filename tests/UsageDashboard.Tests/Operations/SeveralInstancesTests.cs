using System.Net;
using Microsoft.EntityFrameworkCore;
using Npgsql;
using UsageDashboard.Database;
using UsageDashboard.Store;
using UsageDashboard.Tests.Infrastructure;

namespace UsageDashboard.Tests.Operations;

/// <summary>Two app instances started at the same moment against one empty database.</summary>
public sealed class SeveralInstancesTests
{
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
            Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("/readyz")).StatusCode);
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
