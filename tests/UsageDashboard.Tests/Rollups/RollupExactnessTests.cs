using System.Text.Json;
using System.Text.Json.Nodes;
using UsageDashboard.Demo;
using UsageDashboard.Insights;
using UsageDashboard.Rollups;
using UsageDashboard.Store;
using UsageDashboard.Tests.Infrastructure;
using static UsageDashboard.Tests.Infrastructure.TestEvents;

namespace UsageDashboard.Tests.Rollups;

/// <summary>
/// The rollups must give exactly the numbers the raw runs give. Demo telemetry is written batch by batch
/// (so the rollups are built incrementally, slice by slice, with refreshes in between), then late
/// history, re-sent batches and ends-before-starts arrive; after that every page's data, read from the
/// rollups, must equal the same page computed from <c>runs</c> on the fly, over random filter combinations.
/// </summary>
public sealed partial class RollupExactnessTests : IClassFixture<RollupExactnessTests.Db>
{
    public static readonly DateTime End = new(2026, 11, 20, 15, 30, 0, DateTimeKind.Utc);
    public static DateOnly Today => DateOnly.FromDateTime(End);

    public sealed class Db : DatabaseFixture
    {
        public override async Task InitializeAsync()
        {
            await base.InitializeAsync();
            var time = new FakeTimeProvider(new DateTimeOffset(End));
            var writer = CreateWriter(this, time);
            var refresher = TestRollups.CreateRefresher(this);
            var events = DemoDataGenerator.Generate(new DemoOptions { Events = 24_000, Days = 75, Seed = 11, End = End }).ToList();
            // The newest two thirds arrive first, in batches, with refreshes in between: rollups built slice by slice.
            var recent = events.Where(e => e.OccurredAt >= End.AddDays(-50)).ToList();
            var history = events.Where(e => e.OccurredAt < End.AddDays(-50)).ToList();
            for (var i = 0; i < recent.Count; i += 2_000)
            {
                await writer.WriteAsync(recent.Skip(i).Take(2_000).ToList(), default);
                if (i % 6_000 == 0)
                {
                    await refresher.RefreshAsync(default);
                }
            }
            await refresher.RefreshAsync(default);
            // Late history (an import of older telemetry) and a retried batch (all duplicates).
            await writer.WriteAsync(history, default);
            await writer.WriteAsync(recent.Take(1_500).ToList(), default);
            // A run whose end arrives before its start, across midnight: it moves from one day to the previous.
            var midnight = new DateTime(2026, 11, 10, 0, 0, 0, DateTimeKind.Utc);
            await writer.WriteAsync([CreateEvent(tool: "dbt", installationId: "late-starter", runKey: "cross-midnight",
                at: midnight.AddMinutes(10), status: RunStatus.Failed, command: "build", durationMs: 1_200_000)], default);
            await refresher.RefreshAsync(default);
            await writer.WriteAsync([CreateEvent(tool: "dbt", installationId: "late-starter", runKey: "cross-midnight",
                at: midnight.AddMinutes(-10), status: RunStatus.Started, command: "build")], default);
            await refresher.RefreshAsync(default);
            // The same across a month boundary: the day bit moves from November's row to October's.
            var monthStart = new DateTime(2026, 11, 1, 0, 0, 0, DateTimeKind.Utc);
            await writer.WriteAsync([CreateEvent(tool: "dbt", installationId: "month-crosser", runKey: "cross-month",
                at: monthStart.AddMinutes(5), status: RunStatus.Succeeded, command: "build", durationMs: 600_000)], default);
            await refresher.RefreshAsync(default);
            await writer.WriteAsync([CreateEvent(tool: "dbt", installationId: "month-crosser", runKey: "cross-month",
                at: monthStart.AddMinutes(-5), status: RunStatus.Started, command: "build")], default);
            await refresher.RefreshAsync(default);
            // A run whose dimensions change with a later event (its OS is the greatest its events name): the
            // rows it was counted under before must lose it, in every table, and its plugin's row with it.
            var shifted = new DateTime(2026, 11, 12, 8, 0, 0, DateTimeKind.Utc);
            var adapter = new PluginRef { Name = "os-probe-adapter", Type = "adapter", Version = "1.9.0" };
            await writer.WriteAsync([CreateEvent(tool: "dbt", installationId: "os-changer", runKey: "os-change",
                at: shifted, status: RunStatus.Started, command: "os-probe", osName: "linux", plugins: [adapter])], default);
            await refresher.RefreshAsync(default);
            await writer.WriteAsync([CreateEvent(tool: "dbt", installationId: "os-changer", runKey: "os-change",
                at: shifted.AddMinutes(3), status: RunStatus.Failed, command: "os-probe", osName: "windows", errorType: "DbtRuntimeError",
                plugins: [adapter])], default);
            await refresher.RefreshAsync(default);
        }
    }

