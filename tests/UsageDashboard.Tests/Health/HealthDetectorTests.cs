using UsageDashboard.Health;

namespace UsageDashboard.Tests.Health;

/// <summary>The detector on hand-made counts: each case is one row of the table in docs/health.md.</summary>
public sealed class HealthDetectorTests
{
    private static readonly DateTime s_now = new(2026, 11, 20, 12, 0, 0, DateTimeKind.Utc);
    private static readonly HealthOptions s_options = new();

    /// <summary>A plugin version's counts; defaults are a healthy, busy version at 2% failures like its peers.</summary>
    internal static SubjectCounts CreateCounts(
        long runs = 1200, long failures = 24, long installations = 120, long failingInstallations = 20,
        long peersRuns = 20_000, long peersFailures = 400,
        long historyRuns = 30_000, long historyFailures = 600,
        long? longRuns = null, long? longFailures = null,
        TimeSpan? firstSeenAgo = null, IReadOnlyList<HourCount>? hourly = null,
        string name = "tap-github", string version = "1.4.2", DateTime? now = null)
    {
        var at = now ?? s_now;
        var recent = new WindowCounts(runs, failures, installations, failingInstallations);
        return new SubjectCounts
        {
            Subject = HealthSubject.Plugin("meltano", name, version),
            FirstSeen = at - (firstSeenAgo ?? TimeSpan.FromDays(30)),
            Recent = recent,
            Long = longRuns is null ? new WindowCounts(historyRuns + runs, historyFailures + failures, installations * 3, failingInstallations)
                : new WindowCounts(longRuns.Value, longFailures!.Value, installations * 3, failingInstallations * 3),
            PeersRecent = new WindowCounts(peersRuns / 28, peersFailures / 28),
            PeersLong = new WindowCounts(peersRuns, peersFailures),
            History = new WindowCounts(historyRuns, historyFailures),
            Hourly = hourly ?? [],
        };
    }

    /// <summary>Hourly counts for the 7 days + 6 hours before now: <paramref name="runs"/> an hour at <paramref name="rate"/>, with overrides.</summary>
    internal static List<HourCount> CreateHourly(long runs = 200, double rate = 0.02, Func<int, (long Runs, long Failures)?>? hoursAgo = null)
    {
        var list = new List<HourCount>();
        for (var ago = 7 * 24 + 6; ago >= 1; ago--)
        {
            var counts = hoursAgo?.Invoke(ago) ?? (runs, (long)Math.Round(runs * rate));
            list.Add(new HourCount(s_now.AddHours(-ago), counts.Runs, counts.Failures));
        }
        return list;
    }

    [Fact]
    public void Assess_FlatSeries_NoFindingAndClear()
    {
        var result = HealthDetector.Assess(CreateCounts(hourly: CreateHourly()), s_now, s_options);

        Assert.Null(result.Finding);
        Assert.True(result.SufficientData);
        Assert.True(result.IsClear);
    }

    [Fact]
    public void Assess_NewVersionFailing35Percent_FlagsBrokenAndExplains()
    {
        var counts = CreateCounts(runs: 405, failures: 142, installations: 38, failingInstallations: 30,
            peersRuns: 9812 * 28, peersFailures: 206 * 28, historyRuns: 0, historyFailures: 0, longRuns: 405, longFailures: 142,
            firstSeenAgo: TimeSpan.FromHours(5.5));

        var result = HealthDetector.Assess(counts, s_now, s_options);

        Assert.Equal(HealthSeverity.Broken, result.Severity);
        Assert.Equal(DetectionMethods.Peers, result.Finding!.Evidence.Method);
        Assert.StartsWith("tap-github 1.4.2 failed 142 of 405 runs (35%, 95% CI 31%–40%) from 38 installations since it was first seen 6 h ago; other versions 2.1% of 9,812 runs",
            result.Finding.Reason, StringComparison.Ordinal);
    }

    [Fact]
    public void Assess_OneOutlierHourInHistory_NoFinding()
    {
        var hourly = CreateHourly(hoursAgo: ago => ago == 50 ? (200, 120) : null);

        var result = HealthDetector.Assess(CreateCounts(hourly: hourly, historyFailures: 600 + 116), s_now, s_options);

        Assert.Null(result.Finding);
    }

