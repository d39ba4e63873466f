using System.Text.Json;
using UsageDashboard.Demo;
using UsageDashboard.Store;
using UsageDashboard.Tests.Infrastructure;
using static UsageDashboard.Tests.Infrastructure.TestEvents;

namespace UsageDashboard.Tests.Store;

/// <summary>
/// A bulk load derives the feature rollups in memory (<see cref="RunFeatures"/>, <see cref="BulkRollups"/>); the
/// SQL functions <c>feature_values</c> and <c>feature_project</c> behind every rebuild are the definition. Each test
/// bulk-loads events, keeps the feature rows, rebuilds every rollup from the stored runs and events in SQL and
/// requires the same rows, NULL told apart from the empty string.
/// </summary>
// In the bulk-load collection, which runs alone (see BulkLoadCollection).
[Collection(nameof(BulkRunDerivationTests))]
public sealed class BulkFeatureRollupsTests : IClassFixture<BulkFeatureRollupsTests.Db>
{
    public sealed class Db : DatabaseFixture;

    private static readonly DateTime s_now = new(2026, 11, 20, 15, 30, 0, DateTimeKind.Utc);

    private readonly Db _db;

    public BulkFeatureRollupsTests(Db db) => _db = db;

    [Fact]
    public async Task BulkLoad_MultiToolDemoEvents_FeatureRowsSameAsSqlRebuild()
    {
        // The demo's four tools as they send: dbt's contexts, Meltano's Snowplow events through the mapper,
        // Evidently's arrays, Jetty's connectors; 60 days so runs cross a month boundary.
        var events = DemoDataGenerator.Generate(new DemoOptions { Events = 20_000, Days = 60, Seed = 7, End = s_now }).ToList();

        var (inMemory, rebuilt) = await BothWaysAsync(events);

        Assert.True(inMemory.Count > 5_000, $"only {inMemory.Count} feature rows: the comparison would say little");
        foreach (var (tool, key) in new[] { ("dbt", "materialization"), ("dbt", "organisation"), ("dbt", "project"), ("meltano", "plugin_category"),
            ("meltano", "environment"), ("meltano", "project_excluded"), ("evidently", "metric"), ("jetty", "connector_stack"), ("jetty", "project") })
        {
            Assert.Contains(inMemory, r => r.Contains($"|{tool}|", StringComparison.Ordinal) && r.Contains($"|{key}|", StringComparison.Ordinal));
        }
        Assert.Equal(rebuilt, inMemory);
    }

