using System.Text.Json;
using System.Text.Json.Nodes;
using UsageDashboard.Catalog;
using UsageDashboard.Demo;
using UsageDashboard.Insights;
using UsageDashboard.Rollups;
using UsageDashboard.Tests.Infrastructure;
using static UsageDashboard.Tests.Infrastructure.TestEvents;

namespace UsageDashboard.Tests.Rollups;

/// <summary>
/// A Meltano plugin page (a public name over all its variants, each stored as "name digest.variant digest" with
/// pip_url digests for versions) from the in-memory rollups and reach indexes, against hand-written statements over
/// <c>run_plugins</c> and <c>runs</c>: per variant, per pip_url fingerprint, installations (each once across variants),
/// outcomes, adoption and error types.
/// </summary>
public sealed class MeltanoPluginExactnessTests : IClassFixture<MeltanoPluginExactnessTests.Db>
{
    public static readonly DateTime End = new(2026, 11, 20, 15, 30, 0, DateTimeKind.Utc);
    public static DateOnly Today => DateOnly.FromDateTime(End);

    public sealed class Db : DatabaseFixture
    {
        public override async Task InitializeAsync()
        {
            await base.InitializeAsync();
            var writer = CreateWriter(this, new FakeTimeProvider(new DateTimeOffset(End)));
            var events = DemoDataGenerator.Generate(new DemoOptions { Events = 30_000, Days = 75, Seed = 7, End = End }).ToList();
            for (var i = 0; i < events.Count; i += 5_000)
            {
                await writer.WriteAsync(events.Skip(i).Take(5_000).ToList(), default);
            }
            await TestRollups.CreateRefresher(this).RefreshAsync(default);
        }
    }

    private readonly Db _db;

    public MeltanoPluginExactnessTests(Db db) => _db = db;

    private PluginsService Plugins(bool rollups) =>
        new(_db.DataSource, new FakeTimeProvider(new DateTimeOffset(End)), RollupSource.Create(rollups), TestCatalog.Names);

    public static TheoryData<string, string?, string?, string?, string?, string?> Views() => new()
    {
        { DemoDataGenerator.PinnedPluginName, "meltano", "30d", null, null, null },
        { DemoDataGenerator.BrokenPluginName, "meltano", "90d", null, null, null },
        { DemoDataGenerator.PinnedPluginName, "meltano", "90d", "ci", null, null },
        { DemoDataGenerator.BrokenPluginName, null, "30d", null, null, null },
        { DemoDataGenerator.PinnedPluginName, "meltano", "7d", null, "linux", null },
        { DemoDataGenerator.PinnedPluginName, "meltano", null, "notci", null, "2026-10-20" },
    };