    private readonly Db _db;

    public RollupExactnessTests(Db db) => _db = db;

    private static readonly JsonSerializerOptions s_json = new() { WriteIndented = false };

    /// <summary>JSON with object keys sorted: dictionaries filled from rows in whatever order the plan returns them.</summary>
    private static string Json(object value) => Canonical(JsonNode.Parse(JsonSerializer.Serialize(value, value.GetType(), s_json)))?.ToJsonString() ?? "null";

    private static JsonNode? Canonical(JsonNode? node) => node switch
    {
        JsonObject o => new JsonObject(o.OrderBy(p => p.Key, StringComparer.Ordinal)
            .Select(p => KeyValuePair.Create(p.Key, Canonical(p.Value?.DeepClone())))),
        JsonArray a => new JsonArray(a.Select(x => Canonical(x?.DeepClone())).ToArray()),
        _ => node?.DeepClone(),
    };

    private (OverviewService, CommandsService, PluginsService, InstallationsService, EnvironmentsService) Services(bool rollups)
    {
        var time = new FakeTimeProvider(new DateTimeOffset(End));
        var source = RollupSource.Create(rollups);
        return (new OverviewService(_db.DataSource, time, source), new CommandsService(_db.DataSource, time, source),
            new PluginsService(_db.DataSource, time, source, TestCatalog.Names), new InstallationsService(_db.DataSource, time, source),
            new EnvironmentsService(_db.DataSource, time, source));
    }

    /// <summary>Random but reproducible view states: every filter, alone and combined, presets and custom ranges.</summary>
    public static TheoryData<int> Seeds() => [.. Enumerable.Range(1, 12)];

    private static InsightQuery RandomQuery(int seed)
    {
        var random = new Random(seed);
        string? Pick(params string?[] values) => values[random.Next(values.Length)];
        var tool = Pick(null, null, "dbt", "meltano", "evidently", "jetty");
        var range = Pick("7d", "30d", "90d", "12m", null);
        string? from = null, to = null;
        if (range is null)
        {
            var start = Today.AddDays(-random.Next(5, 80));
            from = start.ToString("yyyy-MM-dd", System.Globalization.CultureInfo.InvariantCulture);
            to = start.AddDays(random.Next(0, 40)).ToString("yyyy-MM-dd", System.Globalization.CultureInfo.InvariantCulture);
        }
        var env = Pick("all", "all", "ci", "notci");
        var os = Pick(null, null, "linux", "mac", "windows");
        var version = tool == "dbt" ? Pick(null, "1.9.1", "1.7.17") : null;
        var compare = Pick(null, "previous");
        // Drawn after the others, so the earlier seeds' views stay what they were.
        var runtime = Pick(null, null, null, "python", "node");
        var runtimeVersion = Pick(null, null, null, "3.11", "3.12.8", "3", "3.1");
        var environment = Pick(null, null, null, "dev", "prod", "all");
        return InsightQuery.Parse(tool, range, from, to, env, os, version, compare, Today, null, runtime, runtimeVersion, environment);
    }

