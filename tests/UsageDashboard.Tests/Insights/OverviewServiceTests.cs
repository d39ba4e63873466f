using UsageDashboard.Insights;
using UsageDashboard.Store;
using UsageDashboard.Tests.Infrastructure;
using static UsageDashboard.Tests.Infrastructure.TestEvents;

namespace UsageDashboard.Tests.Insights;

/// <summary>
/// Overview numbers on a small hand-built dataset whose expected values are worked out by hand below.
/// Period under test: 2026-11-01 .. 2026-11-07 (7 days); previous period 2026-10-25 .. 2026-10-31.
/// </summary>
public sealed class OverviewServiceTests : IClassFixture<OverviewServiceTests.Db>
{
    public sealed class Db : DatabaseFixture
    {
        public override async Task InitializeAsync()
        {
            await base.InitializeAsync();
            var writer = CreateWriter(this);
            var nov1 = new DateTime(2026, 11, 1, 10, 0, 0, DateTimeKind.Utc);
            var oct28 = new DateTime(2026, 10, 28, 10, 0, 0, DateTimeKind.Utc);
            await writer.WriteAsync(
            [
                // previous period: inst-a (dbt) 2 runs, 1 ok 1 failed
                CreateEvent(installationId: "inst-a", at: oct28, status: RunStatus.Succeeded, command: "run"),
                CreateEvent(installationId: "inst-a", at: oct28.AddHours(1), status: RunStatus.Failed, command: "run"),

                // current period, dbt:
                // inst-a returns: a started+succeeded run (one run from two events) on Nov 1
                CreateEvent(installationId: "inst-a", runKey: "inv-1", at: nov1, status: RunStatus.Started, command: "run"),
                CreateEvent(installationId: "inst-a", runKey: "inv-1", at: nov1.AddMinutes(3), status: RunStatus.Succeeded, command: "run"),
                // inst-b is new: 3 runs on Nov 2 (2 run ok, 1 test failed), CI, on windows
                CreateEvent(installationId: "inst-b", at: nov1.AddDays(1), status: RunStatus.Succeeded, command: "run", isCi: true, osName: "windows"),
                CreateEvent(installationId: "inst-b", at: nov1.AddDays(1).AddHours(1), status: RunStatus.Succeeded, command: "run", isCi: true, osName: "windows"),
                CreateEvent(installationId: "inst-b", at: nov1.AddDays(1).AddHours(2), status: RunStatus.Failed, command: "test", isCi: true, osName: "windows"),
                // inst-c is new: one run started on Nov 3 that never ended (aborted: clock is Nov 2 + 1 day? see writer clock)
                CreateEvent(installationId: "inst-c", runKey: "inv-open", at: nov1.AddDays(2), status: RunStatus.Started, command: "build"),

                // current period, jetty: one unknown-outcome run from a new installation on Nov 7
                CreateEvent(tool: "jetty", installationId: "inst-j", at: nov1.AddDays(6), status: RunStatus.Unknown, command: "invoked_fetch"),

                // outside both periods (Nov 8): must not count
                CreateEvent(installationId: "inst-z", at: nov1.AddDays(7), status: RunStatus.Succeeded, command: "run"),
            ], default);
            await TestRollups.RefreshAsync(this);
        }
    }

    private static readonly DateOnly s_today = new(2026, 11, 7);
    private readonly Db _db;

    public OverviewServiceTests(Db db) => _db = db;

    private Task<OverviewData> GetAsync(string? tool = null, string? env = null, string? os = null) =>
        new OverviewService(_db.DataSource, new FakeTimeProvider(new DateTimeOffset(2026, 11, 7, 18, 0, 0, TimeSpan.Zero)), TestRollups.Source)
            .GetAsync(InsightQuery.Parse(tool, "7d", null, null, env, os, null, null, s_today), default);

    [Fact]
    public async Task Get_AllTools_HeadlineNumbersMatchHandCount()
    {
        var data = await GetAsync();

        // active: a, b, c (dbt) + j (jetty) = 4; new: b, c, j = 3 (a was first seen Oct 28)
        // runs: inv-1, 3 of inst-b, inv-open, jetty = 6
        // judged: inv-1 ok, b ok, b ok, b failed; inv-open was written at T0+1d = Nov 2 12:00 with a 12 h abort
        //   window, so a start at Nov 3 10:00 is still running (not judged); jetty unknown (not judged)
        Assert.Equal(new PeriodTotals(ActiveInstallations: 4, NewInstallations: 3, Runs: 6, Succeeded: 3, Failed: 1, Aborted: 0), data.Current);
        Assert.Equal(new PeriodTotals(ActiveInstallations: 1, NewInstallations: 1, Runs: 2, Succeeded: 1, Failed: 1, Aborted: 0), data.Previous);
        Assert.Equal(0.75, data.Current.SuccessRate.Value);
        Assert.Equal(4, data.Current.SuccessRate.Total);
        Assert.Equal(["dbt", "jetty"], data.Tools);
    }

    [Fact]
    public async Task Get_SuccessRateInterval_IsWilson95()
    {
        var data = await GetAsync();

        // Wilson 95% for 3 of 4: centre (0.75 + 1.9208/4)/(1 + 3.8415/4) = 0.6279, half-width 0.3739
        var (low, high) = data.Current.SuccessRate.Interval!.Value;
        Assert.Equal(0.3006, low, 3);
        Assert.Equal(0.9544, high, 3);
    }

    [Fact]
    public async Task Get_DailySeries_OnePointPerDayWithZeros()
    {
        var data = await GetAsync(tool: "dbt");

        Assert.Equal(7, data.Daily.Count);
        Assert.Equal(
            [(1, 1), (1, 3), (1, 1), (0, 0), (0, 0), (0, 0), (0, 0)],
            data.Daily.Select(d => ((int)d.ActiveInstallations, (int)d.Runs)));
        Assert.Equal(new DateOnly(2026, 11, 1), data.Daily[0].Day);
    }

    [Fact]
    public async Task Get_TopCommands_RankedByRunsWithOutcomes()
    {
        var data = await GetAsync();

        Assert.Equal(
            [("dbt", "run", 3L, 3L, 0L, 2L), ("dbt", "build", 1L, 0L, 0L, 1L), ("dbt", "test", 1L, 0L, 1L, 1L), ("jetty", "invoked_fetch", 1L, 0L, 0L, 1L)],
            data.TopCommands.Select(c => (c.Tool, c.Command, c.Runs, c.Succeeded, c.Failed, c.Installations)));
    }

    [Fact]
    public async Task Get_CiAndOsFilters_NarrowRunsAndNewInstallations()
    {
        var ci = await GetAsync(env: "ci");
        var notCi = await GetAsync(env: "notci", os: "linux");

        Assert.Equal(new PeriodTotals(1, 1, 3, 2, 1, 0), ci.Current);
        // not CI on linux: inst-a (inv-1), inst-c (open), inst-j; new among them: c and j
        Assert.Equal(new PeriodTotals(3, 2, 3, 1, 0, 0), notCi.Current);
        // previous period: only inst-a (not CI, linux), first seen Oct 28, so new there; nothing ran in CI
        Assert.Equal(new PeriodTotals(1, 1, 2, 1, 1, 0), notCi.Previous);
        Assert.Equal(PeriodTotals.Zero, ci.Previous);
    }

    [Fact]
    public async Task Get_ToolFilter_OnlyThatTool()
    {
        var data = await GetAsync(tool: "jetty");

        Assert.Equal(new PeriodTotals(1, 1, 1, 0, 0, 0), data.Current);
        Assert.Null(data.Current.SuccessRate.Value);
    }
}
