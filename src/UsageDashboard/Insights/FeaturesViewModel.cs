namespace UsageDashboard.Insights;

/// <summary>One row of a feature table, formatted.</summary>
public sealed record FeatureRow(string Value, string Runs, RateCell Rate, string Installations, string Projects);

/// <summary>One key's card: its values (the top ones) and where the key comes from.</summary>
public sealed record FeaturePanel(string Key, string Title, string Source, IReadOnlyList<FeatureRow> Rows, string? More, string ApiUrl, string CsvUrl);

/// <summary><c>/features</c> as plain data.</summary>
public sealed record FeaturesViewModel
{
    public required InsightQuery Query { get; init; }
    public required IReadOnlyList<string> Tools { get; init; }
    public required IReadOnlyList<FeaturePanel> Panels { get; init; }
    public required string PeriodLabel { get; init; }
    public required string? ProjectsLine { get; init; }
    public required string? EmptyReason { get; init; }
    /// <summary>Says that installations and projects leave out Jetty's dev builds, on the one view where they do.</summary>
    public string? DevBuildsNote { get; init; }

    /// <summary>Values listed per key; the API lists them all.</summary>
    public const int TopValues = 25;

    public static FeaturesViewModel Create(FeaturesData data)
    {
        var q = data.Query;
        var panels = data.Tables.Select(t => new FeaturePanel(
            t.Key.Key, t.Key.Title, t.Key.Source,
            [.. t.Values.Take(TopValues).Select(v => new FeatureRow(v.Display, Format.Count(v.Runs), RateCell.Of(v.SuccessRate),
                Format.Count(v.Installations), Format.Count(v.Projects)))],
            t.Values.Count > TopValues ? $"{Format.Count(t.Values.Count - TopValues)} more values in the CSV." : null,
            DashboardUrls.PropertiesApi(q, t.Key.Key), DashboardUrls.PropertiesApi(q, t.Key.Key, "csv"))).ToList();
        return new FeaturesViewModel
        {
            Query = q,
            Tools = data.Tools,
            Panels = panels,
            PeriodLabel = $"{Format.Date(q.From)} – {Format.Date(q.To)}",
            ProjectsLine = DescribeProjects(data.Projects),
            DevBuildsNote = q.ExcludesDevBuilds
                ? "Installations and projects leave out Jetty's dev builds (runs count them); choose the environment \"all\" to count every build."
                : null,
            EmptyReason = data.Tables.All(t => t.Values.Count == 0)
                ? data.Tools.Count == 0 ? EmptyState.NoData : $"No feature values from {q.Tool} in this period and filters: its telemetry carries none of the keys below, or the range is too narrow."
                : null,
        };
    }

    /// <summary>
    /// "projects: 1,234 · organisations: 56 (Meltano runs with a random project id are not counted: 3.0 %)", or
    /// null when the tool names neither. The exclusion is stated whenever a run was excluded.
    /// </summary>
    public static string? DescribeProjects(ProjectCounts counts)
    {
        var parts = new List<string>();
        if (counts.Projects is { } p)
        {
            parts.Add($"projects: {Format.Count(p)}");
        }
        if (counts.Organisations is { } o)
        {
            parts.Add($"organisations: {Format.Count(o)}");
        }
        if (parts.Count == 0)
        {
            return null;
        }
        var line = string.Join(" · ", parts);
        return counts.ExcludedRuns > 0
            ? $"{line} (Meltano runs with a random project id are not counted: {Format.Percent(counts.ExcludedShare)} of runs, {Format.Count(counts.ExcludedRuns)})"
            : line;
    }
}
