namespace UsageDashboard.Insights;

/// <summary>One dimension's card: a donut of installations now, shares over time, and the table behind both.</summary>
public sealed record DimensionPanel(
    string Key, string Title, string? FilterParam, string PieJson, string OverTimeJson, IReadOnlyList<ShareRow> Rows, string Note)
{
    /// <summary>Per row of <see cref="Rows"/>: its runs and their success rate (for Jetty, panics per 1,000 invocations).</summary>
    public IReadOnlyList<(string Runs, RateCell Rate)> Outcomes { get; init; } = [];

    /// <summary>The heading of the rate column.</summary>
    public string RateTitle { get; init; } = "Success rate";
}

/// <summary><c>/environments</c> as plain data.</summary>
public sealed record EnvironmentsViewModel
{
    public required InsightQuery Query { get; init; }
    public required IReadOnlyList<string> Tools { get; init; }
    public required IReadOnlyList<DimensionPanel> Panels { get; init; }
    public required string GrainNoun { get; init; }
    public required string PeriodLabel { get; init; }
    public required string? EmptyReason { get; init; }

    /// <summary>Slices shown on a donut; the rest are summed as "Other" (the table lists them all).</summary>
    public const int TopSlices = 8;

    public static EnvironmentsViewModel Create(EnvironmentsData data)
    {
        var q = data.Query;
        var buckets = TimeBuckets.For(q, data.Grain, data.Today);
        var panels = data.Dimensions.Select(d =>
        {
            var (title, param) = d.Dimension switch
            {
                EnvironmentDimension.Os => ("Operating system", "os"),
                EnvironmentDimension.OsVersion => ("OS version", (string?)null),
                EnvironmentDimension.Runtime => ("Runtime", "runtime"),
                // Values read "python 3.11.4": rows link to both filters; the chart cannot (FilterParam is one value).
                EnvironmentDimension.RuntimeVersion => ("Runtime version", (string?)null),
                _ => ("Tool version", "version"),
            };
            var total = Math.Max(1, d.Values.Sum(v => v.Installations));
            var slices = d.Values.Take(TopSlices).Select(v => (v.Value, v.Installations)).ToList();
            if (d.Values.Count > TopSlices)
            {
                slices.Add((SeriesHelper.Other, d.Values.Skip(TopSlices).Sum(v => v.Installations)));
            }
            var series = SeriesHelper.TopN(d.OverTime.Select(b => b.InstallationsByVersion).ToList(), 6, asShare: true,
                tieBreak: d.Dimension == EnvironmentDimension.ToolVersion ? VersionOrder.Instance : null);
            var rows = d.Values.Select(v => new ShareRow(v.Value, Format.Count(v.Installations), Format.Percent((double)v.Installations / total),
                FilterUrl(q, d.Dimension, v.Value))).ToList();
            var note = d.Dimension is EnvironmentDimension.OsVersion
                ? "Not a filter yet: narrow by OS instead."
                : d.Dimension is EnvironmentDimension.RuntimeVersion
                    ? "Click a row to filter every page by this runtime version (and its sub-versions)."
                    : $"Click a slice or a row to filter every page by this {title.ToLowerInvariant()}.";
            var panics = PanicRate.Applies(q.Tool);
            return new DimensionPanel(d.Dimension.ToString().ToLowerInvariant(), title, param, ChartJson.Pie(slices),
                ChartJson.TimeSeries(buckets, data.Grain, series.Select(s => new SeriesSpec(s.Name, s.Values, SeriesKind.Area, "share")).ToList(), percent: true),
                rows, note)
            {
                Outcomes = d.Values.Select(v => (Format.Count(v.Runs), PanicRate.SuccessOrPanics(q.Tool, v.Outcomes ?? Insights.Outcomes.Zero))).ToList(),
                RateTitle = panics ? "Panics per 1,000" : "Success rate",
            };
        }).ToList();

        return new EnvironmentsViewModel
        {
            Query = q,
            Tools = data.Tools,
            Panels = panels,
            GrainNoun = TimeBuckets.Noun(data.Grain),
            PeriodLabel = $"{Format.Date(q.From)} – {Format.Date(q.To)}",
            EmptyReason = data.Installations == 0 ? EmptyState.Reason(q, data.Tools) : null,
        };
    }

    /// <summary>The link that filters every page by a row's value; null for values that are no filter (unknown, OS versions).</summary>
    private static string? FilterUrl(InsightQuery q, EnvironmentDimension dimension, string value)
    {
        if (value is "unknown")
        {
            return null;
        }
        return dimension switch
        {
            EnvironmentDimension.Os => DashboardUrls.Environments(q with { Os = value }),
            EnvironmentDimension.ToolVersion => DashboardUrls.Environments(q with { Version = value }),
            EnvironmentDimension.Runtime => DashboardUrls.Environments(q with { Runtime = value }),
            // "python 3.11.4": the runtime, then its version ("?" when unknown).
            EnvironmentDimension.RuntimeVersion when value.Split(' ', 2) is [var runtime, var version] && runtime != "unknown" && version != "?" =>
                DashboardUrls.Environments(q with { Runtime = runtime, RuntimeVersion = version }),
            _ => null,
        };
    }
}
