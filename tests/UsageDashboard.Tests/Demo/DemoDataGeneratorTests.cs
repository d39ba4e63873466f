using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using UsageDashboard.Catalog;
using UsageDashboard.Demo;
using UsageDashboard.Ingestion;
using UsageDashboard.Store;
using UsageDashboard.Tests.Infrastructure;

namespace UsageDashboard.Tests.Demo;

public sealed class DemoDataGeneratorTests
{
    private static readonly DateTime s_end = new(2026, 11, 20, 15, 30, 0, DateTimeKind.Utc);

    // One large sample shared by the statistical tests: the incidents need volume to stand out from noise.
    private static readonly Lazy<List<TelemetryEvent>> s_large = new(() => [.. DemoDataGenerator.Generate(CreateOptions(events: 300_000))]);

    private static DemoOptions CreateOptions(int events = 20_000, int days = 90, int seed = 42) =>
        new() { Events = events, Days = days, Seed = seed, End = s_end };

    [Fact]
    public void Generate_SameSeed_IdenticalEvents()
    {
        var first = Hash(DemoDataGenerator.Generate(CreateOptions(events: 50_000)).Take(20_000));
        var second = Hash(DemoDataGenerator.Generate(CreateOptions(events: 50_000)).Take(20_000));

        Assert.Equal(first, second);
    }

    [Fact]
    public void Generate_DifferentSeed_DifferentEvents()
    {
        var first = Hash(DemoDataGenerator.Generate(CreateOptions(seed: 1)).Take(20_000));
        var second = Hash(DemoDataGenerator.Generate(CreateOptions(seed: 2)).Take(20_000));

        Assert.NotEqual(first, second);
    }

    [Theory]
    [InlineData(1_000, 90)]
    [InlineData(20_000, 90)]
    [InlineData(20_000, 7)]
    [InlineData(250_000, 90)]
    [InlineData(50_000, 365)]
    public void Generate_AnyVolume_WithinTwoPercentOfTarget(int events, int days)
    {
        var count = DemoDataGenerator.Generate(CreateOptions(events: events, days: days)).Count();

        Assert.InRange(count, events * 0.98, events * 1.02);
    }

    [Fact]
    public void Generate_Events_InsideHistoryUtcUniqueAndRoughlyInOrder()
    {
        var options = CreateOptions(days: 30);
        var events = DemoDataGenerator.Generate(options).ToList();

        Assert.All(events, e =>
        {
            Assert.Equal(DateTimeKind.Utc, e.OccurredAt.Kind);
            Assert.Equal(DateTimeKind.Utc, e.ReceivedAt.Kind);
            Assert.InRange(e.OccurredAt, s_end.AddDays(-30), s_end.AddTicks(-1));
            Assert.True(e.ReceivedAt >= e.OccurredAt);
            // Meltano's events come through the Snowplow mapper, as live Meltano traffic does.
            Assert.Equal(e.Tool == "meltano" ? SnowplowMapper.Source : DemoDataGenerator.Source, e.Source);
            Assert.Contains(e.Status, RunStatus.EventStatuses);
            Assert.True(Guid.TryParse(e.InstallationId, out _));
            // Meltano's exit_event carries the process's exception context too.
            Assert.True(e.Status == RunStatus.Failed || e.ErrorType is null || e.EventName == "exit_event");
        });
        Assert.Equal(events.Count, events.Select(e => e.EventId).Distinct().Count());
        // Single-event tools key the run by the event itself.
        Assert.All(events.Where(e => e.Tool is "evidently" or "jetty"), e => Assert.Equal(e.EventId.ToString(), e.RunKey));
        Assert.All(events.Where(e => e.Tool == "jetty"), e => Assert.Equal(RunStatus.Unknown, e.Status));
        // Sorted within each day; a run that crosses midnight may end a little out of order.
        var outOfOrder = events.Zip(events.Skip(1)).Count(p => p.Second.OccurredAt < p.First.OccurredAt.AddHours(-6));
        Assert.True(outOfOrder < events.Count / 100, $"{outOfOrder} events far out of order");
    }