    [Fact]
    public void Assess_OneBadHourOfFewRuns_NoFinding()
    {
        // The last hour: 3 failures of 6 runs. A rate of 50%, but not evidence of anything.
        var hourly = CreateHourly(runs: 10, hoursAgo: ago => ago == 1 ? (6, 3) : null);

        var result = HealthDetector.Assess(CreateCounts(runs: 60, failures: 4, installations: 12, failingInstallations: 4, historyRuns: 1700, historyFailures: 34, hourly: hourly), s_now, s_options);

        Assert.Null(result.Finding);
    }

    [Theory]
    [InlineData(5, 3, 2)]
    [InlineData(40, 30, 3)]
    [InlineData(49, 40, 10)]
    public void Assess_TinyN_InsufficientDataNoFinding(long runs, long failures, long installations)
    {
        var result = HealthDetector.Assess(CreateCounts(runs: runs, failures: failures, installations: installations, failingInstallations: installations,
            historyRuns: 0, historyFailures: 0, longRuns: runs, longFailures: failures, firstSeenAgo: TimeSpan.FromMinutes(30)), s_now, s_options);

        Assert.Null(result.Finding);
        Assert.False(result.SufficientData);
    }

    [Fact]
    public void Assess_BrandNewHealthyVersion_NoFinding()
    {
        var result = HealthDetector.Assess(CreateCounts(runs: 150, failures: 5, installations: 30, failingInstallations: 5,
            historyRuns: 0, historyFailures: 0, longRuns: 150, longFailures: 5, firstSeenAgo: TimeSpan.FromMinutes(45)), s_now, s_options);

        Assert.Null(result.Finding);
    }

    [Fact]
    public void Assess_FailuresFromOneInstallation_NoFinding()
    {
        // One misconfigured installation retrying in a loop is not a broken release.
        var result = HealthDetector.Assess(CreateCounts(runs: 600, failures: 300, installations: 40, failingInstallations: 1), s_now, s_options);

        Assert.Null(result.Finding);
    }

    [Fact]
    public void Assess_HealthyVersionSuddenlyFailing_FlagsBroken()
    {
        // An upstream API change: 2% for a week, 30% for the last two hours.
        var hourly = CreateHourly(hoursAgo: ago => ago <= 2 ? (200, 60) : null);
        var counts = CreateCounts(runs: 1200, failures: 4 * 4 + 120, historyRuns: 200 * 168, historyFailures: 4 * 168, hourly: hourly,
            peersRuns: 20_000, peersFailures: 400 + 1000);

        var result = HealthDetector.Assess(counts, s_now, s_options);

        Assert.Equal(HealthSeverity.Broken, result.Severity);
        Assert.Contains(result.Finding!.Evidence.Method, new[] { DetectionMethods.Spike, DetectionMethods.History });
    }

    [Fact]
    public void Assess_SpikeInLastTwoHoursOnly_SpikeFinding()
    {
        // Diluted in the 6-hour window it is under the broken threshold; the hourly detector still sees it.
        var hourly = CreateHourly(hoursAgo: ago => ago <= 2 ? (200, 30) : null);
        var counts = CreateCounts(runs: 1200, failures: 16 + 60, historyRuns: 200 * 168, historyFailures: 4 * 168, hourly: hourly, peersRuns: 2000, peersFailures: 40);

        var result = HealthDetector.Assess(counts, s_now, s_options);

        Assert.Equal(DetectionMethods.Spike, result.Finding?.Evidence.Method);
        Assert.Contains("a sudden spike", result.Finding!.Reason, StringComparison.Ordinal);
    }

    [Fact]
    public void Assess_GradualDrift2To4Percent_DegradedNotBroken()
    {
        var counts = CreateCounts(runs: 1200, failures: 48, historyRuns: 33_600, historyFailures: 1100, longRuns: 33_600, longFailures: 1300,
            peersRuns: 100_000, peersFailures: 2000);

        var result = HealthDetector.Assess(counts, s_now, s_options);

        Assert.Equal(HealthSeverity.Degraded, result.Severity);
        Assert.Equal(DetectionMethods.Drift, result.Finding!.Evidence.Method);
        Assert.Contains("degraded", result.Finding.Reason, StringComparison.Ordinal);
    }

