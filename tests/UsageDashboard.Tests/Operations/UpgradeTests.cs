using System.Text.Json;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Infrastructure;
using Microsoft.EntityFrameworkCore.Migrations;
using Microsoft.Extensions.Options;
using Npgsql;
using UsageDashboard.Database;
using UsageDashboard.Insights;
using UsageDashboard.Rollups;
using UsageDashboard.Store;
using UsageDashboard.Tests.Infrastructure;

namespace UsageDashboard.Tests.Operations;

/// <summary>
/// A store of the previous release (migrated up to its last migration) with data in it, upgraded by starting
/// this release on it: every count the pages show stays the same, and the quarantine's counts are carried over.
/// </summary>
public sealed class UpgradeTests
{
    /// <summary>The last migration of the previous release; this release's start at 20261208010000.</summary>
    private const string PreviousRelease = "20261203093000_RunPluginsInsertsUnmarked";

    [Fact]
    public async Task Upgrade_FromPreviousReleaseWithData_EveryPageFigureUnchanged()
    {
        var cluster = await TestCluster.GetAsync();
        var name = "upgrade_" + Guid.NewGuid().ToString("N")[..8];
        await EventsDatabase.CreateDatabaseIfMissingAsync(cluster.ConnectionString(), name, default);
        var connectionString = cluster.ConnectionString(name);
        var options = new DbContextOptionsBuilder<UsageDbContext>();
        UsageDbContext.Configure(options, connectionString);
        await using (var db = new UsageDbContext(options.Options))
        {
            await db.GetService<IMigrator>().MigrateAsync(PreviousRelease);
            Assert.Contains(PreviousRelease, await db.Database.GetAppliedMigrationsAsync());
            Assert.NotEmpty(await db.Database.GetPendingMigrationsAsync());
        }
        await using var dataSource = NpgsqlDataSource.Create(connectionString);
        var clock = new FakeTimeProvider(InsightFigures.Now);
        // The store's writer: events, runs, plugins and installations as the previous release wrote them
        // (those tables are the same in both schemas), plus quarantine rows, which the upgrade counts.
        var writer = new EventWriter(dataSource, clock, Options.Create(new RunOptions { AbortAfter = TimeSpan.FromHours(12) }));
        await writer.WriteAsync(CreateEvents(), default);
        await using (var cmd = dataSource.CreateCommand("""
            INSERT INTO quarantine (received_at, tool, endpoint, source, reason, detail, payload, payload_bytes, payload_truncated)
            SELECT @now - make_interval(hours => g), CASE WHEN g % 2 = 0 THEN 'dbt' ELSE NULL END, '/api/v1/events', 'native',
                   CASE WHEN g % 3 = 0 THEN 'missing_installation_id' ELSE 'invalid_json' END, NULL, '{}', 2, false
            FROM generate_series(1, 30) g
            """))
        {
            cmd.Parameters.AddWithValue("now", InsightFigures.Now.UtcDateTime);
            await cmd.ExecuteNonQueryAsync();
        }
        // "Before" is what the previous release's pages showed for this store, taken two ways, both while
        // the store still has the previous schema: (1) the oracle, plain SQL over runs and run_plugins (tables
        // every release has) that counts each figure the way the pages define it, independent of this
        // release's code; (2) this release's page services in raw mode (rollups off), which read only those
        // tables too and cover every figure, series and cohort included. The previous release's own binary is
        // not run: a test cannot build an older commit.
        var today = DateOnly.FromDateTime(InsightFigures.Now.UtcDateTime);
        var oracle = new Dictionary<string, SortedDictionary<string, long>>(StringComparer.Ordinal);
        foreach (var range in UpgradeFigures.Ranges)
        {
            oracle[range] = await UpgradeFigures.FromSqlAsync(dataSource, range, today);
        }
        var before = await FiguresAsync(dataSource, clock, rollupsEnabled: false);

        // The upgrade as an operator does it: this release started on the old store migrates it at start-up,
        // and its refresher builds the rollups the pages then read.
        await using (var app = InsightFigures.CreateApp(connectionString))
        {
            var client = await app.CreateClientAsAsync(UsageDashboard.Access.Roles.Viewer);
            await app.RefreshRollupsAsync();
            foreach (var range in UpgradeFigures.Ranges)
            {
                var shown = await UpgradeFigures.FromApiAsync(client, range);
                Assert.True(oracle[range].Count > 10, "the store reaches every page");
                Assert.True(oracle[range].SequenceEqual(shown),
                    $"range {range}: the pages after the upgrade differ from the oracle before it\nbefore {string.Join(", ", oracle[range])}\nafter  {string.Join(", ", shown)}");
            }
        }
        NpgsqlConnection.ClearAllPools();

        var after = await FiguresAsync(dataSource, clock, rollupsEnabled: true);
        Assert.Equal(before.Count, after.Count);
        for (var i = 0; i < before.Count; i++)
        {
            Assert.Equal(before[i], after[i]);
        }
        await using var counts = dataSource.CreateCommand("SELECT (SELECT count(*) FROM quarantine), (SELECT sum(count) FROM quarantine_counts)");
        await using var reader = await counts.ExecuteReaderAsync();
        await reader.ReadAsync();
        Assert.Equal(30, reader.GetInt64(0));
        Assert.Equal(30, reader.GetDecimal(1));
    }