    [Theory]
    [MemberData(nameof(Views))]
    public async Task MeltanoPluginPage_RollupsAndIndexes_EqualRawStatements(string plugin, string? tool, string? range, string? env, string? os, string? from)
    {
        var query = InsightQuery.Parse(tool, range, from, from is null ? null : "2026-11-10", env, os, null, null, Today);
        var data = await Plugins(rollups: true).GetPluginAsync(query, plugin, default);
        var list = await Plugins(rollups: true).GetAsync(query, 1000, default);
        var names = TestCatalog.Names;
        var digest = PluginCatalog.Sha256Hex(plugin);

        await using var cmd = _db.DataSource.CreateCommand();
        var where = $"rp.occurred_at >= @from AND rp.occurred_at < @to AND (rp.name = @plugin OR rp.name = @digest OR starts_with(rp.name, @digest || '.'))";
        cmd.Parameters.AddWithValue("from", query.FromUtc);
        cmd.Parameters.AddWithValue("to", query.ToUtcExclusive);
        cmd.Parameters.AddWithValue("plugin", plugin);
        cmd.Parameters.AddWithValue("digest", digest);
        cmd.Parameters.AddWithValue("grain", TimeBuckets.SqlUnit(data.Grain));
        if (tool is not null)
        {
            where += " AND rp.tool = @tool";
            cmd.Parameters.AddWithValue("tool", tool);
        }
        if (os is not null)
        {
            where += " AND r.os_name = @os";
            cmd.Parameters.AddWithValue("os", os);
        }
        where += query.Environment switch { EnvironmentFilter.Ci => " AND rp.is_ci", EnvironmentFilter.NotCi => " AND NOT rp.is_ci", _ => "" };
        const string outcomes = """
            count(*), count(*) FILTER (WHERE rp.status = 'succeeded'), count(*) FILTER (WHERE rp.status = 'failed'),
            count(*) FILTER (WHERE rp.status = 'aborted')
            """;
        const string installations = "count(DISTINCT rp.tool || ':' || rp.installation_id)";
        const string key = "rp.name || ' ' || coalesce(nullif(rp.version, ''), 'unknown')";
        cmd.CommandText = $"""
            SELECT {outcomes}, {installations} FROM run_plugins rp JOIN runs r ON r.id = rp.run_id WHERE {where};

            SELECT {key}, {outcomes}, {installations} FROM run_plugins rp JOIN runs r ON r.id = rp.run_id WHERE {where} GROUP BY 1;

            SELECT date_trunc(@grain, rp.occurred_at AT TIME ZONE 'UTC')::date, {key}, {installations}
            FROM run_plugins rp JOIN runs r ON r.id = rp.run_id WHERE {where} GROUP BY 1, 2;

            SELECT coalesce(r.error_type, '(not reported)'), count(*), count(DISTINCT rp.tool || ':' || rp.installation_id), max(rp.occurred_at)
            FROM run_plugins rp JOIN runs r ON r.id = rp.run_id
            WHERE {where} AND rp.status IN ('failed', 'aborted')
            GROUP BY 1 ORDER BY 2 DESC, 1 LIMIT 10;

            SELECT rp.name, rp.type, {outcomes}, {installations} FROM run_plugins rp JOIN runs r ON r.id = rp.run_id WHERE {where} GROUP BY 1, 2;
            """;
        await using var reader = await cmd.ExecuteReaderAsync();

        // The label the page gives a version key: "variant · pip_url label" (every demo variant is the hub's).
        string Label(string versionKey)
        {
            var (stored, version) = (versionKey[..versionKey.IndexOf(' ', StringComparison.Ordinal)], versionKey[(versionKey.IndexOf(' ', StringComparison.Ordinal) + 1)..]);
            var variant = names.Resolve(stored).Variant;
            Assert.NotNull(variant);
            return $"{variant} · {(version == "unknown" ? "no pip_url" : names.VersionLabel(stored, version))}";
        }

        Assert.True(await reader.ReadAsync());
        Assert.Equal((reader.GetInt64(0), reader.GetInt64(1), reader.GetInt64(2), reader.GetInt64(3), reader.GetInt64(4)),
            (data.Current.Runs, data.Current.Succeeded, data.Current.Failed, data.Current.Aborted, data.Installations));
        Assert.True(data.Installations > 0);

        await reader.NextResultAsync();
        var versions = new List<string>();
        while (await reader.ReadAsync())
        {
            versions.Add(string.Join("|", Label(reader.GetString(0)), reader.GetInt64(1), reader.GetInt64(2), reader.GetInt64(3), reader.GetInt64(4), reader.GetInt64(5)));
        }
        Assert.Equal(versions.Order(StringComparer.Ordinal),
            data.Versions.Select(v => string.Join("|", v.Version, v.Outcomes.Runs, v.Outcomes.Succeeded, v.Outcomes.Failed, v.Outcomes.Aborted, v.Installations))
                .Order(StringComparer.Ordinal));

        await reader.NextResultAsync();
        var adoption = new Dictionary<string, long>(StringComparer.Ordinal);
        while (await reader.ReadAsync())
        {
            var cell = $"{reader.GetFieldValue<DateOnly>(0):yyyy-MM-dd}|{Label(reader.GetString(1))}";
            adoption[cell] = adoption.GetValueOrDefault(cell) + reader.GetInt64(2);
        }
        Assert.Equal(adoption.Select(c => $"{c.Key}|{c.Value}").Order(StringComparer.Ordinal),
            data.Adoption.SelectMany(b => b.InstallationsByVersion.Select(v => $"{b.Start:yyyy-MM-dd}|{v.Key}|{v.Value}")).Order(StringComparer.Ordinal));

        await reader.NextResultAsync();
        var errors = new List<string>();
        while (await reader.ReadAsync())
        {
            errors.Add(string.Join("|", reader.GetString(0), reader.GetInt64(1), reader.GetInt64(2), Stamp(reader.GetDateTime(3))));
        }
        Assert.Equal(errors, data.Errors.Select(e => string.Join("|", e.ErrorType, e.Runs, e.Installations, Stamp(e.LastSeen))));

        // Per variant: the ranking's (name, variant) rows against the same statement per stored name.
        await reader.NextResultAsync();
        var variants = new List<string>();
        while (await reader.ReadAsync())
        {
            variants.Add(string.Join("|", names.Resolve(reader.GetString(0), reader.GetString(1)).Display,
                reader.GetInt64(2), reader.GetInt64(3), reader.GetInt64(4), reader.GetInt64(5), reader.GetInt64(6)));
        }
        Assert.Equal(variants.Order(StringComparer.Ordinal),
            list.Plugins.Where(p => p.Key == plugin && (tool is null || p.Tool == tool))
                .Select(p => string.Join("|", p.Name, p.Outcomes.Runs, p.Outcomes.Succeeded, p.Outcomes.Failed, p.Outcomes.Aborted, p.Installations))
                .Order(StringComparer.Ordinal));
        // The page is the variants side by side, so the comparison above must have had more than one.
        if (range is "30d" or "90d" && env is null)
        {
            Assert.True(variants.Count > 1, string.Join("; ", variants));
        }
    }

    [Theory]
    [MemberData(nameof(Views))]
    public async Task MeltanoPluginPage_Rollups_EqualRawRuns(string plugin, string? tool, string? range, string? env, string? os, string? from)
    {
        var query = InsightQuery.Parse(tool, range, from, from is null ? null : "2026-11-10", env, os, null, null, Today);

        var fast = await Plugins(rollups: true).GetPluginAsync(query, plugin, default);
        var raw = await Plugins(rollups: false).GetPluginAsync(query, plugin, default);

        Assert.Equal(Json(raw), Json(fast));
    }

    private static string Stamp(DateTime t) => t.ToString("yyyy-MM-dd HH:mm:ss.ffffff", System.Globalization.CultureInfo.InvariantCulture);

    /// <summary>JSON with object keys sorted: dictionaries are filled in whatever order their rows come.</summary>
    private static string Json(object value) => Canonical(JsonNode.Parse(JsonSerializer.Serialize(value)))?.ToJsonString() ?? "null";

    private static JsonNode? Canonical(JsonNode? node) => node switch
    {
        JsonObject o => new JsonObject(o.OrderBy(p => p.Key, StringComparer.Ordinal).Select(p => KeyValuePair.Create(p.Key, Canonical(p.Value?.DeepClone())))),
        JsonArray a => new JsonArray(a.Select(x => Canonical(x?.DeepClone())).ToArray()),
        _ => node?.DeepClone(),
    };
}
