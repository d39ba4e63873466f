namespace UsageDashboard.Insights;

public sealed record CommandRankRow(
    string Tool, string Command, string Url, string Runs, string Share, string Installations, RateCell Success,
    string P50, string P95, ChangeCell RunsChange, ChangeCell SuccessChange);

/// <summary><c>/commands</c> as plain data: built by <see cref="Create"/>, rendered by the Razor view.</summary>
public sealed record CommandsViewModel
{
    public required InsightQuery Query { get; init; }
    public required IReadOnlyList<string> Tools { get; init; }
    public required IReadOnlyList<CommandRankRow> Rows { get; init; }
    public required string TotalRuns { get; init; }
    public required string PeriodLabel { get; init; }
    public required string PreviousPeriodLabel { get; init; }
    public required string? EmptyReason { get; init; }

    public static CommandsViewModel Create(CommandsData data)
    {
        var q = data.Query;
        var total = Math.Max(1, data.TotalRuns);
        var rows = data.Commands.Select(c => new CommandRankRow(
            c.Tool, c.Command,
            // Across all tools, a command link narrows to its tool: names repeat between tools.
            DashboardUrls.Command(q.Tool is null ? q with { Tool = c.Tool } : q, c.Command),
            Format.Count(c.Current.Runs), Format.Percent((double)c.Current.Runs / total), Format.Count(c.Installations),
            PanicRate.SuccessOrPanics(c.Tool, c.Current), Format.Duration(c.P50Ms), Format.Duration(c.P95Ms),
            ChangeCell.OfCount(c.Current.Runs, c.Previous.Runs), ChangeCell.OfRate(c.Current.SuccessRate, c.Previous.SuccessRate)))
            .ToList();
        var (prevFrom, prevTo) = q.PreviousPeriod;
        return new CommandsViewModel
        {
            Query = q,
            Tools = data.Tools,
            Rows = rows,
            TotalRuns = Format.Count(data.TotalRuns),
            PeriodLabel = $"{Format.Date(q.From)} – {Format.Date(q.To)}",
            PreviousPeriodLabel = $"{Format.Date(prevFrom)} – {Format.Date(prevTo)}",
            EmptyReason = rows.Count == 0 ? EmptyState.Reason(q, data.Tools) : null,
        };
    }
}

public sealed record SliceRow(string Name, string Runs, string Share, string Installations, RateCell Success, string? FilterUrl);

public sealed record ErrorRow(string ErrorType, string Runs, string Share, string Installations, string LastSeen);

public sealed record BucketRow(string Label, string Note, string Runs, string Succeeded, string Failed, string Aborted, RateCell Success);

/// <summary><c>/commands/{command}</c> as plain data.</summary>
public sealed record CommandDetailViewModel
{
    public required InsightQuery Query { get; init; }
    public required IReadOnlyList<string> Tools { get; init; }
    public required string Command { get; init; }
    public required IReadOnlyList<HeadlineTile> Tiles { get; init; }
    public required string RunsChartJson { get; init; }
    public required IReadOnlyList<BucketRow> BucketRows { get; init; }
    public required string VersionChartJson { get; init; }
    public required string OsChartJson { get; init; }
    public required IReadOnlyList<SliceRow> Versions { get; init; }
    public required IReadOnlyList<SliceRow> OperatingSystems { get; init; }
    public required IReadOnlyList<ErrorRow> Errors { get; init; }
    public required string GrainNoun { get; init; }
    public required string PeriodLabel { get; init; }
    public required string? EmptyReason { get; init; }

