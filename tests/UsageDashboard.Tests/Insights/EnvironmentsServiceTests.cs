using UsageDashboard.Insights;
using UsageDashboard.Tests.Infrastructure;
using static UsageDashboard.Tests.Infrastructure.TestEvents;

namespace UsageDashboard.Tests.Insights;

public sealed class EnvironmentsServiceTests : IClassFixture<EnvironmentsServiceTests.Db>
{
    /// <summary>inst-1: 2 runs on linux 6.5 / python 3.11.9 / 1.8.0; inst-2: macos 14 / python 3.12.1 / 1.9.0; inst-3: linux 6.1, no runtime.</summary>
    public sealed class Db : DatabaseFixture
    {
        public override async Task InitializeAsync()
        {
            await base.InitializeAsync();
            await CreateWriter(this).WriteAsync(
            [
                CreateEvent(installationId: "inst-1", at: T0.AddDays(-1), osVersion: "6.5"),
                CreateEvent(installationId: "inst-1", at: T0.AddDays(-2), osVersion: "6.5"),
                CreateEvent(installationId: "inst-2", at: T0.AddDays(-1), osName: "macos", osVersion: "14", runtimeVersion: "3.12.1", toolVersion: "1.9.0"),
                CreateEvent(installationId: "inst-3", at: T0, osVersion: "6.1", runtimeName: null, runtimeVersion: null),
            ], default);
            await TestRollups.RefreshAsync(this);
        }
    }

    private static readonly DateOnly s_today = DateOnly.FromDateTime(T0);
    private readonly Db _db;
    private readonly EnvironmentsService _service;

    public EnvironmentsServiceTests(Db db)
    {
        _db = db;
        _service = new EnvironmentsService(db.DataSource, new FakeTimeProvider(new DateTimeOffset(T0)), TestRollups.Source);
    }

    private static InsightQuery Week(string? os = null) => new() { Range = "7d", From = s_today.AddDays(-6), To = s_today, Os = os };

    [Fact]
    public async Task Get_HandBuiltRuns_DistributesInstallationsPerDimension()
    {
        var data = await _service.GetAsync(Week(), default);

        Assert.Equal(3, data.Installations);
        DimensionValue[] Values(EnvironmentDimension d) => [.. data.Dimensions.Single(x => x.Dimension == d).Values.Select(v => v with { Outcomes = null })];
        Assert.Equal([new("linux", 2, 3), new("macos", 1, 1)], Values(EnvironmentDimension.Os));
        Assert.Equal([new("linux 6.5", 1, 2), new("linux 6.1", 1, 1), new("macos 14", 1, 1)], Values(EnvironmentDimension.OsVersion));
        Assert.Equal([new("python", 2, 3), new("unknown", 1, 1)], Values(EnvironmentDimension.Runtime));
        Assert.Equal([new("python 3.11.9", 1, 2), new("python 3.12.1", 1, 1), new("unknown ?", 1, 1)], Values(EnvironmentDimension.RuntimeVersion));
        Assert.Equal([new("1.8.0", 2, 3), new("1.9.0", 1, 1)], Values(EnvironmentDimension.ToolVersion));
        var overTime = data.Dimensions.Single(x => x.Dimension == EnvironmentDimension.Os).OverTime;
        Assert.Equal(7, overTime.Count);
        Assert.Equal(1, overTime.Single(b => b.Start == s_today.AddDays(-1)).InstallationsByVersion["macos"]);
    }

    [Fact]
    public async Task Get_OsFilter_OnlyThatOs()
    {
        var data = await _service.GetAsync(Week(os: "macos"), default);

        Assert.Equal(1, data.Installations);
        Assert.Equal(["macos"], data.Dimensions.Single(x => x.Dimension == EnvironmentDimension.Os).Values.Select(v => v.Value));
    }

    [Fact]
    public async Task ViewModel_OsToolVersionAndRuntime_RowsAndSlicesApplyFilters()
    {
        var model = EnvironmentsViewModel.Create(await _service.GetAsync(Week(), default));

        var os = model.Panels.Single(p => p.Key == "os");
        Assert.Equal("os", os.FilterParam);
        Assert.Equal("/environments?range=7d&os=linux", os.Rows[0].FilterUrl);
        Assert.Equal("/environments?range=7d&version=1.9.0", model.Panels.Single(p => p.Key == "toolversion").Rows[1].FilterUrl);
        Assert.Equal("runtime", model.Panels.Single(p => p.Key == "runtime").FilterParam);
        Assert.Equal("/environments?range=7d&runtime=python&runtimeVersion=3.11.9", model.Panels.Single(p => p.Key == "runtimeversion").Rows[0].FilterUrl);
        Assert.Null(model.Panels.Single(p => p.Key == "runtimeversion").FilterParam);
        Assert.Null(model.EmptyReason);
    }
}
