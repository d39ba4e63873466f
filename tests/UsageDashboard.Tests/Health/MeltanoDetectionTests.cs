using UsageDashboard.Catalog;
using UsageDashboard.Health;
using UsageDashboard.Tests.Infrastructure;
using static UsageDashboard.Tests.Health.HealthDetectorTests;

namespace UsageDashboard.Tests.Health;

/// <summary>Meltano sends no versions: a break is a (plugin, variant, pip_url) whose own failure rate steps up.</summary>
public sealed class MeltanoDetectionTests
{
    private static readonly DateTime s_now = new(2026, 11, 20, 12, 0, 0, DateTimeKind.Utc);
    private static readonly string s_stored = PluginNames.StoredName(PluginCatalog.Sha256Hex("tap-github"), PluginCatalog.Sha256Hex("meltanolabs"));
    private static readonly string s_defaultPipUrl = PluginCatalog.Sha256Hex("meltanolabs-tap-github");

    [Fact]
    public void Assess_DefaultPipUrlStartsFailing_FlaggedWithOnsetAndPlainWordsEvidence()
    {
        // 100 runs an hour at 2% for a week, then from 08:00 (four hours ago) 38%: same subject throughout.
        var hourly = CreateHourly(runs: 100, rate: 0.02, hoursAgo: ago => ago <= 4 ? (100, 38) : null);
        var counts = CreateCounts(runs: 600, failures: 156, installations: 41, failingInstallations: 30, peersRuns: 0, peersFailures: 0,
            historyRuns: 16_800, historyFailures: 336, hourly: hourly, name: s_stored, version: s_defaultPipUrl);

        var result = HealthDetector.Assess(counts, s_now, new HealthOptions());

        Assert.Equal(HealthSeverity.Broken, result.Severity);
        Assert.Equal(new DateTime(2026, 11, 20, 8, 0, 0, DateTimeKind.Utc), result.Finding!.Evidence.Onset);
        var reason = TestCatalog.Names.Text(result.Finding.Reason);
        Assert.StartsWith("tap-github (meltanolabs, default pip_url) failed 38% of 400 runs (95% CI ", reason, StringComparison.Ordinal);
        Assert.Contains("from 41 installations since 2026-11-20 08:00 UTC", reason, StringComparison.Ordinal);
        Assert.EndsWith("; 2.0% of 17,000 runs in the 7 d before", reason, StringComparison.Ordinal);
    }

    [Fact]
    public void Onset_FlatSeries_None()
    {
        Assert.Null(HealthDetector.Onset(CreateHourly(runs: 100, rate: 0.02)));
    }
}