    [Theory]
    [MemberData(nameof(Seeds))]
    public async Task Pages_RandomFilters_RollupsEqualRawRuns(int seed)
    {
        var query = RandomQuery(seed);
        var (overview, commands, plugins, installations, environments) = Services(rollups: true);
        var (rawOverview, rawCommands, rawPlugins, rawInstallations, rawEnvironments) = Services(rollups: false);
        var rule = ActiveRule.All[seed % ActiveRule.All.Count];

        Assert.Equal(Json(await rawOverview.GetAsync(query, default)), Json(await overview.GetAsync(query, default)));
        Assert.Equal(Json(await rawCommands.GetAsync(query, 200, default)), Json(await commands.GetAsync(query, 200, default)));
        Assert.Equal(Json(await rawPlugins.GetAsync(query, 200, default)), Json(await plugins.GetAsync(query, 200, default)));
        Assert.Equal(Json(await rawInstallations.GetAsync(query, rule, default)), Json(await installations.GetAsync(query, rule, default)));
        Assert.Equal(Json(await rawEnvironments.GetAsync(query, default)), Json(await environments.GetAsync(query, default)));
        var top = (await rawCommands.GetAsync(query, 3, default)).Commands.Select(c => c.Command).FirstOrDefault() ?? "run";
        Assert.Equal(Json(await rawCommands.GetCommandAsync(query, top, default)), Json(await commands.GetCommandAsync(query, top, default)));
    }

    /// <summary>Runtime, runtime version and build environment views that hold runs (random seeds may draw empty ones).</summary>
    public static TheoryData<string?, string?, string?, string?> PlatformViews() => new()
    {
        { null, "python", "3.11", null },
        { "meltano", null, "3.12", null },
        { "dbt", "python", "3", null },
        { "jetty", null, null, null },
        { "jetty", null, null, "dev" },
        { "jetty", null, null, "all" },
    };

    [Theory]
    [MemberData(nameof(PlatformViews))]
    public async Task Pages_RuntimeAndBuildFilters_RollupsEqualRawRunsAndHoldRuns(string? tool, string? runtime, string? runtimeVersion, string? environment)
    {
        var query = InsightQuery.Parse(tool, "90d", null, null, null, null, null, null, Today, null, runtime, runtimeVersion, environment);
        var (overview, commands, plugins, installations, environments) = Services(rollups: true);
        var (rawOverview, rawCommands, rawPlugins, rawInstallations, rawEnvironments) = Services(rollups: false);

        var data = await overview.GetAsync(query, default);
        Assert.True(data.Current.Runs > 0);
        Assert.Equal(Json(await rawOverview.GetAsync(query, default)), Json(data));
        Assert.Equal(Json(await rawCommands.GetAsync(query, 200, default)), Json(await commands.GetAsync(query, 200, default)));
        Assert.Equal(Json(await rawPlugins.GetAsync(query, 200, default)), Json(await plugins.GetAsync(query, 200, default)));
        Assert.Equal(Json(await rawInstallations.GetAsync(query, ActiveRuleKind.AnyEvent, default)), Json(await installations.GetAsync(query, ActiveRuleKind.AnyEvent, default)));
        Assert.Equal(Json(await rawEnvironments.GetAsync(query, default)), Json(await environments.GetAsync(query, default)));
        await AssertDetailPagesEqualRawAsync(query, seed: 7);
    }

    /// <summary>Ranges that start in one month and end in the next: month rows of both months, weeks cut by the boundary.</summary>
    public static TheoryData<string?, string, string, string, string?> MonthBoundaryRanges() => new()
    {
        { "dbt", "2026-10-25", "2026-11-05", "all", null },
        { null, "2026-09-20", "2026-11-15", "notci", null },
        { "meltano", "2026-10-31", "2026-11-01", "all", "linux" },
        { null, "2026-09-01", "2026-11-20", "ci", null },
    };

