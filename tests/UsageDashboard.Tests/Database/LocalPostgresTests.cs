using Npgsql;
using UsageDashboard.Tests.Infrastructure;

namespace UsageDashboard.Tests.Database;

public sealed class LocalPostgresTests
{
    /// <summary>
    /// The collector's 2xx promises durable events; a project-local cluster that acknowledged commits
    /// before flushing them (synchronous_commit off, as it once ran) lost the last ones on a crash.
    /// The test cluster is started by the same <c>LocalPostgres</c> the app uses.
    /// </summary>
    [Fact]
    public async Task StartAsync_NewCluster_CommitsDurably()
    {
        var cluster = await TestCluster.GetAsync();
        await using var conn = new NpgsqlConnection(cluster.ConnectionString());
        await conn.OpenAsync();
        await using var cmd = new NpgsqlCommand(
            "SELECT current_setting('synchronous_commit'), current_setting('fsync'), current_setting('full_page_writes')", conn);
        await using var reader = await cmd.ExecuteReaderAsync();
        Assert.True(await reader.ReadAsync());

        Assert.Equal(("on", "on", "on"), (reader.GetString(0), reader.GetString(1), reader.GetString(2)));
    }
}