    [Fact]
    public void Generate_TwoEventTools_StartAndEndShareTheRunKey()
    {
        var events = DemoDataGenerator.Generate(CreateOptions()).ToList();

        var runs = events.Where(e => e.Tool is "dbt" or "meltano").GroupBy(e => (e.Tool, e.RunKey)).ToList();

        Assert.All(runs, r => Assert.Equal(RunStatus.Started, r.OrderBy(e => e.OccurredAt).First().Status));
        Assert.All(runs.Where(r => r.Key.Tool == "dbt"), r => Assert.Equal(2, r.Count()));
        var adapters = runs.Where(r => r.Key.Tool == "dbt").SelectMany(r => r.Last().Plugins).ToList();
        Assert.All(adapters, p => Assert.Equal("adapter", p.Type));
        var meltanoRuns = runs.Where(r => r.Key.Tool == "meltano").ToList();
        var neverEnded = meltanoRuns.Count(r => r.Count() == 1) / (double)meltanoRuns.Count;
        Assert.InRange(neverEnded, 0.005, 0.03);
    }

    [Fact]
    public void Generate_BrokenDefaultPipUrl_FailsFarMoreFromItsOnset()
    {
        var ended = s_large.Value.Where(e => e.Tool == "meltano" && RunStatus.IsTerminal(e.Status)).ToList();
        var breakAt = s_end.AddDays(-DemoDataGenerator.BrokenPluginReleaseDaysBeforeEnd);
        var withDefault = ended.Where(e => e.Plugins.Exists(p => p.Name == BrokenStoredName && p.Version == BrokenDefaultPipUrlHash)).ToList();
        var before = withDefault.Where(e => e.OccurredAt < breakAt).ToList();
        var after = withDefault.Where(e => e.OccurredAt >= breakAt).ToList();

        Assert.True(after.Count >= 60, $"only {after.Count} runs of the broken pip_url after its onset");
        Assert.InRange(FailureRate(after), 0.33, 0.57);
        Assert.InRange(FailureRate(before), 0.0, 0.04);
        // No invented versions: every Meltano plugin's version is a pip_url digest.
        Assert.All(ended.SelectMany(e => e.Plugins), p => Assert.Matches("^[0-9a-f]{64}$", p.Version!));
    }

    [Fact]
    public void Generate_PinnedCustomPipUrl_FailsThroughout()
    {
        var ended = s_large.Value.Where(e => e.Tool == "meltano" && RunStatus.IsTerminal(e.Status)).ToList();
        var pinnedHash = PluginCatalog.Sha256Hex(DemoDataGenerator.PinnedPipUrl);
        var pinned = ended.Where(e => e.Plugins.Exists(p => p.Version == pinnedHash)).ToList();

        Assert.True(pinned.Count >= 100, $"only {pinned.Count} runs with the pinned pip_url");
        Assert.InRange(FailureRate(pinned), 0.22, 0.38);
        Assert.Equal("custom pip_url · " + pinnedHash[..6], TestCatalog.Names.VersionLabel(pinned[0].Plugins.First(p => p.Version == pinnedHash).Name, pinnedHash));
    }

    [Fact]
    public void Generate_BrokenToolVersionOnBrokenOs_FailsFarMoreThanElsewhere()
    {
        var ended = s_large.Value.Where(e => e.Tool == DemoDataGenerator.BrokenTool && RunStatus.IsTerminal(e.Status)).ToList();
        var brokenVersion = ended.Where(e => e.ToolVersion == DemoDataGenerator.BrokenToolVersion).ToList();
        var onBrokenOs = brokenVersion.Where(e => e.OsName == DemoDataGenerator.BrokenOs).ToList();
        var brokenVersionElsewhere = brokenVersion.Where(e => e.OsName != DemoDataGenerator.BrokenOs).ToList();
        var otherVersionsOnBrokenOs = ended.Where(e => e.OsName == DemoDataGenerator.BrokenOs && e.ToolVersion != DemoDataGenerator.BrokenToolVersion).ToList();

        Assert.True(onBrokenOs.Count >= 200, $"only {onBrokenOs.Count} runs of the broken version on {DemoDataGenerator.BrokenOs}");
        Assert.InRange(FailureRate(onBrokenOs), 0.19, 0.31);
        Assert.InRange(FailureRate(brokenVersionElsewhere), 0.0, 0.06);
        Assert.InRange(FailureRate(otherVersionsOnBrokenOs), 0.0, 0.06);
    }