    [Fact]
    public async Task BulkLoad_OddProperties_FeatureRowsSameAsSqlRebuild()
    {
        var long200 = string.Concat(Enumerable.Repeat("ab😀", 120));
        string[] properties =
        [
            // Numbers as jsonb prints them, strings of digits, and what the models regex turns away.
            """{"resource_counts": {"models": 12}, "modelStatus": 1.50e1, "snapshot_type": -0.0}""",
            """{"resource_counts": {"models": "7"}, "modelStatus": 1e2, "snapshot_type": 1E-3}""",
            """{"resource_counts": {"models": 12.0}, "modelStatus": true, "snapshot_type": false}""",
            """{"resource_counts": {"models": 1234567890}, "modelStatus": null}""",
            """{"resource_counts": {"models": " 5"}, "modelStatus": ""}""",
            """{"resource_counts": {"models": 1001}}""",
            """{"resource_counts": {"models": 0}}""",
            // Objects and arrays where text is read: jsonb's key order, spacing and escapes.
            """{"modelStatus": {"bb": [1, "x\ty", null], "a": {"z": 1, "a": 2}, "a": "last wins", "é": "\u0001\"\\"}}""",
            """{"run_model": {"model_materialization": ["table"]}, "adapterUniqueId": {}}""",
            // Packages: hub, hashed, a package_install of jsonb null and of a string, hub without a name.
            """{"package_install": {"source": "hub", "name": "dbt-labs/dbt_utils", "version": "1.1.1"}}""",
            """{"package_install": {"source": "hub", "name": "calogica/dbt_expectations"}}""",
            """{"package_install": {"source": "git", "name": "0123abcd"}}""",
            """{"package_install": null}""",
            """{"package_install": "odd"}""",
            """{"package_install": {"source": "hub"}}""",
            // Arrays: non-strings and empty strings skipped, not-arrays ignored, values cut at 200 code points.
            $$"""{"metrics": ["DatasetDriftMetric", 3, "", null, "{{long200}}", "DatasetDriftMetric"], "tests": "TestNumberOfRows", "parts": []}""",
            """{"metric_presets": ["DataDriftPreset"], "test_presets": [["nested"]], "snapshot_type": "report"}""",
            // Projects: each source, Meltano's random ids excluded, Jetty's only when a string, the empty string kept.
            """{"projectId": "p-dbt", "project_id": {"project_id": "nested"}}""",
            """{"project_id": {"project_id": "nested-only"}}""",
            """{"projectUuid": "u-1", "projectUuidSource": "random", "environmentNameHash": "h-env"}""",
            """{"projectUuid": "u-2", "projectUuidSource": "explicit"}""",
            """{"projectId": ""}""",
            """{"project_id": "jetty-proj", "projectUuidSource": "random"}""",
            """{"projectId": 42, "deprecation_warn": {"deprecation_name": "config-path"}}""",
            // Not an object at all, and jsonb null.
            """["projectId", "x"]""",
            "\"just text\"",
            "null",
        ];
        var events = new List<TelemetryEvent>();
        var tools = new[] { "dbt", "meltano", "evidently", "jetty" };
        for (var i = 0; i < properties.Length; i++)
        {
            foreach (var tool in tools)
            {
                // Two events per run, a second run of each on the first of the month before, in two installations.
                for (var copy = 0; copy < 2; copy++)
                {
                    var at = copy == 0 ? s_now.AddHours(-i) : new DateTime(2026, 10, 1, 0, i, 0, DateTimeKind.Utc);
                    var runKey = $"{tool}-{i}-{copy}";
                    var started = CreateEvent(tool: tool, runKey: runKey, status: RunStatus.Started, at: at, installationId: $"inst-{i % 2}",
                        osName: i % 3 == 0 ? null : "linux", isCi: i % 4 == 0);
                    started.Properties = JsonDocument.Parse(properties[i]);
                    var ended = CreateEvent(tool: tool, runKey: runKey, status: i % 5 == 0 ? RunStatus.Failed : RunStatus.Succeeded, at: at.AddMinutes(1),
                        installationId: $"inst-{i % 2}", osName: i % 3 == 0 ? null : "linux", isCi: i % 4 == 0, command: i % 6 == 0 ? null : "run",
                        plugins: tool is "jetty" ? [Plugin("postgres", "connector"), Plugin("kafka", "connector"), Plugin("Z-upper", "connector")]
                            : tool is "meltano" ? [Plugin("tap-github", "extractors"), Plugin("target-duckdb", "loaders"), Plugin("dbt", "")] : null);
                    // The run's second event names another project: the run's project is the greatest.
                    ended.Properties = properties[i].Contains("\"p-dbt\"", StringComparison.Ordinal) ? JsonDocument.Parse("""{"projectId": "p-dbt-2"}""") : null;
                    events.AddRange([started, ended]);
                }
            }
        }

        var (inMemory, rebuilt) = await BothWaysAsync(events);

        Assert.Contains(inMemory, r => r.Contains("|model_status|15.0|", StringComparison.Ordinal));
        Assert.Contains(inMemory, r => r.Contains("|package|(unknown, hashed)|", StringComparison.Ordinal));
        Assert.Contains(inMemory, r => r.Contains("|connector_stack|Z-upper + kafka + postgres|", StringComparison.Ordinal));
        Assert.Equal(rebuilt, inMemory);
    }

    private static PluginRef Plugin(string name, string type) => new() { Name = name, Type = type };

    /// <summary>Bulk-loads <paramref name="events"/> (feature rollups built in memory), then rebuilds every rollup in SQL; both snapshots.</summary>
    private async Task<(List<string> InMemory, List<string> Rebuilt)> BothWaysAsync(List<TelemetryEvent> events)
    {
        await _db.ResetAsync();
        var writer = CreateWriter(_db, new FakeTimeProvider(new DateTimeOffset(s_now)));
        await using (var conn = await _db.DataSource.OpenConnectionAsync())
        {
            Assert.True(await BulkRunDerivation.AppliesToAsync(conn, default), "the load would build the rollups in SQL: the comparison would test nothing");
        }
        await writer.BulkLoadAsync(Chunks(events, 1_000), null, default);
        var inMemory = await FeatureRowsAsync();

        await TestRollups.CreateRefresher(_db).RebuildAllAsync(default);

        return (inMemory, await FeatureRowsAsync());
    }

    /// <summary>Every feature rollup row as text, NULL written as such (not as the empty string), in a fixed order.</summary>
    private async Task<List<string>> FeatureRowsAsync()
    {
        var rows = new List<string>();
        foreach (var (table, columns) in new[] { ("rollup_feature_days", UsageDashboard.Rollups.RollupSql.FeatureDaysColumns),
            ("rollup_feature_months", UsageDashboard.Rollups.RollupSql.FeatureMonthsColumns) })
        {
            await using var cmd = _db.DataSource.CreateCommand($"SELECT {columns} FROM {table} ORDER BY {columns}");
            await using var reader = await cmd.ExecuteReaderAsync();
            while (await reader.ReadAsync())
            {
                var values = new object[reader.FieldCount];
                reader.GetValues(values);
                rows.Add(table + ":|" + string.Join("|", values.Select(v => v is DBNull ? "NULL" : Convert.ToString(v, System.Globalization.CultureInfo.InvariantCulture))) + "|");
            }
        }
        return rows;
    }

    private static async IAsyncEnumerable<IReadOnlyList<TelemetryEvent>> Chunks(List<TelemetryEvent> events, int size)
    {
        await Task.Yield();
        for (var i = 0; i < events.Count; i += size)
        {
            yield return events.GetRange(i, Math.Min(size, events.Count - i));
        }
    }
}
