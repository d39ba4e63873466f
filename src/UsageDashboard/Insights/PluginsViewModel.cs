namespace UsageDashboard.Insights;

public sealed record PluginRankRow(
    string Tool, string Name, string Type, string Url, string Installations, string Runs, RateCell Success, RateCell Aborted, string LatestVersion);

/// <summary><c>/plugins</c> as plain data.</summary>
public sealed record PluginsViewModel
{
    public required InsightQuery Query { get; init; }
    public required IReadOnlyList<string> Tools { get; init; }
    public required IReadOnlyList<PluginRankRow> Rows { get; init; }
    public required string PeriodLabel { get; init; }
    public required string? EmptyReason { get; init; }

    public static PluginsViewModel Create(PluginsData data)
    {
        var q = data.Query;
        // A name used by plugins of two tools is ambiguous across all tools: its link names the tool.
        var ambiguous = data.Plugins.GroupBy(p => p.Key, StringComparer.Ordinal).Where(g => g.Select(p => p.Tool).Distinct().Count() > 1)
            .Select(g => g.Key).ToHashSet(StringComparer.Ordinal);
        var rows = data.Plugins.Select(p => new PluginRankRow(
            p.Tool, p.Name, p.Type,
            DashboardUrls.Plugin(ambiguous.Contains(p.Key) ? q with { Tool = p.Tool } : q, p.Key),
            Format.Count(p.Installations), Format.Count(p.Outcomes.Runs),
            PanicRate.SuccessOrPanics(p.Tool, p.Outcomes), RateCell.Of(p.Outcomes.AbortedRate), p.LatestVersion ?? "–")).ToList();
        return new PluginsViewModel
        {
            Query = q,
            Tools = data.Tools,
            Rows = rows,
            PeriodLabel = $"{Format.Date(q.From)} – {Format.Date(q.To)}",
            EmptyReason = rows.Count == 0 ? EmptyState.Reason(q, data.Tools, "plugin runs") + " Plugins appear when events list them (plugins[] in the native format)." : null,
        };
    }
}

public sealed record PluginVersionRow(string Version, string Runs, string Installations, RateCell Success, RateCell Aborted, string FirstSeen, bool FirstSeenInPeriod);

public sealed record MatrixRow(string Os, IReadOnlyList<RateCell?> Cells);

/// <summary><c>/plugins/{plugin}</c> as plain data.</summary>
public sealed record PluginDetailViewModel
{
    public required InsightQuery Query { get; init; }
    public required IReadOnlyList<string> Tools { get; init; }
    /// <summary>The URL key.</summary>
    public required string Plugin { get; init; }
    /// <summary>What the page calls it (a private Meltano plugin's digest is not a title).</summary>
    public required string Title { get; init; }
    public required string Subtitle { get; init; }
    public required IReadOnlyList<HeadlineTile> Tiles { get; init; }
    public required IReadOnlyList<PluginVersionRow> Versions { get; init; }
    public required string VersionChartJson { get; init; }
    public required IReadOnlyList<string> MatrixVersions { get; init; }
    public required IReadOnlyList<MatrixRow> Matrix { get; init; }
    public required string MatrixChartJson { get; init; }
    public required IReadOnlyList<ErrorRow> Errors { get; init; }
    public required string AdoptionChartJson { get; init; }
    public required IReadOnlyList<AdoptionRow> AdoptionRows { get; init; }
    public required IReadOnlyList<string> AdoptionSeries { get; init; }
    public required string GrainNoun { get; init; }
    public required string PeriodLabel { get; init; }
    public required string? EmptyReason { get; init; }

    /// <summary>Versions shown as columns of the matrix; the rest are left to the CSV.</summary>
    public const int MatrixVersionLimit = 8;

