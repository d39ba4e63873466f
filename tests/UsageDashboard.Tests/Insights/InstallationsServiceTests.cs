using UsageDashboard.Insights;
using UsageDashboard.Store;
using UsageDashboard.Tests.Infrastructure;
using static UsageDashboard.Tests.Infrastructure.TestEvents;

namespace UsageDashboard.Tests.Insights;

public sealed class InstallationsServiceTests : IClassFixture<InstallationsServiceTests.Db>
{
    private static readonly DateOnly s_today = new(2026, 11, 1); // a Sunday: week W3 (from 10-26) is in progress
    private static DateTime At(int month, int day) => new(2026, month, day, 12, 0, 0, DateTimeKind.Utc);

    /// <summary>
    /// Weeks W1 = 10-12, W2 = 10-19, W3 = 10-26 (in progress).
    /// A: succeeded 10-13 and 10-20. B: first seen 09-20, succeeded 10-14 and 10-27.
    /// C: one CI run 10-21 (CI-only, single day). D: failed 10-27 and 10-28 on tool version 1.9.0.
    /// </summary>
    public sealed class Db : DatabaseFixture
    {
        public override async Task InitializeAsync()
        {
            await base.InitializeAsync();
            await CreateWriter(this).WriteAsync(
            [
                CreateEvent(installationId: "A", at: At(10, 13)),
                CreateEvent(installationId: "A", at: At(10, 20)),
                CreateEvent(installationId: "B", at: At(9, 20)),
                CreateEvent(installationId: "B", at: At(10, 14)),
                CreateEvent(installationId: "B", at: At(10, 27)),
                CreateEvent(installationId: "C", at: At(10, 21), isCi: true),
                CreateEvent(installationId: "D", at: At(10, 27), status: RunStatus.Failed, toolVersion: "1.9.0"),
                CreateEvent(installationId: "D", at: At(10, 28), status: RunStatus.Failed, toolVersion: "1.9.0"),
            ], default);
            await TestRollups.RefreshAsync(this);
        }
    }

    private readonly InstallationsService _service;

    public InstallationsServiceTests(Db db) =>
        _service = new InstallationsService(db.DataSource, new FakeTimeProvider(new DateTimeOffset(s_today.ToDateTime(new TimeOnly(12, 0)), TimeSpan.Zero)), TestRollups.Source);

    private static InsightQuery Query() => new() { Range = null, From = new DateOnly(2026, 10, 12), To = s_today };

    [Fact]
    public async Task Get_AnyEvent_CountsActiveNewAndWhatEachRuleExcludes()
    {
        var data = await _service.GetAsync(Query(), ActiveRuleKind.AnyEvent, default);

        Assert.Equal(new RuleExclusions(AnyEvent: 4, WithoutSuccess: 1, CiOnly: 1, SingleDay: 1), data.Exclusions);
        Assert.Equal(4, data.Active);
        Assert.Equal(3, data.New);
        Assert.Equal(21, data.Daily.Count);
        Assert.Equal(2, data.Daily.Single(p => p.Start == new DateOnly(2026, 10, 27)).Installations);
        Assert.Equal([2L, 2L, 2L], data.Weekly.Select(p => p.Installations));
        Assert.Equal([4L, 0L], data.Monthly.Select(p => p.Installations));
    }

    [Fact]
    public async Task Get_AnyEvent_ClassifiesWeeklyLifecycle()
    {
        var data = await _service.GetAsync(Query(), ActiveRuleKind.AnyEvent, default);

        Assert.Equal(
        [
            new LifecycleWeek(new DateOnly(2026, 10, 12), New: 1, Returning: 0, Resurrected: 1, Dormant: 0),
            new LifecycleWeek(new DateOnly(2026, 10, 19), New: 1, Returning: 1, Resurrected: 0, Dormant: 1),
            new LifecycleWeek(new DateOnly(2026, 10, 26), New: 1, Returning: 0, Resurrected: 1, Dormant: 2),
        ], data.Lifecycle);
    }

    [Fact]
    public async Task Get_AnyEvent_BuildsTwelveWeekCohortsWithFutureWeeksUnknown()
    {
        var data = await _service.GetAsync(Query(), ActiveRuleKind.AnyEvent, default);

        Assert.Equal(12, data.Cohorts.Count);
        Assert.Equal(new DateOnly(2026, 8, 10), data.Cohorts[0].Week);
        var b = data.Cohorts.Single(c => c.Week == new DateOnly(2026, 9, 14));
        Assert.Equal([1L, 0L, 0L, 0L, 1L, 0L, 1L, null, null, null, null, null], b.Retained);
        var a = data.Cohorts.Single(c => c.Week == new DateOnly(2026, 10, 12));
        Assert.Equal([1L, 1L, 0L, null], a.Retained.Take(4));
        Assert.Equal(0, data.Cohorts[0].Size);
    }

