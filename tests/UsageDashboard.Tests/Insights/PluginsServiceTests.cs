using UsageDashboard.Insights;
using UsageDashboard.Store;
using UsageDashboard.Tests.Infrastructure;
using static UsageDashboard.Tests.Infrastructure.TestEvents;

namespace UsageDashboard.Tests.Insights;

public sealed class PluginsServiceTests : IClassFixture<PluginsServiceTests.Db>
{
    /// <summary>
    /// Meltano runs in 2026-10-26 – 2026-11-01. tap-github 1.4.2: inst-1 2 succeeded (linux), inst-2 1 failed
    /// (macos, TapError), plus one success 20 days earlier (its first sighting). tap-github 1.5.0, first seen
    /// today: inst-1 succeeded, inst-3 aborted (linux). target-postgres 2.0.0: inst-1 1 succeeded.
    /// </summary>
    public sealed class Db : DatabaseFixture
    {
        public override async Task InitializeAsync()
        {
            await base.InitializeAsync();
            static TelemetryEvent Run(string inst, DateTime at, string version, string status = RunStatus.Succeeded, string os = "linux", string? error = null, string plugin = "tap-github") =>
                CreateEvent(tool: "meltano", installationId: inst, at: at, status: status, osName: os, errorType: error,
                    plugins: [new PluginRef { Name = plugin, Type = plugin.StartsWith("tap", StringComparison.Ordinal) ? "extractors" : "loaders", Version = version }]);
            await CreateWriter(this).WriteAsync(
            [
                Run("inst-1", T0.AddDays(-1), "1.4.2"),
                Run("inst-1", T0.AddDays(-2), "1.4.2"),
                Run("inst-2", T0.AddDays(-1), "1.4.2", RunStatus.Failed, os: "macos", error: "TapError"),
                Run("inst-1", T0.AddDays(-20), "1.4.2"),
                Run("inst-1", T0, "1.5.0"),
                Run("inst-3", T0, "1.5.0", RunStatus.Aborted),
                Run("inst-1", T0.AddDays(-1), "2.0.0", plugin: "target-postgres"),
            ], default);
            await TestRollups.RefreshAsync(this);
        }
    }

    private static readonly DateOnly s_today = DateOnly.FromDateTime(T0);
    private readonly PluginsService _service;

    public PluginsServiceTests(Db db) => _service = new PluginsService(db.DataSource, new FakeTimeProvider(new DateTimeOffset(T0)), TestRollups.Source, TestCatalog.Names);

    private static InsightQuery Week(string? os = null) => new() { Range = "7d", From = s_today.AddDays(-6), To = s_today, Os = os };

    [Fact]
    public async Task Get_HandBuiltRuns_RanksByInstallationsWithRatesAndLatestVersion()
    {
        var data = await _service.GetAsync(Week(), 100, default);

        Assert.Equal(["tap-github", "target-postgres"], data.Plugins.Select(p => p.Name));
        var tap = data.Plugins[0];
        Assert.Equal(("meltano", "extractors"), (tap.Tool, tap.Type));
        Assert.Equal(3, tap.Installations);
        Assert.Equal(new Outcomes(5, 3, 1, 1), tap.Outcomes);
        Assert.Equal(0.6, tap.Outcomes.SuccessRate.Value);
        Assert.Equal(0.230724, tap.Outcomes.SuccessRate.Interval!.Value.Low, 5);
        Assert.Equal(0.882379, tap.Outcomes.SuccessRate.Interval!.Value.High, 5);
        Assert.Equal(0.2, tap.Outcomes.AbortedRate.Value);
        Assert.Equal("1.5.0", tap.LatestVersion);
    }

    [Fact]
    public async Task Get_OsFilter_JoinsRunsAndKeepsOnlyThatOs()
    {
        var data = await _service.GetAsync(Week(os: "macos"), 100, default);

        var tap = Assert.Single(data.Plugins);
        Assert.Equal(new Outcomes(1, 0, 1, 0), tap.Outcomes);
    }

    [Fact]
    public async Task GetPlugin_TapGithub_VersionsMatrixErrorsAndAdoption()
    {
        var data = await _service.GetPluginAsync(Week(), "tap-github", default);

        Assert.Equal(new Outcomes(5, 3, 1, 1), data.Current);
        Assert.Equal(["meltano"], data.PluginTools);
        Assert.Equal(["1.5.0", "1.4.2"], data.Versions.Select(v => v.Version));
        Assert.Equal(new Outcomes(2, 1, 0, 1), data.Versions[0].Outcomes);
        Assert.Equal(T0, data.Versions[0].FirstSeen);
        Assert.Equal(T0.AddDays(-20), data.Versions[1].FirstSeen);
        Assert.Equal(2, data.Versions[1].Installations);
        var cells = data.Matrix.ToDictionary(c => (c.Os, c.Version), c => c.Outcomes.FailureRate.Value);
        Assert.Equal(0.0, cells[("linux", "1.4.2")]);
        Assert.Equal(1.0, cells[("macos", "1.4.2")]);
        Assert.Equal(0.5, cells[("linux", "1.5.0")]);
        Assert.Equal(["(not reported)", "TapError"], data.Errors.Select(e => e.ErrorType).Order(StringComparer.Ordinal));
        Assert.Equal(2, data.Adoption.Single(a => a.Start == s_today).InstallationsByVersion["1.5.0"]);
        Assert.Equal(2, data.Adoption.Single(a => a.Start == s_today.AddDays(-1)).InstallationsByVersion["1.4.2"]);
    }

    [Fact]
    public async Task PluginDetailViewModel_NewVersionInRange_MarkedOnAdoptionChart()
    {
        var model = PluginDetailViewModel.Create(await _service.GetPluginAsync(Week(), "tap-github", default));

        using var option = System.Text.Json.JsonDocument.Parse(model.AdoptionChartJson);
        var marks = option.RootElement.GetProperty("series")[0].GetProperty("markLine").GetProperty("data").EnumerateArray()
            .Select(m => (m.GetProperty("name").GetString(), m.GetProperty("xAxis").GetString())).ToList();
        Assert.Equal([("1.5.0", "2026-11-01")], marks);
        Assert.True(model.Versions[0].FirstSeenInPeriod);
        Assert.Equal("100.0%", model.Matrix.Single(r => r.Os == "macos").Cells[1]!.Value);
    }
}
