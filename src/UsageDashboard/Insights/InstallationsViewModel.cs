namespace UsageDashboard.Insights;

/// <summary>One choice of the "active" rule, with how many installations it leaves out in the period.</summary>
public sealed record RuleOption(string Token, string Label, string Definition, string Excluded, string Url, bool Selected);

public sealed record ActiveRow(string Label, string Note, string Installations);

public sealed record LifecycleRow(string Week, string Note, string New, string Returning, string Resurrected, string Dormant);

public sealed record CohortRow(string Week, string Size, IReadOnlyList<string> Cells);

/// <summary><c>/installations</c> as plain data.</summary>
public sealed record InstallationsViewModel
{
    public required InsightQuery Query { get; init; }
    public required IReadOnlyList<string> Tools { get; init; }
    public required ActiveRuleKind Rule { get; init; }
    public required string RuleToken { get; init; }
    public required string RuleDefinition { get; init; }
    public required IReadOnlyList<RuleOption> Rules { get; init; }
    public required IReadOnlyList<HeadlineTile> Tiles { get; init; }
    public required string DailyChartJson { get; init; }
    public required string WeeklyChartJson { get; init; }
    public required string MonthlyChartJson { get; init; }
    public required IReadOnlyList<ActiveRow> DailyRows { get; init; }
    public required IReadOnlyList<ActiveRow> WeeklyRows { get; init; }
    public required IReadOnlyList<ActiveRow> MonthlyRows { get; init; }
    public required string LifecycleChartJson { get; init; }
    public required IReadOnlyList<LifecycleRow> LifecycleRows { get; init; }
    public required string CohortChartJson { get; init; }
    public required IReadOnlyList<CohortRow> CohortRows { get; init; }
    public required string AdoptionChartJson { get; init; }
    public required IReadOnlyList<AdoptionRow> AdoptionRows { get; init; }
    public required IReadOnlyList<string> AdoptionSeries { get; init; }
    public required string AdoptionGrainNoun { get; init; }
    public required string PeriodLabel { get; init; }
    public required string? EmptyReason { get; init; }

