using System.Net;
using Microsoft.EntityFrameworkCore;
using Npgsql;
using Microsoft.AspNetCore.Hosting;
using Microsoft.Extensions.Logging;
using UsageDashboard.Database;
using UsageDashboard.Operations;
using UsageDashboard.Rollups;
using UsageDashboard.Store;
using UsageDashboard.Tests.Access;
using UsageDashboard.Tests.Infrastructure;

namespace UsageDashboard.Tests.Operations;

/// <summary>
/// Several app instances on one database: migrations applied once, one health evaluator and one rollup
/// refresher at a time (advisory locks; the test plays the other instance by holding a lock itself).
/// </summary>
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
        await using (var hold = new NpgsqlCommand($"SELECT pg_advisory_lock({AdvisoryLock.HealthEvaluationKey})", other))
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
    public async Task RollupRefresh_AnotherInstanceRefreshing_LeavesItsChangesToThatInstance()
    {
        var connectionString = await TestCluster.CreateDatabaseAsync(nameof(SeveralInstancesTests) + "_refresh");
        await using var app = InsightFigures.CreateApp(connectionString);
        using var client = app.CreateClient();
        await InsightFigures.PostAsync(client);
        await app.RefreshRollupsAsync();
        var runsBefore = await RunsAsync(connectionString, "SELECT count(*) FROM runs");
        Assert.Equal(runsBefore, await RunsAsync(connectionString, RolledUpRuns));
        // The other instance, in the middle of a refresh pass.
        await using var other = new NpgsqlConnection(connectionString);
        await other.OpenAsync();
        await using (var hold = new NpgsqlCommand($"SELECT pg_advisory_lock({RollupRefresher.LockKey})", other))
        {
            await hold.ExecuteNonQueryAsync();
        }

        await InsightFigures.PostAsync(client);
        // This instance's refresher ticks every 200 ms: several passes, each of which must leave the marks alone.
        await Task.Delay(1500);
        var marksWhileHeld = await RunsAsync(connectionString, "SELECT count(*) FROM rollup_dirty");
        var rolledUpWhileHeld = await RunsAsync(connectionString, RolledUpRuns);
        await using (var release = new NpgsqlCommand($"SELECT pg_advisory_unlock({RollupRefresher.LockKey})", other))
        {
            await release.ExecuteNonQueryAsync();
        }
        await app.RefreshRollupsAsync();

        Assert.True(marksWhileHeld > 0, "the refresher folded changes while another instance held the refresh lock");
        Assert.Equal(runsBefore, rolledUpWhileHeld);
        var runsAfter = await RunsAsync(connectionString, "SELECT count(*) FROM runs");
        Assert.True(runsAfter > runsBefore);
        Assert.Equal(runsAfter, await RunsAsync(connectionString, RolledUpRuns));
    }

    private const string RolledUpRuns = "SELECT coalesce(sum(runs), 0)::bigint FROM rollup_run_days";

    private static async Task<long> RunsAsync(string connectionString, string sql)
    {
        await using var conn = new NpgsqlConnection(connectionString);
        await conn.OpenAsync();
        await using var cmd = new NpgsqlCommand(sql, conn);
        return Convert.ToInt64(await cmd.ExecuteScalarAsync(), System.Globalization.CultureInfo.InvariantCulture);
    }

    /// <summary>
    /// Two instances start against an empty database while the test holds the migration lock, so both reach
    /// it at the same moment (pg_locks shows both sessions waiting); released, one applies every migration
    /// and the other, once it gets the lock, finds none left. Without the lock both would run the first
    /// migration's CREATE TABLEs and one would fail start-up with "relation already exists".
    /// </summary>
    [Fact]
    public async Task TwoInstances_StartedTogetherOnAnEmptyDatabase_MigrateOnceAndBothServe()
    {
        var cluster = await TestCluster.GetAsync();
        var name = "several_" + Guid.NewGuid().ToString("N")[..8];
        await EventsDatabase.CreateDatabaseIfMissingAsync(cluster.ConnectionString(), name, default);
        var connectionString = cluster.ConnectionString(name);
        await using var gate = new NpgsqlConnection(connectionString);
        await gate.OpenAsync();
        await ExecuteAsync(gate, $"SELECT pg_advisory_lock({AdvisoryLock.MigrationKey})");
        LogCapture[] logs = [new(), new()];
        await using var firstFactory = new AppFactory(connectionString);
        await using var secondFactory = new AppFactory(connectionString);
        await using var first = firstFactory.WithWebHostBuilder(b => b.ConfigureLogging(l => l.AddProvider(logs[0])));
        await using var second = secondFactory.WithWebHostBuilder(b => b.ConfigureLogging(l => l.AddProvider(logs[1])));

        var starting = Task.WhenAll(Task.Run(() => first.CreateClient()), Task.Run(() => second.CreateClient()));
        var waiting = 0L;
        for (var i = 0; i < 600 && waiting < 2 && !starting.IsCompleted; i++)
        {
            await Task.Delay(100);
            waiting = await MigrationLockWaitersAsync(gate);
        }
        await ExecuteAsync(gate, $"SELECT pg_advisory_unlock({AdvisoryLock.MigrationKey})");
        var clients = await starting;

        Assert.Equal(2, waiting);
        foreach (var log in logs)
        {
            Assert.Contains(log.Entries, e => e.Message.Contains("Another instance is applying migrations; waiting", StringComparison.Ordinal));
            Assert.DoesNotContain(log.Entries, e => e.Level >= LogLevel.Error);
        }
        var applied = logs.SelectMany(l => l.Entries).Where(e => e.Message.StartsWith("Applying ", StringComparison.Ordinal) && e.Message.Contains(" migrations", StringComparison.Ordinal)).ToList();
        Assert.Single(applied);
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
        Assert.Contains(known.Count.ToString(System.Globalization.CultureInfo.InvariantCulture), applied[0].Message, StringComparison.Ordinal);
        await using var cmd = new NpgsqlCommand("SELECT count(*), count(DISTINCT \"MigrationId\") FROM \"__EFMigrationsHistory\"", gate);
        await using var reader = await cmd.ExecuteReaderAsync();
        await reader.ReadAsync();
        Assert.Equal(known.Count, reader.GetInt64(0));
        Assert.Equal(known.Count, reader.GetInt64(1));
    }

    /// <summary>Sessions waiting for the migration lock in this database (a bigint key is split into classid and objid).</summary>
    private static async Task<long> MigrationLockWaitersAsync(NpgsqlConnection conn)
    {
        await using var cmd = new NpgsqlCommand("""
            SELECT count(*) FROM pg_locks
            WHERE locktype = 'advisory' AND NOT granted AND objsubid = 1
              AND database = (SELECT oid FROM pg_database WHERE datname = current_database())
              AND classid::bigint = @key >> 32 AND objid::bigint = @key & 4294967295
            """, conn);
        cmd.Parameters.AddWithValue("key", AdvisoryLock.MigrationKey);
        return (long)(await cmd.ExecuteScalarAsync())!;
    }

    private static async Task ExecuteAsync(NpgsqlConnection conn, string sql)
    {
        await using var cmd = new NpgsqlCommand(sql, conn);
        await cmd.ExecuteNonQueryAsync();
    }
}