    [Fact]
    public void Lifecycle_RecoveryWithHysteresis_ResolvesOnlyAfterAFullClearWindow()
    {
        var o = new HealthOptions();
        var broken = HealthDetector.Assess(CreateCounts(runs: 1200, failures: 360), s_now, o);
        var clear = HealthDetector.Assess(CreateCounts(), s_now, o);
        // 3.5%: no longer a finding, but not back at baseline either (inside the hysteresis band).
        var inBand = HealthDetector.Assess(CreateCounts(runs: 1200, failures: 42), s_now, o);
        Assert.Null(inBand.Finding);
        Assert.False(inBand.IsClear);

        var open = FlagLifecycle.Decide(null, null, broken, s_now, o);
        Assert.Equal(FlagChange.Open, open.Change);
        var flag = new ActiveFlag(1, HealthSeverity.Broken, null);

        var t = s_now.AddHours(1);
        var first = FlagLifecycle.Decide(flag, null, clear, t, o);
        Assert.Equal(new FlagDecision(FlagChange.Track, t), first);
        flag = flag with { ClearSince = first.ClearSince };
        var midway = FlagLifecycle.Decide(flag, null, clear, t.AddHours(3), o);
        Assert.Equal(FlagChange.Track, midway.Change);
        // One evaluation back in the band restarts the clock: no flapping at the threshold.
        var reset = FlagLifecycle.Decide(flag, null, inBand, t.AddHours(4), o);
        Assert.Equal(new FlagDecision(FlagChange.Track, null), reset);
        flag = flag with { ClearSince = null };
        var restart = FlagLifecycle.Decide(flag, null, clear, t.AddHours(5), o);
        flag = flag with { ClearSince = restart.ClearSince };
        Assert.Equal(FlagChange.Track, FlagLifecycle.Decide(flag, null, clear, t.AddHours(10), o).Change);
        Assert.Equal(FlagChange.Resolve, FlagLifecycle.Decide(flag, null, clear, t.AddHours(11), o).Change);
    }

    [Fact]
    public void Lifecycle_DegradedThenBroken_Escalates()
    {
        var broken = HealthDetector.Assess(CreateCounts(runs: 1200, failures: 360), s_now, s_options);

        var decision = FlagLifecycle.Decide(new ActiveFlag(1, HealthSeverity.Degraded, null), null, broken, s_now, s_options);

        Assert.Equal(FlagChange.Escalate, decision.Change);
    }

    [Fact]
    public void Lifecycle_ResolvedByHandRecently_NotReopenedAtSameSeverity()
    {
        var broken = HealthDetector.Assess(CreateCounts(runs: 1200, failures: 360), s_now, s_options);
        var manual = new PastResolution(HealthSeverity.Broken, s_now.AddHours(-1), ByHand: true);

        Assert.Equal(FlagChange.None, FlagLifecycle.Decide(null, manual, broken, s_now, s_options).Change);
        Assert.Equal(FlagChange.Open, FlagLifecycle.Decide(null, manual, broken, s_now.AddDays(2), s_options).Change);
    }

    [Fact]
    public void Lifecycle_InsufficientData_KeepsFlagAsItIs()
    {
        var tiny = HealthDetector.Assess(CreateCounts(runs: 10, failures: 0, installations: 2), s_now, s_options);

        Assert.Equal(FlagChange.None, FlagLifecycle.Decide(new ActiveFlag(1, HealthSeverity.Broken, s_now.AddHours(-2)), null, tiny, s_now, s_options).Change);
    }

    [Theory]
    [InlineData(30, "30 min")]
    [InlineData(360, "6 h")]
    [InlineData(60 * 24 * 7, "7 d")]
    public void Duration_Spans_ReadableUnits(int minutes, string expected)
    {
        Assert.Equal(expected, HealthDetector.Duration(TimeSpan.FromMinutes(minutes)));
    }
}
