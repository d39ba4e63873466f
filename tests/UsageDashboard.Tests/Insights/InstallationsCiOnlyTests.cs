using UsageDashboard.Insights;
using UsageDashboard.Rollups;
using UsageDashboard.Tests.Infrastructure;
using static UsageDashboard.Tests.Infrastructure.TestEvents;

namespace UsageDashboard.Tests.Insights;

/// <summary>
/// "Excluding CI-only" on a real store: CI-only means every run the installation ever sent ran in CI, read from the
/// stored history (the installation-month rollup, or the runs with rollups off), whatever the range shows.
/// </summary>
public sealed class InstallationsCiOnlyTests(InstallationsCiOnlyTests.Db db) : IClassFixture<InstallationsCiOnlyTests.Db>
{
    private static readonly DateOnly s_today = new(2026, 11, 1);
    private static DateTime At(int month, int day) => new(2026, month, day, 12, 0, 0, DateTimeKind.Utc);

    /// <summary>
    /// In the range 10-19..11-01 every installation ran only in CI. P also ran outside CI on 09-01 (a developer
    /// who later set up a pipeline); Q never did; R ran outside CI on 10-22 under another OS, and in CI on 10-23.
    /// </summary>
    public sealed class Db : DatabaseFixture
    {
        public override async Task InitializeAsync()
        {
            await base.InitializeAsync();
            await CreateWriter(this).WriteAsync(
            [
                CreateEvent(installationId: "P", at: At(9, 1)),
                CreateEvent(installationId: "P", at: At(10, 20), isCi: true),
                CreateEvent(installationId: "Q", at: At(10, 5), isCi: true),
                CreateEvent(installationId: "Q", at: At(10, 21), isCi: true),
                CreateEvent(installationId: "R", at: At(10, 22), osName: "windows"),
                CreateEvent(installationId: "R", at: At(10, 23), isCi: true),
            ], default);
            await TestRollups.RefreshAsync(this);
        }
    }

    private InstallationsService Service(bool rollups) =>
        new(db.DataSource, new FakeTimeProvider(new DateTimeOffset(s_today.ToDateTime(new TimeOnly(12, 0)), TimeSpan.Zero)), RollupSource.Create(rollups));

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task Get_ExcludeCiOnly_LeavesOutOnlyTheInstallationThatNeverRanOutsideCi(bool rollups)
    {
        var query = new InsightQuery { Range = null, From = new DateOnly(2026, 10, 19), To = s_today, Environment = EnvironmentFilter.Ci };

        var data = await Service(rollups).GetAsync(query, ActiveRuleKind.ExcludeCiOnly, default);

        Assert.Equal(3, data.Exclusions.AnyEvent);
        Assert.Equal(1, data.Exclusions.CiOnly);
        Assert.Equal(2, data.Active);
        Assert.Equal([new DateOnly(2026, 10, 20), new DateOnly(2026, 10, 23)],
            data.Daily.Where(p => p.Installations > 0).Select(p => p.Start));
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task Get_OsFilterWithoutTheRunOutsideCi_StillNotCiOnly(bool rollups)
    {
        // R's run outside CI was on Windows; on Linux it only ran in CI, and is still no build pipeline.
        var query = new InsightQuery { Range = null, From = new DateOnly(2026, 10, 19), To = s_today, Os = "linux" };

        var data = await Service(rollups).GetAsync(query, ActiveRuleKind.ExcludeCiOnly, default);

        Assert.Equal(1, data.Exclusions.CiOnly);
        Assert.Equal(2, data.Active);
    }
}