    private static InsightQuery BoundaryQuery(string? tool, string from, string to, string env, string? os) =>
        InsightQuery.Parse(tool, null, from, to, env, os, null, null, Today);

    /// <summary>
    /// Subjects each detail page is compared for: the most used, the one with the most failures (so error
    /// types are never an empty comparison) and a random one, among the commands and plugins of the view.
    /// </summary>
    private async Task<(List<string> Commands, List<string> Plugins)> DetailSubjectsAsync(InsightQuery query, int seed)
    {
        var (_, rawCommands, rawPlugins, _, _) = Services(rollups: false);
        var random = new Random(seed);
        var commands = (await rawCommands.GetAsync(query, 1000, default)).Commands;
        var plugins = (await rawPlugins.GetAsync(query, 1000, default)).Plugins;
        List<string> Pick(IReadOnlyList<(string Name, long Runs, long Failures)> rows, string fallback) => rows.Count == 0
            ? [fallback]
            : new[]
            {
                rows.MaxBy(r => r.Runs).Name, rows.MaxBy(r => r.Failures).Name, rows[random.Next(rows.Count)].Name,
            }.Distinct(StringComparer.Ordinal).ToList();
        return (
            Pick(commands.Select(c => (c.Command, c.Current.Runs, c.Current.Failed + c.Current.Aborted)).ToList(), "run"),
            Pick(plugins.Select(p => (p.Name, p.Outcomes.Runs, p.Outcomes.Failed + p.Outcomes.Aborted)).ToList(), "tap-github"));
    }

    private async Task AssertDetailPagesEqualRawAsync(InsightQuery query, int seed)
    {
        var (_, commands, plugins, _, _) = Services(rollups: true);
        var (_, rawCommands, rawPlugins, _, _) = Services(rollups: false);
        var (commandNames, pluginNames) = await DetailSubjectsAsync(query, seed);

        foreach (var command in commandNames)
        {
            Assert.Equal(Json(await rawCommands.GetCommandAsync(query, command, default)), Json(await commands.GetCommandAsync(query, command, default)));
        }
        foreach (var plugin in pluginNames)
        {
            Assert.Equal(Json(await rawPlugins.GetPluginAsync(query, plugin, default)), Json(await plugins.GetPluginAsync(query, plugin, default)));
        }
    }

    [Theory]
    [MemberData(nameof(Seeds))]
    public async Task DetailPages_RandomFilters_RollupsEqualRawRuns(int seed) => await AssertDetailPagesEqualRawAsync(RandomQuery(seed), seed);

    [Theory]
    [MemberData(nameof(MonthBoundaryRanges))]
    public async Task DetailPages_RangeAcrossAMonthBoundary_RollupsEqualRawRuns(string? tool, string from, string to, string env, string? os) =>
        await AssertDetailPagesEqualRawAsync(BoundaryQuery(tool, from, to, env, os), seed: DateOnly.Parse(from, System.Globalization.CultureInfo.InvariantCulture).DayNumber);

    /// <summary>
    /// Independent of the rollups: a command's error types against the statement the page ran over
    /// <c>runs</c> before the error rollups, verbatim.
    /// </summary>
    [Theory]
    [MemberData(nameof(Seeds))]
    public async Task CommandDetail_RandomFilters_ErrorTypesEqualFormerRawStatement(int seed)
    {
        var query = RandomQuery(seed);
        var (_, commands, _, _, _) = Services(rollups: true);
        var (commandNames, _) = await DetailSubjectsAsync(query, seed);

        foreach (var command in commandNames)
        {
            var data = await commands.GetCommandAsync(query, command, default);

            await using var cmd = _db.DataSource.CreateCommand();
            var where = RawWhere(query, cmd);
            cmd.CommandText = $"""
                SELECT coalesce(r.error_type, '(not reported)'), count(*), count(DISTINCT r.installation_id), max(r.occurred_at)
                FROM runs r
                WHERE {where} AND coalesce(r.command, '(none)') = @command AND r.status IN ('failed', 'aborted')
                GROUP BY 1
                ORDER BY 2 DESC, 1
                LIMIT 10
                """;
            cmd.Parameters.AddWithValue("command", command);
            await using var reader = await cmd.ExecuteReaderAsync();
            Assert.Equal(await RowsAsync(reader, sort: false),
                data.Errors.Select(e => Row(e.ErrorType, e.Runs, e.Installations, e.LastSeen)).ToList());
        }
    }