    [Fact]
    public void Generate_Rhythms_WeekendsQuieterAndCiAboutAThird()
    {
        var events = s_large.Value;
        var perDay = events.GroupBy(e => e.OccurredAt.Date).Where(g => g.Key > s_end.AddDays(-89) && g.Key < s_end.Date).ToList();
        var weekday = perDay.Where(g => g.Key.DayOfWeek is not (DayOfWeek.Saturday or DayOfWeek.Sunday)).Average(g => g.Count());
        var weekend = perDay.Where(g => g.Key.DayOfWeek is DayOfWeek.Saturday or DayOfWeek.Sunday).Average(g => g.Count());
        var ciShare = events.Count(e => e.IsCi) / (double)events.Count;

        Assert.InRange(weekend / weekday, 0.3, 0.5);
        Assert.InRange(ciShare, 0.2, 0.4);
        // Meltano sends no environment name in clear (only its digest), so only the others carry "ci".
        Assert.All(events.Where(e => e.IsCi && e.Tool != "meltano"), e => Assert.Equal("ci", e.Environment));
    }

    [Fact]
    public void Generate_InstallationBase_GrowsChurnsAndHasOneShots()
    {
        var events = s_large.Value;
        var installations = events.GroupBy(e => e.InstallationId)
            .Select(g => (First: g.Min(e => e.OccurredAt), Last: g.Max(e => e.OccurredAt))).ToList();
        var start = s_end.AddDays(-90);

        var oneDay = installations.Count(i => i.First.Date == i.Last.Date);
        var stopped = installations.Count(i => i.Last < s_end.AddDays(-30));
        var newInLastMonth = installations.Count(i => i.First > s_end.AddDays(-30));
        var activeFirstWeek = installations.Count(i => i.First < start.AddDays(7));
        var activeLastWeek = installations.Count(i => i.Last > s_end.AddDays(-7));

        Assert.True(oneDay > installations.Count / 20, $"{oneDay} one-shot installations");
        Assert.True(stopped > installations.Count / 20, $"{stopped} installations stopped");
        Assert.True(newInLastMonth > installations.Count / 10, $"{newInLastMonth} new installations");
        Assert.True(activeLastWeek > activeFirstWeek, $"{activeFirstWeek} → {activeLastWeek}");
    }

    [Fact]
    public void Generate_PythonMix_NewerMinorsGainShare()
    {
        var python = s_large.Value.Where(e => e.RuntimeVersion is not null).ToList();
        static double Share(IEnumerable<TelemetryEvent> events) =>
            events.Count(e => e.RuntimeVersion!.StartsWith("3.12.", StringComparison.Ordinal)) / (double)events.Count();

        var early = Share(python.Where(e => e.OccurredAt < s_end.AddDays(-76)));
        var late = Share(python.Where(e => e.OccurredAt > s_end.AddDays(-14)));

        Assert.True(late > early + 0.03, $"python 3.12 share {early:P1} → {late:P1}");
    }

    /// <summary>tap-github (meltanolabs) as the store keeps it, and the digest of its hub default pip_url.</summary>
    public static readonly string BrokenStoredName = PluginNames.StoredName(
        PluginCatalog.Sha256Hex(DemoDataGenerator.BrokenPluginName), PluginCatalog.Sha256Hex(DemoDataGenerator.BrokenPluginVariant));
    public static readonly string BrokenDefaultPipUrlHash = PluginCatalog.Sha256Hex("meltanolabs-tap-github");

    private static double FailureRate(IReadOnlyCollection<TelemetryEvent> ended) =>
        ended.Count(e => e.Status == RunStatus.Failed) / (double)Math.Max(1, ended.Count);

    private static string Hash(IEnumerable<TelemetryEvent> events)
    {
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        var sb = new StringBuilder();
        foreach (var e in events)
        {
            sb.Clear();
            sb.AppendJoin('|', e.EventId, e.Tool, e.Source, e.InstallationId, e.UserId, e.OccurredAt.Ticks.ToString(CultureInfo.InvariantCulture),
                e.ReceivedAt.Ticks.ToString(CultureInfo.InvariantCulture), e.EventName, e.RunKey, e.Command, e.Status,
                e.DurationMs?.ToString(CultureInfo.InvariantCulture), e.ToolVersion, e.OsName, e.OsVersion, e.RuntimeName, e.RuntimeVersion,
                e.Environment, e.IsCi, e.ErrorType);
            foreach (var p in e.Plugins)
            {
                sb.Append('|').AppendJoin(',', p.Name, p.Type, p.Version, p.Status);
            }
            sb.Append('\n');
            hash.AppendData(Encoding.UTF8.GetBytes(sb.ToString()));
        }
        return Convert.ToHexString(hash.GetHashAndReset());
    }
}
