using System.Text.Json;
using UsageDashboard.Insights;
using UsageDashboard.Rollups;

namespace UsageDashboard.Tests.Insights;

/// <summary>
/// The installations page from its indexes (<see cref="InstallationIndexCounts"/>) against the walk over every
/// installation's rows (<see cref="InstallationActivity"/>), on random activity: installations first seen on random
/// days, active on some days after, in CI or not, on several tool versions (some days more than one), with
/// successful runs on some active days, some only ever seen on one day, on one of three systems (a few move);
/// random ranges, environments, OS and version filters, rules and "compare". Every count of the page (exclusions, active, new, the three series, lifecycle, cohorts, version
/// adoption, the previous period's line) must be the same.
/// </summary>
public sealed class InstallationIndexesTests
{
    private static readonly DateOnly s_first = new(2026, 6, 1);
    private static readonly DateOnly s_last = new(2026, 11, 20);
    private static readonly string?[] s_versions = [null, "1.9.0", "1.10.0", "1.9.1", "2.0.0rc1", "unknown"];

    private static readonly string[] s_systems = ["Linux", "Darwin", "Windows"];

    private readonly record struct Day(int Key, DateOnly Date, bool IsCi, int Version, bool Ok, int Os = 0);

    private static (List<Day> Days, InstallationDays[] First) RandomActivity(Random random, int installations)
    {
        var days = new List<Day>();
        var first = new InstallationDays[installations + 1];
        var span = s_last.DayNumber - s_first.DayNumber;
        for (var key = 1; key <= installations; key++)
        {
            var seen = s_first.AddDays(random.Next(span));
            // A third are one-off (one active day); the rest come back on up to 40 later days.
            var count = random.Next(3) == 0 ? 1 : random.Next(2, 40);
            var busyCi = random.Next(4) == 0;
            // Some only ever run in CI (build pipelines): CI-only whatever the range.
            var onlyCi = random.Next(6) == 0;
            var outsideCi = false;
            var version = random.Next(1, s_versions.Length);
            var os = random.Next(s_systems.Length);
            var last = seen;
            for (var i = 0; i < count; i++)
            {
                var date = i == 0 && random.Next(5) > 0 ? seen : seen.AddDays(random.Next(Math.Min(120, s_last.DayNumber - seen.DayNumber + 1)));
                if (random.Next(6) == 0)
                {
                    version = random.Next(s_versions.Length);
                }
                if (random.Next(15) == 0)
                {
                    os = random.Next(s_systems.Length);
                }
                var isCi = onlyCi || (busyCi ? random.Next(5) > 0 : random.Next(6) == 0);
                days.Add(new Day(key, date, isCi, version, random.Next(3) > 0, os));
                outsideCi |= !isCi;
                // Some days also ran a second version (an upgrade that day) or in the other environment.
                if (random.Next(8) == 0)
                {
                    var secondCi = onlyCi || (random.Next(2) == 0 ? isCi : !isCi);
                    days.Add(new Day(key, date, secondCi, random.Next(s_versions.Length), random.Next(2) == 0,
                        random.Next(4) == 0 ? random.Next(s_systems.Length) : os));
                    outsideCi |= !secondCi;
                }
                last = date > last ? date : last;
            }
            first[key] = new InstallationDays(seen.DayNumber, last.DayNumber, CiOnly: !outsideCi);
        }
        return (days, first);
    }

    private static List<MonthSegment<InstallationMonthRow>> Segments(IEnumerable<Day> days, StringCodes codes, DateOnly to)
    {
        var code = s_versions.Select(codes.Code).ToArray();
        var system = s_systems.Select(codes.Code).ToArray();
        return [.. days
            .Where(d => new DateOnly(d.Date.Year, d.Date.Month, 1) <= to)
            .GroupBy(d => new DateOnly(d.Date.Year, d.Date.Month, 1))
            .OrderBy(g => g.Key)
            .Select(month => new MonthSegment<InstallationMonthRow>("dbt", month.Key, [.. month
                .GroupBy(d => (d.Key, d.IsCi, d.Version, d.Os))
                .Select(g => new InstallationMonthRow(g.Key.Key, g.Key.IsCi, system[g.Key.Os], 0, 0, 0, code[g.Key.Version],
                    g.Aggregate(0, (m, d) => m | (1 << (d.Date.Day - 1))), g.Where(d => d.Ok).Aggregate(0, (m, d) => m | (1 << (d.Date.Day - 1)))))
                .OrderBy(r => r.Key)])),];
    }

    /// <summary>Every count as text, dictionaries in key order.</summary>
    private static string Canonical(InstallationCounts c) => JsonSerializer.Serialize(new
    {
        c.Exclusions,
        c.Active,
        c.New,
        Daily = c.Daily.OrderBy(p => p.Key).ToList(),
        Weekly = c.Weekly.OrderBy(p => p.Key).ToList(),
        Monthly = c.Monthly.OrderBy(p => p.Key).ToList(),
        Lifecycle = c.Lifecycle.OrderBy(p => p.Key).ToList(),
        Cohorts = c.Cohorts.OrderBy(p => p.Key).Select(p => (p.Key, p.Value.OrderBy(k => k.Key).ToList())).ToList(),
        Adoption = c.Adoption.OrderBy(p => p.Key).Select(p => (p.Key, p.Value.OrderBy(v => v.Key, StringComparer.Ordinal).ToList())).ToList(),
        PreviousDaily = c.PreviousDaily.OrderBy(p => p.Key).ToList(),
    }, new JsonSerializerOptions { IncludeFields = true });

    public static TheoryData<int> Seeds() => [.. Enumerable.Range(1, 16)];