    /// <summary>
    /// Independent of the rollups and of the bit-set counting: everything the plugin page shows against the
    /// statements it ran over <c>run_plugins</c> and <c>runs</c> before it read rollups, verbatim but split
    /// by grouping set.
    /// </summary>
    [Theory]
    [MemberData(nameof(Seeds))]
    public async Task PluginDetail_RandomFilters_EqualsFormerRawStatements(int seed)
    {
        var query = RandomQuery(seed);
        var (_, _, plugins, _, _) = Services(rollups: true);
        var (_, pluginNames) = await DetailSubjectsAsync(query, seed);

        foreach (var plugin in pluginNames)
        {
            var data = await plugins.GetPluginAsync(query, plugin, default);

            await using var cmd = _db.DataSource.CreateCommand();
            var where = RawPluginWhere(query, cmd);
            const string outcomes = """
                count(*), count(*) FILTER (WHERE rp.status = 'succeeded'), count(*) FILTER (WHERE rp.status = 'failed'),
                count(*) FILTER (WHERE rp.status = 'aborted')
                """;
            const string installations = "count(DISTINCT rp.tool || ':' || rp.installation_id)";
            const string version = "coalesce(nullif(rp.version, ''), 'unknown')";
            var toolOnly = query.Tool is null ? "" : " AND rp.tool = @tool";
            cmd.CommandText = $"""
                SELECT {outcomes}, {installations}
                FROM run_plugins rp JOIN runs r ON r.id = rp.run_id WHERE {where};

                SELECT {version}, {outcomes}, {installations}
                FROM run_plugins rp JOIN runs r ON r.id = rp.run_id WHERE {where} GROUP BY 1;

                SELECT coalesce(r.os_name, 'unknown'), {version}, {outcomes}
                FROM run_plugins rp JOIN runs r ON r.id = rp.run_id WHERE {where} GROUP BY 1, 2;

                SELECT date_trunc(@grain, rp.occurred_at AT TIME ZONE 'UTC')::date, {version}, {installations}
                FROM run_plugins rp JOIN runs r ON r.id = rp.run_id WHERE {where} GROUP BY 1, 2;

                SELECT {version}, min(rp.occurred_at)
                FROM run_plugins rp
                WHERE rp.name = @plugin{toolOnly}
                GROUP BY 1;

                SELECT coalesce(r.error_type, '(not reported)'), count(*), count(DISTINCT rp.installation_id), max(rp.occurred_at)
                FROM run_plugins rp JOIN runs r ON r.id = rp.run_id
                WHERE {where} AND rp.status IN ('failed', 'aborted')
                GROUP BY 1
                ORDER BY 2 DESC, 1
                LIMIT 10;

                SELECT coalesce(array_agg(DISTINCT rp.tool), ARRAY[]::text[]), coalesce(array_agg(DISTINCT rp.type) FILTER (WHERE rp.type <> ''), ARRAY[]::text[])
                FROM run_plugins rp
                WHERE rp.occurred_at >= @from AND rp.occurred_at < @to AND rp.name = @plugin{toolOnly};
                """;
            cmd.Parameters.AddWithValue("plugin", plugin);
            cmd.Parameters.AddWithValue("grain", TimeBuckets.SqlUnit(data.Grain));
            await using var reader = await cmd.ExecuteReaderAsync();

            Assert.Equal(await RowsAsync(reader), [Row(data.Current.Runs, data.Current.Succeeded, data.Current.Failed, data.Current.Aborted, data.Installations)]);
            await reader.NextResultAsync();
            Assert.Equal(await RowsAsync(reader), Sorted(data.Versions.Select(v =>
                Row(v.Version, v.Outcomes.Runs, v.Outcomes.Succeeded, v.Outcomes.Failed, v.Outcomes.Aborted, v.Installations))));
            await reader.NextResultAsync();
            Assert.Equal(await RowsAsync(reader), Sorted(data.Matrix.Select(c =>
                Row(c.Os, c.Version, c.Outcomes.Runs, c.Outcomes.Succeeded, c.Outcomes.Failed, c.Outcomes.Aborted))));
            await reader.NextResultAsync();
            Assert.Equal(await RowsAsync(reader), Sorted(data.Adoption.SelectMany(b =>
                b.InstallationsByVersion.Select(v => Row(b.Start, v.Key, v.Value)))));
            await reader.NextResultAsync();
            var firstSeen = (await RowsAsync(reader)).ToDictionary(r => r[..r.IndexOf('|', StringComparison.Ordinal)], StringComparer.Ordinal);
            Assert.All(data.Versions, v => Assert.Equal(firstSeen[v.Version], Row(v.Version, v.FirstSeen!.Value)));
            await reader.NextResultAsync();
            Assert.Equal(await RowsAsync(reader, sort: false), data.Errors.Select(e => Row(e.ErrorType, e.Runs, e.Installations, e.LastSeen)).ToList());
            await reader.NextResultAsync();
            Assert.Equal(await RowsAsync(reader), [Row(string.Join(",", data.PluginTools), string.Join(",", data.Types))]);
        }
    }