    /// <summary>What the pages show, from their own services (over the rollups, or over the runs), as JSON.</summary>
    private static async Task<List<string>> FiguresAsync(NpgsqlDataSource dataSource, TimeProvider clock, bool rollupsEnabled)
    {
        var rollups = RollupSource.Create(rollupsEnabled);
        var today = DateOnly.FromDateTime(InsightFigures.Now.UtcDateTime);
        var figures = new List<string>();
        foreach (var days in (int[])[7, 30, 90])
        {
            var query = new InsightQuery { From = today.AddDays(1 - days), To = today, Range = null };
            figures.Add(Json(await new OverviewService(dataSource, clock, rollups).GetAsync(query, default)));
            figures.Add(Json(await new CommandsService(dataSource, clock, rollups).GetAsync(query, 50, default)));
            figures.Add(Json(await new PluginsService(dataSource, clock, rollups, TestCatalog.Names).GetAsync(query, 50, default)));
            figures.Add(Json(await new InstallationsService(dataSource, clock, rollups).GetAsync(query, ActiveRuleKind.AnyEvent, default)));
            figures.Add(Json(await new EnvironmentsService(dataSource, clock, rollups).GetAsync(query, default)));
        }
        Assert.Contains("\"Runs\":", figures[0], StringComparison.Ordinal);
        return figures;
    }

    /// <summary>As JSON with every object's members in name order: the raw and rollup paths fill dictionaries in different orders.</summary>
    private static string Json<T>(T value) => Canonical(JsonSerializer.SerializeToNode(value, s_json))?.ToJsonString() ?? "null";

    private static System.Text.Json.Nodes.JsonNode? Canonical(System.Text.Json.Nodes.JsonNode? node) => node switch
    {
        System.Text.Json.Nodes.JsonObject o => new System.Text.Json.Nodes.JsonObject(o.OrderBy(p => p.Key, StringComparer.Ordinal)
            .Select(p => KeyValuePair.Create(p.Key, Canonical(p.Value?.DeepClone())))),
        System.Text.Json.Nodes.JsonArray a => new System.Text.Json.Nodes.JsonArray([.. a.Select(i => Canonical(i?.DeepClone()))]),
        _ => node?.DeepClone(),
    };

    private static readonly JsonSerializerOptions s_json = new() { IncludeFields = true, NumberHandling = System.Text.Json.Serialization.JsonNumberHandling.AllowNamedFloatingPointLiterals };

    private static List<TelemetryEvent> CreateEvents()
    {
        var random = new Random(11);
        var events = new List<TelemetryEvent>();
        for (var i = 0; i < 300; i++)
        {
            var tool = (string[])["dbt", "meltano", "jetty"];
            events.Add(TestEvents.CreateEvent(
                tool: tool[random.Next(3)],
                installationId: "inst-" + random.Next(25).ToString(System.Globalization.CultureInfo.InvariantCulture),
                at: InsightFigures.Now.UtcDateTime.AddHours(-random.Next(1, 24 * 80)),
                status: random.Next(5) == 0 ? RunStatus.Failed : RunStatus.Succeeded,
                command: random.Next(3) switch { 0 => "run", 1 => "test", _ => "build" },
                durationMs: random.Next(100, 90_000),
                toolVersion: random.Next(2) == 0 ? "1.8.0" : "1.9.1",
                osName: random.Next(2) == 0 ? "linux" : "darwin",
                isCi: random.Next(3) == 0,
                errorType: null,
                plugins: random.Next(2) == 0 ? [new PluginRef { Name = "tap-github", Type = "extractor", Version = "1.4." + random.Next(3).ToString(System.Globalization.CultureInfo.InvariantCulture) }] : null));
        }
        return events;
    }
}