    [Fact]
    public async Task Get_SuccessfulRunRule_DropsInstallationWithOnlyFailures()
    {
        var data = await _service.GetAsync(Query(), ActiveRuleKind.SuccessfulRun, default);

        Assert.Equal(3, data.Active);
        Assert.Equal(4, data.Exclusions.AnyEvent);
        Assert.Equal(new LifecycleWeek(new DateOnly(2026, 10, 26), New: 0, Returning: 0, Resurrected: 1, Dormant: 2), data.Lifecycle[2]);
    }

    [Theory]
    [InlineData(ActiveRuleKind.ExcludeCiOnly)]
    [InlineData(ActiveRuleKind.ExcludeSingleDay)]
    public async Task Get_CiOrSingleDayRule_DropsTheCiOneOffInstallation(ActiveRuleKind rule)
    {
        var data = await _service.GetAsync(Query(), rule, default);

        Assert.Equal(3, data.Active);
        Assert.Equal([2L, 1L, 2L], data.Weekly.Select(p => p.Installations));
    }

    [Fact]
    public async Task Get_VersionAdoption_CountsEachInstallationsLatestVersionPerDay()
    {
        var data = await _service.GetAsync(Query(), ActiveRuleKind.AnyEvent, default);

        Assert.Equal(Grain.Day, data.AdoptionGrain);
        var day = data.Adoption.Single(a => a.Start == new DateOnly(2026, 10, 27)).InstallationsByVersion;
        Assert.Equal(1, day["1.8.0"]);
        Assert.Equal(1, day["1.9.0"]);
    }

    [Fact]
    public async Task Get_ComparePrevious_ShiftsPreviousDailyOntoThisPeriod()
    {
        var query = new InsightQuery { Range = null, From = new DateOnly(2026, 10, 19), To = s_today, ComparePrevious = true };

        var data = await _service.GetAsync(query, ActiveRuleKind.AnyEvent, default);

        Assert.Equal(14, data.PreviousDaily!.Count);
        Assert.Equal(2, data.PreviousDaily.Sum());
        Assert.Equal(1, data.PreviousDaily[8]); // A on 10-13, shown on 10-27
        Assert.Equal(1, data.PreviousDaily[9]); // B on 10-14, shown on 10-28
        Assert.Contains("Previous period", InstallationsViewModel.Create(data).DailyChartJson, StringComparison.Ordinal);
    }

    [Fact]
    public void ViewModel_RuleOptions_ShowExclusionsAndKeepTheRuleInLinks()
    {
        var data = new InstallationsData(Query(), s_today, ActiveRuleKind.ExcludeCiOnly, new RuleExclusions(10, 3, 2, 4), 8, 1,
            [], [], [], [], [], Grain.Day, [], ["dbt"]);
        var buckets = TimeBuckets.For(Query(), Grain.Day, s_today);
        data = data with
        {
            Daily = buckets.Select(b => new ActivePoint(b.Start, 2)).ToList(),
            Weekly = TimeBuckets.For(Query(), Grain.Week, s_today).Select(b => new ActivePoint(b.Start, 3)).ToList(),
            Monthly = TimeBuckets.For(Query(), Grain.Month, s_today).Select(b => new ActivePoint(b.Start, 4)).ToList(),
            Lifecycle = TimeBuckets.For(Query(), Grain.Week, s_today).Select(b => new LifecycleWeek(b.Start, 0, 0, 0, 0)).ToList(),
            Adoption = buckets.Select(b => new AdoptionBucket(b.Start, new Dictionary<string, long>())).ToList(),
        };

        var model = InstallationsViewModel.Create(data);

        Assert.Equal(["10 active", "excludes 3", "excludes 2", "excludes 4"], model.Rules.Select(r => r.Excluded));
        Assert.True(model.Rules.Single(r => r.Token == "noci").Selected);
        Assert.Equal("/installations?from=2026-10-12&to=2026-11-01&active=success", model.Rules.Single(r => r.Token == "success").Url);
        Assert.Equal("/installations?from=2026-10-12&to=2026-11-01", model.Rules.Single(r => r.Token == "any").Url);
        Assert.Equal("2", model.Tiles.Single(t => t.Label == "Left out by the rule").Value);
        Assert.Equal("2.0", model.Tiles.Single(t => t.Label == "Daily active (average)").Value);
        Assert.Equal("(in progress)", model.DailyRows[^1].Note);
    }
}