    /// <summary>
    /// With rollups on, neither detail page reads <c>runs</c> or <c>run_plugins</c>: a role that may read
    /// every table but those two sees both pages; rollups off, the same role is refused.
    /// </summary>
    [Fact]
    public async Task DetailPages_RollupsEnabled_NeverReadRunsOrRunPlugins()
    {
        var builder = new Npgsql.NpgsqlConnectionStringBuilder(_db.ConnectionString);
        var role = "rollups_only_" + builder.Database;
        await using (var grant = _db.DataSource.CreateCommand($"""
            DO $$ BEGIN CREATE ROLE {role} LOGIN; EXCEPTION WHEN duplicate_object THEN NULL; END $$;
            GRANT SELECT ON ALL TABLES IN SCHEMA public TO {role};
            REVOKE ALL ON runs, run_plugins FROM {role};
            """))
        {
            await grant.ExecuteNonQueryAsync();
        }
        builder.Username = role;
        await using var restricted = Npgsql.NpgsqlDataSource.Create(builder.ConnectionString);
        var time = new FakeTimeProvider(new DateTimeOffset(End));
        CommandsService Commands(bool rollups) => new(restricted, time, RollupSource.Create(rollups));
        PluginsService Plugins(bool rollups) => new(restricted, time, RollupSource.Create(rollups), TestCatalog.Names);
        var query = InsightQuery.Parse(null, "90d", null, null, null, "linux", null, null, Today);

        var command = await Commands(rollups: true).GetCommandAsync(query, "run", default);
        var plugin = await Plugins(rollups: true).GetPluginAsync(query, DemoDataGenerator.BrokenPluginName, default);

        Assert.NotEmpty(command.Errors);
        Assert.NotEmpty(plugin.Errors);
        Assert.NotEmpty(plugin.Versions);
        var refused = await Assert.ThrowsAsync<Npgsql.PostgresException>(() => Plugins(rollups: false).GetPluginAsync(query, DemoDataGenerator.BrokenPluginName, default));
        Assert.Equal(Npgsql.PostgresErrorCodes.InsufficientPrivilege, refused.SqlState);
    }

    /// <summary>The plugin page's former filters: tool and CI on the plugin row, OS and tool version on its run.</summary>
    private static string RawPluginWhere(InsightQuery query, Npgsql.NpgsqlCommand cmd) => RawWhere(query, cmd, "rp") + " AND rp.name = @plugin";

