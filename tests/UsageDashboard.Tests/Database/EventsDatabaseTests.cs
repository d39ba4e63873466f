using Microsoft.Extensions.Configuration;
using Npgsql;
using UsageDashboard.Database;
using UsageDashboard.Tests.Infrastructure;

namespace UsageDashboard.Tests.Database;

public sealed class EventsDatabaseTests(EventsDatabaseTests.Db db) : IClassFixture<EventsDatabaseTests.Db>
{
    public sealed class Db : DatabaseFixture;

    private static IConfiguration Config(string connectionString, string? timeout) => new ConfigurationBuilder()
        .AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["ConnectionStrings:Events"] = connectionString,
            ["Database:CommandTimeoutSeconds"] = timeout,
        })
        .Build();

    [Fact]
    public async Task OpenAsync_CommandTimeoutConfigured_PoolUsesIt()
    {
        await using var events = await EventsDatabase.OpenAsync(Config(db.ConnectionString, "600"), AppContext.BaseDirectory);
        await using var conn = await events.DataSource.OpenConnectionAsync();
        await using var cmd = new NpgsqlCommand("SELECT pg_sleep(0)", conn);

        Assert.Equal(600, new NpgsqlConnectionStringBuilder(events.ConnectionString).CommandTimeout);
        Assert.Equal(600, cmd.CommandTimeout);
    }

    [Fact]
    public async Task OpenAsync_NoCommandTimeout_KeepsTheConnectionStrings()
    {
        var withTimeout = new NpgsqlConnectionStringBuilder(db.ConnectionString) { CommandTimeout = 45 }.ConnectionString;

        await using var events = await EventsDatabase.OpenAsync(Config(withTimeout, null), AppContext.BaseDirectory);

        Assert.Equal(withTimeout, events.ConnectionString);
    }
}