    [Theory]
    [MemberData(nameof(Seeds))]
    public void Counts_RandomActivityAndViews_EqualTheWalk(int seed)
    {
        var random = new Random(seed);
        var codes = new StringCodes();
        var (days, first) = RandomActivity(random, 400);
        for (var trial = 0; trial < 12; trial++)
        {
            var to = s_last.AddDays(-random.Next(0, 90));
            var from = to.AddDays(-random.Next(0, 100));
            var env = new[] { "all", "ci", "notci" }[random.Next(3)];
            // Half the views filter by OS, a third by version ("unknown" is a version's text too; null is no filter).
            var os = random.Next(2) == 0 ? s_systems[random.Next(s_systems.Length)] : null;
            var version = random.Next(3) == 0 ? s_versions[random.Next(1, s_versions.Length)] : null;
            var query = InsightQuery.Parse(null, null, from.ToString("yyyy-MM-dd"), to.ToString("yyyy-MM-dd"), env, os, version,
                random.Next(2) == 0 ? "previous" : null, s_last);
            var rule = ActiveRule.All[random.Next(ActiveRule.All.Count)];
            var window = InstallationsService.WindowFor(query);
            var segments = Segments(days, codes, to).Where(s => s.Month >= new DateOnly(window.Window.From.Year, window.Window.From.Month, 1)).ToList();
            var filter = ReachFilter.For(query, codes);
            var indexes = InstallationIndexes.Build(segments, window.Window.From, first, codes, filter, rule == ActiveRuleKind.SuccessfulRun);
            Assert.True(indexes.CanAnswer(window.Window.From, window.To));

            var counts = new InstallationIndexCounts(window, rule);
            counts.Add(indexes, filter.IndexStream!.Value, codes);

            var walked = InstallationsService.Walk(segments, window, rule, filter, first, codes);
            Assert.Equal(Canonical(walked), Canonical(counts.Result()));
        }
    }

    [Fact]
    public void CanAnswer_InstallationWithoutFirstSighting_IsFalse()
    {
        var codes = new StringCodes();
        var (days, first) = RandomActivity(new Random(3), 50);
        first[7] = default;
        var segments = Segments(days, codes, s_last);

        var indexes = InstallationIndexes.Build(segments, s_first, first, codes);

        Assert.False(indexes.CanAnswer(s_first, s_last));
    }

    [Theory]
    [InlineData(ActiveRuleKind.SuccessfulRun, false)]
    [InlineData(ActiveRuleKind.AnyEvent, true)]
    public void Add_IndexesOverOtherDaysThanTheRule_Throws(ActiveRuleKind rule, bool successfulDays)
    {
        var codes = new StringCodes();
        var (days, first) = RandomActivity(new Random(4), 30);
        var indexes = InstallationIndexes.Build(Segments(days, codes, s_last), s_first, first, codes, successfulDays: successfulDays);
        var window = InstallationsService.WindowFor(new InsightQuery { Range = null, From = s_last.AddDays(-6), To = s_last });

        Assert.Throws<ArgumentException>(() => new InstallationIndexCounts(window, rule).Add(indexes, 0, codes));
    }

    /// <summary>
    /// CI-only is a fact about the installation's whole history: one that ran outside CI only before the range (in the
    /// weeks the page reads for cohorts and the previous period) is not CI-only and counts under "excluding CI-only";
    /// one that only ever ran in CI is left out of every count, the previous period's line too. Walk and indexes agree.
    /// </summary>
    [Theory]
    [InlineData(null)]
    [InlineData("previous")]
    public void Counts_CiOnlyJudgedOverTheWholeHistory_SameWithOrWithoutCompare(string? compare)
    {
        var codes = new StringCodes();
        var to = new DateOnly(2026, 11, 20);
        var from = to.AddDays(-6);
        List<Day> days =
        [
            new(1, to.AddDays(-1), IsCi: true, 1, Ok: true), new(1, from.AddDays(-3), IsCi: false, 1, Ok: true),
            new(2, to.AddDays(-2), IsCi: true, 1, Ok: true), new(2, from.AddDays(-4), IsCi: true, 1, Ok: true),
        ];
        var first = new InstallationDays[]
        {
            default,
            new(from.AddDays(-3).DayNumber, to.AddDays(-1).DayNumber, CiOnly: false),
            new(from.AddDays(-4).DayNumber, to.AddDays(-2).DayNumber, CiOnly: true),
        };
        var query = InsightQuery.Parse(null, null, from.ToString("yyyy-MM-dd"), to.ToString("yyyy-MM-dd"), "all", null, null, compare, to);
        var window = InstallationsService.WindowFor(query);
        var segments = Segments(days, codes, to);

        var any = InstallationsService.Walk(segments, window, ActiveRuleKind.AnyEvent, ReachFilter.All, first, codes);
        var noCi = InstallationsService.Walk(segments, window, ActiveRuleKind.ExcludeCiOnly, ReachFilter.All, first, codes);
        var indexed = new InstallationIndexCounts(window, ActiveRuleKind.ExcludeCiOnly);
        indexed.Add(InstallationIndexes.Build(segments, window.Window.From, first, codes), 0, codes);

        Assert.Equal(new RuleExclusions(AnyEvent: 2, WithoutSuccess: 0, CiOnly: 1, SingleDay: 0), any.Exclusions);
        Assert.Equal(1, noCi.Active);
        Assert.Equal([KeyValuePair.Create(to.AddDays(-1), 1L)], noCi.Daily.ToList());
        // The previous period's line: installation 1 (outside CI there), never installation 2.
        Assert.Equal(compare is null ? [] : [KeyValuePair.Create(from.AddDays(-3).AddDays(7), 1L)], noCi.PreviousDaily.ToList());
        Assert.Equal(Canonical(noCi), Canonical(indexed.Result()));
    }
}