    /// <summary>One row as text, so SQL rows and the services' records compare as plain strings.</summary>
    private static string Row(params object[] values) => string.Join("|", values.Select(v => v switch
    {
        DateTime t => t.ToString("yyyy-MM-dd HH:mm:ss.ffffff", System.Globalization.CultureInfo.InvariantCulture),
        DateOnly d => d.ToString("yyyy-MM-dd", System.Globalization.CultureInfo.InvariantCulture),
        string[] a => string.Join(",", a.Order(StringComparer.Ordinal)),
        IFormattable f => f.ToString(null, System.Globalization.CultureInfo.InvariantCulture),
        _ => v.ToString(),
    }));

    private static List<string> Sorted(IEnumerable<string> rows) => rows.Order(StringComparer.Ordinal).ToList();

    /// <summary>The current result's rows as <see cref="Row"/> text; <c>date</c> columns read as <see cref="DateOnly"/>.</summary>
    private static async Task<List<string>> RowsAsync(Npgsql.NpgsqlDataReader reader, bool sort = true)
    {
        var rows = new List<string>();
        while (await reader.ReadAsync())
        {
            var values = Enumerable.Range(0, reader.FieldCount)
                .Select(i => reader.GetDataTypeName(i) == "date" ? reader.GetFieldValue<DateOnly>(i) : reader.GetValue(i)).ToArray();
            rows.Add(Row(values));
        }
        return sort ? Sorted(rows) : rows;
    }

    /// <summary>
    /// The period's filters as a condition on <c>runs r</c>, written out by hand (not with the app's SQL
    /// builders); time, tool and CI on <paramref name="alias"/> (<c>rp</c> for a plugin row), OS and tool version on the run.
    /// </summary>
    private static string RawWhere(InsightQuery query, Npgsql.NpgsqlCommand cmd, string alias = "r")
    {
        var where = $"{alias}.occurred_at >= @from AND {alias}.occurred_at < @to";
        cmd.Parameters.AddWithValue("from", query.FromUtc);
        cmd.Parameters.AddWithValue("to", query.ToUtcExclusive);
        if (query.Tool is not null)
        {
            where += $" AND {alias}.tool = @tool";
            cmd.Parameters.AddWithValue("tool", query.Tool);
        }
        if (query.Os is not null)
        {
            where += " AND r.os_name = @os";
            cmd.Parameters.AddWithValue("os", query.Os);
        }
        if (query.Version is not null)
        {
            where += " AND r.tool_version = @version";
            cmd.Parameters.AddWithValue("version", query.Version);
        }
        if (query.Runtime is not null)
        {
            where += " AND r.runtime_name = @runtime";
            cmd.Parameters.AddWithValue("runtime", query.Runtime);
        }
        if (query.RuntimeVersion is not null)
        {
            // The version itself or a sub-version: 3.1 is not a prefix of 3.11.
            where += " AND (r.runtime_version = @runtime_version OR r.runtime_version LIKE @runtime_version || '.%')";
            cmd.Parameters.AddWithValue("runtime_version", query.RuntimeVersion);
        }
        if (query.ToolEnvironment is { } environment && environment != "all")
        {
            where += " AND r.environment = @environment";
            cmd.Parameters.AddWithValue("environment", environment);
        }
        return where + query.Environment switch { EnvironmentFilter.Ci => $" AND {alias}.is_ci", EnvironmentFilter.NotCi => $" AND NOT {alias}.is_ci", _ => "" };
    }

    /// <summary>Jetty's dev builds are not active installations unless the view names an environment: a condition on <c>runs r</c>.</summary>
    private static string ActiveBuilds(InsightQuery query) =>
        query.Tool == "jetty" && query.ToolEnvironment is null ? " AND r.environment IS DISTINCT FROM 'dev'" : "";
}
