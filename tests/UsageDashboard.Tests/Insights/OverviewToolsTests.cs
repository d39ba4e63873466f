using UsageDashboard.Insights;
using UsageDashboard.Store;
using UsageDashboard.Tests.Infrastructure;
using static UsageDashboard.Tests.Infrastructure.TestEvents;

namespace UsageDashboard.Tests.Insights;

public sealed class OverviewToolsTests : IClassFixture<OverviewToolsTests.Db>
{
    /// <summary>dbt: inst-1 and inst-2 succeed this week, inst-1 failed last week; meltano: m-1 one aborted run this week.</summary>
    public sealed class Db : DatabaseFixture
    {
        public override async Task InitializeAsync()
        {
            await base.InitializeAsync();
            await CreateWriter(this).WriteAsync(
            [
                CreateEvent(installationId: "inst-1", at: T0.AddDays(-1)),
                CreateEvent(installationId: "inst-2", at: T0.AddDays(-2)),
                CreateEvent(installationId: "inst-1", at: T0.AddDays(-8), status: RunStatus.Failed),
                CreateEvent(tool: "meltano", installationId: "m-1", at: T0.AddDays(-1), status: RunStatus.Aborted),
            ], default);
            await TestRollups.RefreshAsync(this);
        }
    }

    private static readonly DateOnly s_today = DateOnly.FromDateTime(T0);
    private readonly OverviewService _service;

    public OverviewToolsTests(Db db) => _service = new OverviewService(db.DataSource, new FakeTimeProvider(new DateTimeOffset(T0)), TestRollups.Source);

    [Fact]
    public async Task Get_AllTools_ComparesToolsSideBySideWithPreviousPeriod()
    {
        var data = await _service.GetAsync(new InsightQuery { Range = "7d", From = s_today.AddDays(-6), To = s_today }, default);

        Assert.Equal(
        [
            new ToolComparison("dbt", 2, new Outcomes(2, 2, 0, 0), 1, new Outcomes(1, 0, 1, 0)),
            new ToolComparison("meltano", 1, new Outcomes(1, 0, 0, 1), 0, Outcomes.Zero),
        ], data.ToolComparison);
    }

    [Fact]
    public async Task Get_OneTool_NoComparison()
    {
        var data = await _service.GetAsync(new InsightQuery { Tool = "dbt", Range = "7d", From = s_today.AddDays(-6), To = s_today }, default);

        Assert.Empty(data.ToolComparison);
    }
}
