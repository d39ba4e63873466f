using System.Text.Json;

namespace UsageDashboard.Insights;

public enum Trend
{
    Flat,
    Up,
    Down,
}

/// <summary>A headline number with its change against the previous period.</summary>
public sealed record StatTile(string Label, string Value, string? Change, Trend Trend, bool UpIsGood, string? Detail, string Definition);

public sealed record CommandTableRow(string Tool, string Command, string Runs, string Share, string Installations, string SuccessRate, string Interval, string N, bool SmallSample)
{
    /// <summary>The tool reports no outcomes for this command (Jetty): there is no rate to show, rather than a small one.</summary>
    public bool NotReported => N == "0";
}

public sealed record ToolComparisonRow(string Tool, string Url, string ActiveInstallations, ChangeCell ActiveChange, string Runs, ChangeCell RunsChange, RateCell Success, ChangeCell SuccessChange);

public sealed record DailyTableRow(string Day, string ActiveInstallations, string Runs, bool InProgress);

/// <summary>The overview page as plain data: built by <see cref="Create"/>, rendered by the Razor view.</summary>
public sealed record OverviewViewModel
{
    public required InsightQuery Query { get; init; }
    public required IReadOnlyList<string> Tools { get; init; }
    public required IReadOnlyList<StatTile> Tiles { get; init; }
    public required string DailyChartJson { get; init; }
    public required IReadOnlyList<DailyTableRow> DailyRows { get; init; }
    public required IReadOnlyList<CommandTableRow> Commands { get; init; }
    public required string PeriodLabel { get; init; }
    public required string PreviousPeriodLabel { get; init; }
    public required bool IsEmpty { get; init; }
    /// <summary>Every tool side by side when "all tools" is chosen (empty otherwise).</summary>
    public IReadOnlyList<ToolComparisonRow> ToolComparison { get; init; } = [];
    public string? ToolComparisonChartJson { get; init; }
    public required string? EmptyReason { get; init; }

    private static readonly JsonSerializerOptions s_json = new(JsonSerializerDefaults.Web);

    public static OverviewViewModel Create(OverviewData data)
    {
        var q = data.Query;
        var (prevFrom, prevTo) = q.PreviousPeriod;
        var cur = data.Current;
        var prev = data.Previous;

        var tiles = new List<StatTile>
        {
            Tile("Active installations", cur.ActiveInstallations, prev.ActiveInstallations, upIsGood: true,
                detail: q.ExcludesDevBuilds ? "dev builds left out" : null,
                definition: "Distinct installation ids with at least one run in the period. " + Definitions.JettyDevBuilds),
            Tile("New installations", cur.NewInstallations, prev.NewInstallations, upIsGood: true,
                detail: null, definition: "Installations first seen in the period."),
            Tile("Runs", cur.Runs, prev.Runs, upIsGood: true,
                detail: null, definition: "Command invocations; the started and ended events of one invocation are one run."),
            PanicRate.Applies(q.Tool) ? PanicTile(cur, prev) : RateTile(cur.SuccessRate, prev.SuccessRate),
        };

        var inProgressDay = data.Today;
        var dailyRows = data.Daily
            .Select(p => new DailyTableRow(Format.Date(p.Day), Format.Count(p.ActiveInstallations), Format.Count(p.Runs), p.Day == inProgressDay))
            .ToList();

        var totalRuns = Math.Max(1, cur.Runs);
        var commands = data.TopCommands.Select(c => new CommandTableRow(
            c.Tool, c.Command, Format.Count(c.Runs), Format.Percent((double)c.Runs / totalRuns),
            Format.Count(c.Installations), Format.Percent(c.SuccessRate.Value), Format.Interval(c.SuccessRate.Interval),
            Format.Count(c.SuccessRate.Total), c.SuccessRate.IsSmallSample)).ToList();

        var isEmpty = cur.Runs == 0;
        string? emptyReason = null;
        if (isEmpty)
        {
            emptyReason = data.Tools.Count == 0
                ? "No telemetry has arrived yet. Point a tool at the collector, import a file with `import`, or load demo data with `seed-demo`."
                : RunFilterSql.HasDimensionFilters(q) || q.Tool is not null
                    ? "No runs match these filters in this period. Widen the range or clear a filter."
                    : "No runs in this period. Choose a longer range.";
        }

        return new OverviewViewModel
        {
            Query = q,
            Tools = data.Tools,
            Tiles = tiles,
            DailyChartJson = DailyChart(data.Daily, data.PreviousDaily, inProgressDay),
            DailyRows = dailyRows,
            Commands = commands,
            PeriodLabel = $"{Format.Date(q.From)} – {Format.Date(q.To)}",
            PreviousPeriodLabel = $"{Format.Date(prevFrom)} – {Format.Date(prevTo)}",
            IsEmpty = isEmpty,
            EmptyReason = emptyReason,
            ToolComparison = data.ToolComparison.Select(t => new ToolComparisonRow(
                t.Tool, DashboardUrls.Overview(q with { Tool = t.Tool }),
                Format.Count(t.ActiveInstallations), ChangeCell.OfCount(t.ActiveInstallations, t.PreviousActiveInstallations),
                Format.Count(t.Current.Runs), ChangeCell.OfCount(t.Current.Runs, t.Previous.Runs),
                PanicRate.SuccessOrPanics(t.Tool, t.Current),
                PanicRate.Applies(t.Tool) ? PanicRate.Change(t.Current, t.Previous) : ChangeCell.OfRate(t.Current.SuccessRate, t.Previous.SuccessRate))).ToList(),
            ToolComparisonChartJson = data.ToolComparison.Count < 2 ? null : ChartJson.Serialize(new
            {
                grid = new { left = 56, right = 24, top = 40, bottom = 40 },
                tooltip = new { trigger = "axis" },
                legend = new { top = 0 },
                xAxis = new { type = "category", data = data.ToolComparison.Select(t => t.Tool).ToArray() },
                yAxis = new { type = "value", minInterval = 1 },
                series = new object[]
                {
                    new { name = "Active installations", type = "bar", data = data.ToolComparison.Select(t => t.ActiveInstallations).ToArray(), itemStyle = new { color = ChartJson.Palette[0] } },
                    new { name = "Previous period", type = "bar", data = data.ToolComparison.Select(t => t.PreviousActiveInstallations).ToArray(), itemStyle = new { color = ChartJson.Palette[8] } },
                },
            }),
        };
    }

