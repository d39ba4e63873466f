using UsageDashboard.Health;
using UsageDashboard.Store;
using UsageDashboard.Tests.Infrastructure;
using static UsageDashboard.Tests.Infrastructure.TestEvents;

namespace UsageDashboard.Tests.Health;

/// <summary>
/// A subject's first sighting is over all its runs ever, not only the detection windows: found through
/// the day rollups for versions released long ago, and in the windows for versions too new for them.
/// </summary>
public sealed class HealthQueriesTests : IClassFixture<HealthQueriesTests.Db>, IAsyncLifetime
{
    public sealed class Db : DatabaseFixture;

    private static readonly DateTime Now = new(2026, 11, 20, 12, 0, 0, DateTimeKind.Utc);
    private readonly Db _db;

    public HealthQueriesTests(Db db) => _db = db;

    public Task InitializeAsync() => _db.ResetAsync();

    public Task DisposeAsync() => Task.CompletedTask;

    [Fact]
    public async Task Load_VersionsFirstSeenBeforeTheWindowsAndAfterTheLastRefresh_FirstRunOfEach()
    {
        var writer = CreateWriter(_db, new FakeTimeProvider(new DateTimeOffset(Now)));
        var old = new PluginRef { Name = "dbt-duckdb", Type = "adapter", Version = "1.0.0" };
        var released = Now.AddDays(-20).AddMinutes(7); // long before the detection windows (7 days and 6 hours)
        var events = new List<TelemetryEvent>
        {
            // A run of the tool's earlier release on the same day, and earlier that day, must not count for 1.9.0.
            CreateEvent(tool: "dbt", at: released.AddHours(-1), toolVersion: "1.8.0"),
            CreateEvent(tool: "dbt", at: released, toolVersion: "1.9.0", plugins: [old]),
            CreateEvent(tool: "dbt", at: released.AddHours(2), toolVersion: "1.9.0", plugins: [old]),
        };
        events.AddRange(Enumerable.Range(1, 5).Select(i => CreateEvent(tool: "dbt", at: Now.AddHours(-i), toolVersion: "1.9.0", plugins: [old])));
        await writer.WriteAsync(events, default);
        await TestRollups.RefreshAsync(_db);
        // Written after the last refresh: no rollup row holds this version yet.
        var fresh = new PluginRef { Name = "dbt-duckdb", Type = "adapter", Version = "1.1.0" };
        var freshAt = Now.AddHours(-3).AddSeconds(11);
        await writer.WriteAsync([
            CreateEvent(tool: "dbt", at: freshAt, toolVersion: "1.9.0", plugins: [fresh]),
            CreateEvent(tool: "dbt", at: Now.AddHours(-1), toolVersion: "1.9.0", plugins: [fresh]),
        ], default);

        var subjects = await new HealthQueries(_db.DataSource).LoadAsync(Now, new HealthOptions(), default);

        DateTime FirstSeen(HealthSubject subject) => subjects.Single(s => s.Subject == subject).FirstSeen;
        Assert.Equal(released, FirstSeen(HealthSubject.Plugin("dbt", "dbt-duckdb", "1.0.0")));
        Assert.Equal(released, FirstSeen(HealthSubject.ToolRelease("dbt", "1.9.0")));
        Assert.Equal(freshAt, FirstSeen(HealthSubject.Plugin("dbt", "dbt-duckdb", "1.1.0")));
    }
}
