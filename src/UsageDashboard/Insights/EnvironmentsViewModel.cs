namespace UsageDashboard.Insights;

/// <summary>One dimension's card: a donut of installations now, shares over time, and the table behind both.</summary>
public sealed record DimensionPanel(
    string Key, string Title, string? FilterParam, string PieJson, string OverTimeJson, IReadOnlyList<ShareRow> Rows, string Note);

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
                EnvironmentDimension.Runtime => ("Runtime", null),
                EnvironmentDimension.RuntimeVersion => ("Runtime version", null),
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
                param is null || v.Value is "unknown" ? null : DashboardUrls.Environments(param == "os" ? q with { Os = v.Value } : q with { Version = v.Value }))).ToList();
            var note = param is null
                ? "Not a filter yet: narrow by OS or tool version instead."
                : $"Click a slice or a row to filter every page by this {title.ToLowerInvariant()}.";
            return new DimensionPanel(d.Dimension.ToString().ToLowerInvariant(), title, param, ChartJson.Pie(slices),
                ChartJson.TimeSeries(buckets, data.Grain, series.Select(s => new SeriesSpec(s.Name, s.Values, SeriesKind.Area, "share")).ToList(), percent: true),
                rows, note);
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
}