    private static StatTile Tile(string label, long current, long previous, bool upIsGood, string? detail, string definition) =>
        new(label, Format.Count(current), Format.Change(current, previous), TrendOf(current - previous), upIsGood,
            detail ?? $"previous period: {Format.Count(previous)}", definition);

    private static StatTile RateTile(Rate current, Rate previous) =>
        new("Success rate", Format.Percent(current.Value), Format.PointChange(current.Value, previous.Value),
            TrendOf((current.Value ?? 0) - (previous.Value ?? 0)), UpIsGood: true,
            Detail: current.Total == 0 ? "no finished runs" : $"n = {Format.Count(current.Total)} runs, 95% CI {Format.Interval(current.Interval)}",
            Definition: "Succeeded ÷ (succeeded + failed + aborted) runs. Runs still open, skipped or of unknown outcome are not judged. A run with a start and no end after 12 h counts as aborted.");

    /// <summary>Jetty's tile in place of the success rate (<see cref="PanicRate"/>).</summary>
    private static StatTile PanicTile(PeriodTotals current, PeriodTotals previous)
    {
        var (now, before) = (new Outcomes(current.Runs, current.Succeeded, current.Failed, current.Aborted),
            new Outcomes(previous.Runs, previous.Succeeded, previous.Failed, previous.Aborted));
        var change = PanicRate.Change(now, before);
        var rate = PanicRate.Of(now);
        return new("Panics per 1,000 invocations", PanicRate.Text(rate), change.Text, change.Trend, UpIsGood: true,
            Detail: PanicRate.Detail(now),
            Definition: PanicRate.Definition);
    }

    private static Trend TrendOf(double delta) => delta > 0 ? Trend.Up : delta < 0 ? Trend.Down : Trend.Flat;

    /// <summary>
    /// ECharts option for daily active installations. The day still in progress is drawn apart (dashed,
    /// shaded) so a partial day never reads as a drop.
    /// </summary>
    private static string DailyChart(IReadOnlyList<DailyPoint> daily, IReadOnlyList<DailyPoint> previousDaily, DateOnly today)
    {
        var days = daily.Select(p => Format.Date(p.Day)).ToArray();
        var complete = daily.Select(p => p.Day == today ? (long?)null : p.ActiveInstallations).ToArray();
        var lastIndex = daily.Count - 1;
        var hasPartial = lastIndex >= 0 && daily[lastIndex].Day == today;
        var partial = daily.Select((p, i) => hasPartial && i >= lastIndex - 1 ? (long?)p.ActiveInstallations : null).ToArray();

        var series = new List<object>
        {
            new { name = "Active installations", type = "line", data = complete, showSymbol = false, smooth = false, areaStyle = new { opacity = 0.15 } },
            new
            {
                name = "In progress", type = "line", data = partial, showSymbol = true,
                lineStyle = new { type = "dashed" },
                markArea = hasPartial
                    ? new { silent = true, itemStyle = new { opacity = 0.08 }, label = new { position = "insideTop" }, data = new[] { new object[] { new { xAxis = days[lastIndex], name = "in progress" }, new { xAxis = days[lastIndex] } } } }
                    : null,
            },
        };
        if (previousDaily.Count > 0)
        {
            // Day i of the previous period sits under day i of this one, so the two shapes compare directly.
            series.Add(new
            {
                name = "Previous period", type = "line", showSymbol = false,
                data = previousDaily.Take(daily.Count).Select(p => p.ActiveInstallations).ToArray(),
                lineStyle = new { type = "dotted", width = 1 },
            });
        }

        var option = new
        {
            grid = new { left = 48, right = 24, top = 32, bottom = 40 },
            tooltip = new { trigger = "axis" },
            legend = new { top = 0 },
            xAxis = new { type = "category", data = days, boundaryGap = false },
            yAxis = new { type = "value", minInterval = 1 },
            series,
        };
        return JsonSerializer.Serialize(option, s_json);
    }
}