    public static CommandDetailViewModel Create(CommandDetailData data)
    {
        var q = data.Query;
        var buckets = TimeBuckets.For(q, data.Grain, data.Today);
        var outcomes = data.Buckets.Select(b => b.Outcomes).ToList();
        var runsSeries = new List<SeriesSpec>
        {
            new("Succeeded", outcomes.Select(o => (double?)o.Succeeded).ToList(), SeriesKind.Bar, "runs", SeriesColors.Succeeded),
            new("Failed", outcomes.Select(o => (double?)o.Failed).ToList(), SeriesKind.Bar, "runs", SeriesColors.Failed),
            new("Aborted", outcomes.Select(o => (double?)o.Aborted).ToList(), SeriesKind.Bar, "runs", SeriesColors.Aborted),
            new("Other (running, skipped, unknown)", outcomes.Select(o => (double?)(o.Runs - o.Judged)).ToList(), SeriesKind.Bar, "runs", SeriesColors.Other),
        };
        if (data.PreviousRunsPerBucket is { } previousRuns)
        {
            runsSeries.Add(new SeriesSpec("Previous period (runs)", previousRuns.Select(v => (double?)v).ToList(), Reference: true));
        }
        var runsChart = ChartJson.TimeSeries(buckets, data.Grain, runsSeries);
        var versionSeries = SeriesHelper.TopN(data.Buckets.Select(b => b.ByVersion).ToList(), 6, tieBreak: VersionOrder.Instance);
        var osSeries = SeriesHelper.TopN(data.Buckets.Select(b => b.ByOs).ToList(), 6);
        var total = Math.Max(1, data.Current.Runs);
        var totalFailures = Math.Max(1, data.Current.Failed + data.Current.Aborted);

        var tiles = new List<HeadlineTile>
        {
            new("Runs", Format.Count(data.Current.Runs), $"previous period: {Format.Count(data.Previous.Runs)}", Definitions.Run,
                ChangeCell.OfCount(data.Current.Runs, data.Previous.Runs)),
            new("Installations", Format.Count(data.Installations), "distinct installations running it", Definitions.ActiveInstallation),
            PanicRate.Applies(q.Tool)
                ? new("Panics per 1,000 invocations", PanicRate.Text(PanicRate.Of(data.Current)), PanicRate.Detail(data.Current), PanicRate.Definition,
                    PanicRate.Change(data.Current, data.Previous))
                : new("Success rate", Format.Percent(data.Current.SuccessRate.Value), RateDetail(data.Current.SuccessRate), Definitions.SuccessRate,
                    ChangeCell.OfRate(data.Current.SuccessRate, data.Previous.SuccessRate)),
            new("Duration p50 / p95", $"{Format.Duration(data.P50Ms)} / {Format.Duration(data.P95Ms)}", "of runs that reported a duration", Definitions.Duration),
        };

        return new CommandDetailViewModel
        {
            Query = q,
            Tools = data.Tools,
            Command = data.Command,
            Tiles = tiles,
            RunsChartJson = runsChart,
            BucketRows = buckets.Select((b, i) => new BucketRow(TimeBuckets.Label(b.Start, data.Grain), TimeBuckets.Note(b),
                Format.Count(outcomes[i].Runs), Format.Count(outcomes[i].Succeeded), Format.Count(outcomes[i].Failed),
                Format.Count(outcomes[i].Aborted), PanicRate.SuccessOrPanics(q.Tool, outcomes[i]))).ToList(),
            VersionChartJson = ChartJson.TimeSeries(buckets, data.Grain, versionSeries.Select(s => new SeriesSpec(s.Name, s.Values, SeriesKind.Bar, "v")).ToList()),
            OsChartJson = ChartJson.TimeSeries(buckets, data.Grain, osSeries.Select(s => new SeriesSpec(s.Name, s.Values, SeriesKind.Bar, "os")).ToList()),
            Versions = data.Versions.Select(v => Slice(q.Tool, v, total, v.Name == "unknown" ? null : DashboardUrls.Command(q with { Version = v.Name }, data.Command))).ToList(),
            OperatingSystems = data.OperatingSystems.Select(o => Slice(q.Tool, o, total, o.Name == "unknown" ? null : DashboardUrls.Command(q with { Os = o.Name }, data.Command))).ToList(),
            Errors = data.Errors.Select(e => new ErrorRow(e.ErrorType, Format.Count(e.Runs), Format.Percent((double)e.Runs / totalFailures),
                Format.Count(e.Installations), Format.DateTime(e.LastSeen))).ToList(),
            GrainNoun = TimeBuckets.Noun(data.Grain),
            PeriodLabel = $"{Format.Date(q.From)} – {Format.Date(q.To)}",
            EmptyReason = data.Current.Runs == 0 ? EmptyState.Reason(q, data.Tools, $"runs of '{data.Command}'") : null,
        };
    }

    internal static string RateDetail(Rate rate) =>
        rate.Total == 0 ? "no finished runs" : $"95% CI {Format.Interval(rate.Interval)} · n = {Format.Count(rate.Total)}";

    private static SliceRow Slice(string? tool, SliceStats s, long total, string? url) =>
        new(s.Name, Format.Count(s.Outcomes.Runs), Format.Percent((double)s.Outcomes.Runs / total), Format.Count(s.Installations),
            PanicRate.SuccessOrPanics(tool, s.Outcomes), url);
}