    public static PluginDetailViewModel Create(PluginDetailData data)
    {
        var q = data.Query;
        var buckets = TimeBuckets.For(q, data.Grain, data.Today);
        var versionsAsc = data.Versions.OrderBy(v => v.Version, VersionOrder.Instance).ToList();

        var versionRows = data.Versions.Select(v => new PluginVersionRow(
            v.Version, Format.Count(v.Outcomes.Runs), Format.Count(v.Installations), PanicRate.SuccessOrPanics(q.Tool, v.Outcomes),
            RateCell.Of(v.Outcomes.AbortedRate), v.FirstSeen is { } f ? Format.Date(DateOnly.FromDateTime(f)) : "–",
            v.FirstSeen is { } g && DateOnly.FromDateTime(g) >= q.From)).ToList();
        var versionChart = ChartJson.BarsWithRate(versionsAsc.Select(v => v.Version).ToList(), "Runs",
            versionsAsc.Select(v => v.Outcomes.Runs).ToList(), "Success rate",
            versionsAsc.Select(v => ChartJson.ToPercent(v.Outcomes.SuccessRate.Value)).ToList());

        // Matrix: the most-used versions (newest first) × OSes by runs; cells show the failure rate and n.
        var matrixVersions = data.Versions.OrderByDescending(v => v.Outcomes.Runs).Take(MatrixVersionLimit)
            .Select(v => v.Version).OrderDescending(VersionOrder.Instance).ToList();
        var oses = data.Matrix.GroupBy(c => c.Os, StringComparer.Ordinal).OrderByDescending(g => g.Sum(c => c.Outcomes.Runs))
            .ThenBy(g => g.Key, StringComparer.Ordinal).Select(g => g.Key).ToList();
        var byCell = data.Matrix.ToDictionary(c => (c.Os, c.Version));
        var matrixRows = oses.Select(os => new MatrixRow(os, matrixVersions
            .Select(v => byCell.TryGetValue((os, v), out var c) && c.Outcomes.Judged > 0 ? RateCell.Of(c.Outcomes.FailureRate) : null).ToList())).ToList();
        var heatCells = new List<(int, int, double, string)>();
        for (var y = 0; y < oses.Count; y++)
        {
            for (var x = 0; x < matrixVersions.Count; x++)
            {
                if (byCell.TryGetValue((oses[y], matrixVersions[x]), out var c) && c.Outcomes.Judged > 0)
                {
                    var rate = c.Outcomes.FailureRate;
                    heatCells.Add((x, y, rate.Value!.Value * 100,
                        $"{oses[y]} × {matrixVersions[x]}: {Format.Percent(rate.Value)} failed ({Format.Interval(rate.Interval)}, n={Format.Count(rate.Total)})"));
                }
            }
        }

        // Adoption: share of installations per version; each version's first appearance in the range is marked.
        var adoption = SeriesHelper.TopN(data.Adoption.Select(a => a.InstallationsByVersion).ToList(), 8, asShare: true, tieBreak: VersionOrder.Instance);
        var markers = data.Versions
            .Where(v => v.FirstSeen is { } f && DateOnly.FromDateTime(f) >= q.From && DateOnly.FromDateTime(f) <= q.To)
            .OrderBy(v => v.FirstSeen)
            .Select(v => new ChartMarker(TimeBuckets.Label(TimeBuckets.Truncate(DateOnly.FromDateTime(v.FirstSeen!.Value), data.Grain), data.Grain), v.Version))
            .ToList();
        var adoptionRows = buckets.Select((b, i) => new AdoptionRow(TimeBuckets.Label(b.Start, data.Grain), TimeBuckets.Note(b),
            adoption.Select(s => Format.Percent(s.Values[i] / 100)).ToList())).ToList();

        var totalFailures = Math.Max(1, data.Current.Failed + data.Current.Aborted);
        var subtitle = (data.PluginTools.Count > 0 ? string.Join(", ", data.PluginTools) : q.Tool ?? "all tools")
            + (data.Types.Count > 0 ? " · " + string.Join(", ", data.Types) : "");
        return new PluginDetailViewModel
        {
            Query = q,
            Tools = data.Tools,
            Plugin = data.Plugin,
            Title = data.DisplayName ?? data.Plugin,
            Subtitle = subtitle,
            Tiles =
            [
                new("Installations", Format.Count(data.Installations), "using it in the period", Definitions.ActiveInstallation),
                new("Runs", Format.Count(data.Current.Runs), $"{Format.Count(data.Versions.Count)} versions", Definitions.Run),
                PanicRate.Applies(q.Tool)
                    ? new("Panics per 1,000 invocations", PanicRate.Text(PanicRate.Of(data.Current)), PanicRate.Detail(data.Current),
                        PanicRate.Definition)
                    : new("Success rate", Format.Percent(data.Current.SuccessRate.Value), CommandDetailViewModel.RateDetail(data.Current.SuccessRate), Definitions.SuccessRate),
                new("Aborted rate", Format.Percent(data.Current.AbortedRate.Value), CommandDetailViewModel.RateDetail(data.Current.AbortedRate), Definitions.Aborted),
            ],
            Versions = versionRows,
            VersionChartJson = versionChart,
            MatrixVersions = matrixVersions,
            Matrix = matrixRows,
            MatrixChartJson = ChartJson.Heatmap(matrixVersions, oses, heatCells, "version", "OS", highIsBad: true),
            Errors = data.Errors.Select(e => new ErrorRow(e.ErrorType, Format.Count(e.Runs), Format.Percent((double)e.Runs / totalFailures),
                Format.Count(e.Installations), Format.DateTime(e.LastSeen))).ToList(),
            AdoptionChartJson = ChartJson.TimeSeries(buckets, data.Grain,
                adoption.Select(s => new SeriesSpec(s.Name, s.Values, SeriesKind.Area, "share")).ToList(), percent: true, markers: markers),
            AdoptionRows = adoptionRows,
            AdoptionSeries = adoption.Select(s => s.Name).ToList(),
            GrainNoun = TimeBuckets.Noun(data.Grain),
            PeriodLabel = $"{Format.Date(q.From)} – {Format.Date(q.To)}",
            EmptyReason = data.Current.Runs == 0 ? EmptyState.Reason(q, data.Tools, $"runs with plugin '{data.DisplayName ?? data.Plugin}'") : null,
        };
    }
}

/// <summary>One bucket of a share-over-time chart, as a table row: one share per series.</summary>
public sealed record AdoptionRow(string Label, string Note, IReadOnlyList<string> Shares);