    public static InstallationsViewModel Create(InstallationsData data)
    {
        var q = data.Query;
        var today = data.Today;
        var days = TimeBuckets.For(q, Grain.Day, today);
        var weeks = TimeBuckets.For(q, Grain.Week, today);
        var months = TimeBuckets.For(q, Grain.Month, today);

        var rules = ActiveRule.All.Select(r => new RuleOption(
            ActiveRule.Token(r), ActiveRule.Label(r), ActiveRule.Definition(r),
            r == ActiveRuleKind.AnyEvent ? $"{Format.Count(data.Exclusions.AnyEvent)} active" : $"excludes {Format.Count(data.Exclusions.Excluded(r))}",
            DashboardUrls.Installations(q, ActiveRule.Token(r)), r == data.Rule)).ToList();

        var completeDays = data.Daily.Where((p, i) => !days[i].Incomplete).ToList();
        var averageDaily = completeDays.Count == 0 ? (double?)null : completeDays.Average(p => (double)p.Installations);

        var lifecycle = data.Lifecycle;
        var lifecycleChart = ChartJson.TimeSeries(weeks, Grain.Week,
        [
            new SeriesSpec("New", lifecycle.Select(l => (double?)l.New).ToList(), SeriesKind.Bar, "lc", SeriesColors.New),
            new SeriesSpec("Returning", lifecycle.Select(l => (double?)l.Returning).ToList(), SeriesKind.Bar, "lc", SeriesColors.Returning),
            new SeriesSpec("Resurrected", lifecycle.Select(l => (double?)l.Resurrected).ToList(), SeriesKind.Bar, "lc", SeriesColors.Resurrected),
            new SeriesSpec("Dormant", lifecycle.Select(l => (double?)-l.Dormant).ToList(), SeriesKind.Bar, "lc", SeriesColors.Dormant),
        ]);

        var cohortX = Enumerable.Range(0, InstallationsService.CohortWeeks).Select(k => "W" + k.ToString(System.Globalization.CultureInfo.InvariantCulture)).ToList();
        var cohortY = data.Cohorts.Select(c => Format.Date(c.Week)).ToList();
        var cells = new List<(int, int, double, string)>();
        var cohortRows = new List<CohortRow>();
        for (var y = 0; y < data.Cohorts.Count; y++)
        {
            var cohort = data.Cohorts[y];
            var texts = new List<string>();
            for (var k = 0; k < cohort.Retained.Count; k++)
            {
                if (cohort.Retained[k] is not { } n || cohort.Size == 0)
                {
                    texts.Add(cohort.Retained[k] is null ? "" : "–");
                    continue;
                }
                var share = (double)n / cohort.Size;
                // The week holding today is still in progress: marked with "…" rather than read as a drop.
                var inProgress = cohort.Week.AddDays(7 * k) <= today && today < cohort.Week.AddDays(7 * (k + 1));
                var text = $"{Format.Percent(share, 0)}{(inProgress ? "…" : "")}";
                cells.Add((k, y, share * 100, $"cohort {Format.Date(cohort.Week)}, week {k.ToString(System.Globalization.CultureInfo.InvariantCulture)}: {text} ({Format.Count(n)} of {Format.Count(cohort.Size)})"));
                texts.Add($"{text} ({Format.Count(n)})");
            }
            cohortRows.Add(new CohortRow(Format.Date(cohort.Week), Format.Count(cohort.Size), texts));
        }

        var adoptionBuckets = TimeBuckets.For(q, data.AdoptionGrain, today);
        var adoption = SeriesHelper.TopN(data.Adoption.Select(a => a.InstallationsByVersion).ToList(), 8, asShare: true, tieBreak: VersionOrder.Instance);

        var excluded = data.Exclusions.Excluded(data.Rule);
        return new InstallationsViewModel
        {
            Query = q,
            Tools = data.Tools,
            Rule = data.Rule,
            RuleToken = ActiveRule.Token(data.Rule),
            RuleDefinition = ActiveRule.Definition(data.Rule),
            Rules = rules,
            Tiles =
            [
                new("Active installations", Format.Count(data.Active), $"rule: {ActiveRule.Label(data.Rule).ToLowerInvariant()}", ActiveRule.Definition(data.Rule)),
                new("New installations", Format.Count(data.New), "first seen in the period, and active under the rule", "Installations whose first event of all time falls in the period."),
                new("Daily active (average)", averageDaily is null ? "–" : averageDaily.Value.ToString("0.0", System.Globalization.CultureInfo.InvariantCulture),
                    $"over {Format.Count(completeDays.Count)} complete days", "Mean of daily active installations over days that are complete (today is left out)."),
                new("Left out by the rule", Format.Count(excluded),
                    data.Exclusions.AnyEvent == 0 ? "of 0" : $"{Format.Percent((double)excluded / data.Exclusions.AnyEvent)} of {Format.Count(data.Exclusions.AnyEvent)} with any event",
                    "Installations with an event in the period that the chosen rule does not count as active."),
            ],
            DailyChartJson = ChartJson.TimeSeries(days, Grain.Day, data.PreviousDaily is null
                ? [new SeriesSpec("Daily active", data.Daily.Select(p => (double?)p.Installations).ToList(), SeriesKind.Area)]
                : [
                    new SeriesSpec("Daily active", data.Daily.Select(p => (double?)p.Installations).ToList(), SeriesKind.Area),
                    new SeriesSpec("Previous period", data.PreviousDaily.Select(v => (double?)v).ToList(), Reference: true),
                ]),
            WeeklyChartJson = ChartJson.TimeSeries(weeks, Grain.Week, [new SeriesSpec("Weekly active", data.Weekly.Select(p => (double?)p.Installations).ToList(), SeriesKind.Bar)]),
            MonthlyChartJson = ChartJson.TimeSeries(months, Grain.Month, [new SeriesSpec("Monthly active", data.Monthly.Select(p => (double?)p.Installations).ToList(), SeriesKind.Bar)]),
            DailyRows = Rows(days, Grain.Day, data.Daily),
            WeeklyRows = Rows(weeks, Grain.Week, data.Weekly),
            MonthlyRows = Rows(months, Grain.Month, data.Monthly),
            LifecycleChartJson = lifecycleChart,
            LifecycleRows = lifecycle.Select((l, i) => new LifecycleRow(Format.Date(l.Week), TimeBuckets.Note(weeks[i]), Format.Count(l.New),
                Format.Count(l.Returning), Format.Count(l.Resurrected), Format.Count(l.Dormant))).ToList(),
            CohortChartJson = ChartJson.Heatmap(cohortX, cohortY, cells, "weeks since first seen", "cohort (week first seen)"),
            CohortRows = cohortRows,
            AdoptionChartJson = ChartJson.TimeSeries(adoptionBuckets, data.AdoptionGrain,
                adoption.Select(s => new SeriesSpec(s.Name, s.Values, SeriesKind.Area, "share")).ToList(), percent: true),
            AdoptionRows = adoptionBuckets.Select((b, i) => new AdoptionRow(TimeBuckets.Label(b.Start, data.AdoptionGrain), TimeBuckets.Note(b),
                adoption.Select(s => Format.Percent(s.Values[i] / 100)).ToList())).ToList(),
            AdoptionSeries = adoption.Select(s => s.Name).ToList(),
            AdoptionGrainNoun = TimeBuckets.Noun(data.AdoptionGrain),
            PeriodLabel = $"{Format.Date(q.From)} – {Format.Date(q.To)}",
            EmptyReason = data.Active == 0
                ? data.Exclusions.AnyEvent > 0
                    ? $"No installation counts as active under the rule '{ActiveRule.Label(data.Rule)}', though {Format.Count(data.Exclusions.AnyEvent)} sent events: choose another rule."
                    : EmptyState.Reason(q, data.Tools)
                : null,
        };
    }

    private static List<ActiveRow> Rows(IReadOnlyList<Bucket> buckets, Grain grain, IReadOnlyList<ActivePoint> points) =>
        buckets.Select((b, i) => new ActiveRow(TimeBuckets.Label(b.Start, grain), TimeBuckets.Note(b), Format.Count(points[i].Installations))).ToList();
}
