using UsageDashboard.Insights;
using UsageDashboard.Store;
using UsageDashboard.Tests.Infrastructure;
using static UsageDashboard.Tests.Infrastructure.TestEvents;

namespace UsageDashboard.Tests.Insights;

public sealed class CommandsServiceTests : IClassFixture<CommandsServiceTests.Db>
{
    /// <summary>
    /// Period 2026-10-26 – 2026-11-01 (T0 is 2026-11-01 12:00, "today"), previous 2026-10-19 – 2026-10-25.
    /// dbt run: inst-1 3 succeeded + 1 failed (durations 1–4 s), inst-2 1 aborted on Windows; 2 earlier successes.
    /// dbt test: inst-2 1 succeeded. meltano run: 1 failed in CI (filtered out by env=notci).
    /// </summary>
    public sealed class Db : DatabaseFixture
    {
        public override async Task InitializeAsync()
        {
            await base.InitializeAsync();
            await CreateWriter(this).WriteAsync(
            [
                CreateEvent(installationId: "inst-1", at: T0.AddDays(-1), durationMs: 1000),
                CreateEvent(installationId: "inst-1", at: T0.AddDays(-2), durationMs: 2000),
                CreateEvent(installationId: "inst-1", at: T0.AddDays(-3), durationMs: 3000, toolVersion: "1.9.0"),
                CreateEvent(installationId: "inst-1", at: T0.AddDays(-3), durationMs: 4000, status: RunStatus.Failed, errorType: "DbtRuntimeError"),
                CreateEvent(installationId: "inst-2", at: T0, status: RunStatus.Aborted, osName: "windows", errorType: "KeyboardInterrupt"),
                CreateEvent(installationId: "inst-1", at: T0.AddDays(-8)),
                CreateEvent(installationId: "inst-1", at: T0.AddDays(-9)),
                CreateEvent(installationId: "inst-2", at: T0.AddDays(-1), command: "test"),
                CreateEvent(tool: "meltano", installationId: "m-1", at: T0.AddDays(-1), status: RunStatus.Failed, isCi: true),
            ], default);
            await TestRollups.RefreshAsync(this);
        }
    }

    private static readonly DateOnly s_today = DateOnly.FromDateTime(T0);
    private readonly CommandsService _service;

    public CommandsServiceTests(Db db) =>
        _service = new CommandsService(db.DataSource, new FakeTimeProvider(new DateTimeOffset(T0)), TestRollups.Source);

    private static InsightQuery Week(string? tool = null, EnvironmentFilter env = EnvironmentFilter.All) => new()
    {
        Tool = tool, Range = "7d", From = s_today.AddDays(-6), To = s_today, Environment = env,
    };

    [Fact]
    public async Task Get_HandBuiltRuns_RanksByRunsWithRateIntervalDurationsAndPrevious()
    {
        var data = await _service.GetAsync(Week(), 100, default);

        Assert.Equal(7, data.TotalRuns);
        Assert.Equal(["dbt/run", "dbt/test", "meltano/run"], data.Commands.Select(c => c.Tool + "/" + c.Command));
        var run = data.Commands[0];
        Assert.Equal(new Outcomes(5, 3, 1, 1), run.Current);
        Assert.Equal(2, run.Installations);
        Assert.Equal(0.6, run.Current.SuccessRate.Value);
        var (low, high) = run.Current.SuccessRate.Interval!.Value;
        Assert.Equal(0.230724, low, 5);
        Assert.Equal(0.882379, high, 5);
        Assert.True(run.Current.SuccessRate.IsSmallSample);
        // The ranking reads duration histograms (buckets 2^(1/8) wide): exact values are 2500 and 3850 ms.
        Assert.InRange(run.P50Ms!.Value, 2500 / 1.1, 2500 * 1.1);
        Assert.InRange(run.P95Ms!.Value, 3850 / 1.1, 3850 * 1.1);
        Assert.Equal(new Outcomes(2, 2, 0, 0), run.Previous);
        Assert.Null(data.Commands[1].P50Ms);
    }

    [Fact]
    public async Task Get_NotCiFilter_LeavesOutCiRuns()
    {
        var data = await _service.GetAsync(Week(env: EnvironmentFilter.NotCi), 100, default);

        Assert.DoesNotContain(data.Commands, c => c.Tool == "meltano");
        Assert.Equal(6, data.TotalRuns);
    }

    [Fact]
    public async Task GetCommand_Run_SplitsByVersionOsAndListsErrorTypes()
    {
        var data = await _service.GetCommandAsync(Week("dbt"), "run", default);

        Assert.Equal(new Outcomes(5, 3, 1, 1), data.Current);
        Assert.Equal(new Outcomes(2, 2, 0, 0), data.Previous);
        Assert.Equal(Grain.Day, data.Grain);
        Assert.Equal(7, data.Buckets.Count);
        Assert.Equal(2, data.Buckets.Single(b => b.Start == s_today.AddDays(-3)).Outcomes.Runs);
        Assert.Equal(1, data.Buckets.Single(b => b.Start == s_today.AddDays(-3)).ByVersion["1.9.0"]);
        Assert.Equal([("1.8.0", 4L), ("1.9.0", 1L)], data.Versions.Select(v => (v.Name, v.Outcomes.Runs)));
        Assert.Equal([("linux", 4L), ("windows", 1L)], data.OperatingSystems.Select(o => (o.Name, o.Outcomes.Runs)));
        Assert.Equal(0.75, data.OperatingSystems[0].Outcomes.SuccessRate.Value); // 3 of 4 on linux
        Assert.Equal(["DbtRuntimeError", "KeyboardInterrupt"], data.Errors.Select(e => e.ErrorType).Order());
        // From the duration histograms, like the ranking: within a bucket (2^(1/8) wide) of the exact 2500 ms.
        Assert.InRange(data.P50Ms!.Value, 2500 / 1.1, 2500 * 1.1);
    }

    [Fact]
    public async Task GetCommand_ComparePrevious_PreviousRunsShiftedOntoBuckets()
    {
        var data = await _service.GetCommandAsync(Week("dbt") with { ComparePrevious = true }, "run", default);

        Assert.Equal([0L, 0L, 0L, 0L, 1L, 1L, 0L], data.PreviousRunsPerBucket); // 10-23 and 10-24 land on 10-30 and 10-31
        Assert.Null((await _service.GetCommandAsync(Week("dbt"), "run", default)).PreviousRunsPerBucket);
    }

    [Fact]
    public async Task GetCommand_UnknownName_EmptyWithZeroBuckets()
    {
        var data = await _service.GetCommandAsync(Week(), "no such'; DROP TABLE runs; --", default);

        Assert.Equal(Outcomes.Zero, data.Current);
        Assert.All(data.Buckets, b => Assert.Equal(0, b.Outcomes.Runs));
        Assert.Empty(data.Errors);
        Assert.NotNull(CommandDetailViewModel.Create(data).EmptyReason);
    }
}
