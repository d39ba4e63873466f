using System.Text.Json;
using System.Text.Json.Serialization;

namespace UsageDashboard.Insights;

/// <summary>How a series is drawn.</summary>
public enum SeriesKind
{
    Line,
    Bar,
    Area,
}

/// <summary>
/// One named series of a time-series chart; values line up with the buckets (null = no value).
/// <see cref="Color"/> overrides the palette (outcomes keep their meaning: green succeeded, red failed);
/// <see cref="Reference"/> marks a complete comparison series (the previous period), drawn dotted and grey.
/// </summary>
public sealed record SeriesSpec(string Name, IReadOnlyList<double?> Values, SeriesKind Kind = SeriesKind.Line, string? Stack = null, string? Color = null, bool Reference = false);

/// <summary>A vertical marker on a category axis, e.g. a version's first appearance.</summary>
public sealed record ChartMarker(string Category, string Label);

/// <summary>
/// Builds ECharts options as JSON for <c>data-chart</c>. Every time series marks its incomplete buckets
/// (in progress or cut by the range) with a shaded band and dashed/faded points, so a partial period
/// never reads as a drop. Options are plain data: no functions, so they survive JSON.
/// </summary>
public static class ChartJson
{
    /// <summary>Colour-blind-safe (Okabe–Ito based) palette, fixed so a series keeps its colour in both themes.</summary>
    public static readonly IReadOnlyList<string> Palette =
        ["#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7", "#56B4E9", "#8C6D31", "#6B6ECF", "#999999", "#F0E442"];

    private static readonly JsonSerializerOptions s_json = new(JsonSerializerDefaults.Web)
    {
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
    };

    public static string Serialize(object option) => JsonSerializer.Serialize(option, s_json);

    /// <summary>A line, bar or stacked chart over buckets; <paramref name="percent"/> means values are 0–100.</summary>
    public static string TimeSeries(
        IReadOnlyList<Bucket> buckets, Grain grain, IReadOnlyList<SeriesSpec> series,
        bool percent = false, IReadOnlyList<ChartMarker>? markers = null)
    {
        var labels = buckets.Select(b => TimeBuckets.Label(b.Start, grain)).ToArray();
        var incomplete = buckets.Select(b => b.Incomplete).ToArray();
        var list = new List<object>();
        for (var s = 0; s < series.Count; s++)
        {
            var spec = series[s];
            var color = spec.Color ?? Palette[s % Palette.Count];
            var first = s == 0;
            if (spec.Reference)
            {
                list.Add(new
                {
                    name = spec.Name, type = "line", data = spec.Values, showSymbol = false, z = 5,
                    itemStyle = new { color = spec.Color ?? "#888888" }, lineStyle = new { color = spec.Color ?? "#888888", type = "dotted", width = 2 },
                });
                continue;
            }
            if (spec.Kind == SeriesKind.Bar)
            {
                var data = spec.Values.Select((v, i) => incomplete[i] && v is not null
                    ? (object)new { value = v, itemStyle = new { opacity = 0.45 } }
                    : v).ToArray();
                list.Add(new
                {
                    name = spec.Name, type = "bar", stack = spec.Stack, data, itemStyle = new { color },
                    emphasis = new { focus = "series" },
                    markArea = first ? IncompleteArea(labels, buckets) : null,
                    markLine = first ? Markers(markers) : null,
                });
            }
            else
            {
                // An unstacked line is drawn solid over complete buckets and dashed into an incomplete one,
                // as a second series of the same name (one legend entry, toggled together). Stacked areas
                // can't be split that way without breaking the stack: the shaded band marks them instead.
                var stacked = spec.Stack is not null;
                var solid = stacked ? spec.Values.ToArray() : spec.Values.Select((v, i) => incomplete[i] ? null : v).ToArray();
                var dashed = spec.Values.Select((v, i) => incomplete[i] || (i + 1 < incomplete.Length && incomplete[i + 1]) || (i > 0 && incomplete[i - 1]) ? v : null).ToArray();
                var area = spec.Kind == SeriesKind.Area ? new { opacity = stacked ? 0.6 : 0.15 } : null;
                list.Add(new
                {
                    name = spec.Name, type = "line", stack = spec.Stack, data = solid, showSymbol = buckets.Count <= 2,
                    connectNulls = false, itemStyle = new { color }, lineStyle = new { color }, areaStyle = area,
                    emphasis = new { focus = "series" },
                    markArea = first ? IncompleteArea(labels, buckets) : null,
                    markLine = first ? Markers(markers) : null,
                });
                if (!stacked && incomplete.Any(x => x))
                {
                    list.Add(new
                    {
                        name = spec.Name, type = "line", data = dashed, showSymbol = true,
                        itemStyle = new { color }, lineStyle = new { color, type = "dashed" },
                        areaStyle = area is null ? null : new { opacity = 0.05 }, tooltip = new { show = false },
                    });
                }
            }
        }
        var option = new
        {
            grid = new { left = 56, right = 24, top = 40, bottom = 40, containLabel = false },
            tooltip = new { trigger = "axis" },
            legend = new { top = 0, type = "scroll", right = 40 },
            xAxis = new { type = "category", data = labels, boundaryGap = series.Any(s => s.Kind == SeriesKind.Bar) },
            yAxis = percent
                ? (object)new { type = "value", min = 0, max = 100, axisLabel = new { formatter = "{value}%" } }
                : new { type = "value", minInterval = 1 },
            series = list,
        };
        return Serialize(option);
    }

    /// <summary>A pie (donut) of shares; slices named by <c>name</c>.</summary>
    public static string Pie(IReadOnlyList<(string Name, long Value)> slices)
    {
        var option = new
        {
            tooltip = new { trigger = "item", formatter = "{b}: {c} ({d}%)" },
            legend = new { type = "scroll", bottom = 0 },
            color = Palette,
            series = new object[]
            {
                new
                {
                    type = "pie", radius = new[] { "40%", "70%" }, center = new[] { "50%", "45%" }, avoidLabelOverlap = true,
                    label = new { show = true, formatter = "{b}\n{d}%" },
                    data = slices.Select(s => new { name = s.Name, value = s.Value }).ToArray(),
                },
            },
        };
        return Serialize(option);
    }

    /// <summary>
    /// A heatmap of values 0–100 (a percentage) with the cell text given separately, so each cell can
    /// carry its n. Null cells are left out (nothing to show, e.g. a week still in the future).
    /// </summary>
    public static string Heatmap(IReadOnlyList<string> xLabels, IReadOnlyList<string> yLabels,
        IReadOnlyList<(int X, int Y, double Value, string Text)> cells, string xName, string yName, bool highIsBad = false)
    {
        var option = new
        {
            tooltip = new { position = "top", formatter = "{b}" },
            grid = new { left = 110, right = 24, top = 24, bottom = 80 },
            xAxis = new { type = "category", data = xLabels, name = xName, nameLocation = "middle", nameGap = 28, splitArea = new { show = true } },
            yAxis = new { type = "category", data = yLabels, name = yName, inverse = true, splitArea = new { show = true } },
            visualMap = new
            {
                min = 0, max = 100, orient = "horizontal", left = "center", bottom = 0, itemHeight = 120,
                inRange = new { color = highIsBad ? new[] { "#f7fbff", "#fdae6b", "#d94801" } : new[] { "#f7fbff", "#6baed6", "#08306b" } },
                text = new[] { "100%", "0%" },
            },
            series = new object[]
            {
                new
                {
                    type = "heatmap",
                    data = cells.Select(c => new { value = new object[] { c.X, c.Y, Math.Round(c.Value, 1) }, name = c.Text }).ToArray(),
                    // The cell shows the rate; its n (and any in-progress mark) is in the tooltip and the table.
                    label = new { show = true, formatter = "{@[2]}%", fontSize = 10 },
                    emphasis = new { itemStyle = new { shadowBlur = 6 } },
                },
            },
        };
        return Serialize(option);
    }

    /// <summary>Bars (left axis, counts) with a rate line (right axis, 0–100%) over categories.</summary>
    public static string BarsWithRate(IReadOnlyList<string> categories, string barName, IReadOnlyList<long> bars, string rateName, IReadOnlyList<double?> ratePercent)
    {
        var option = new
        {
            grid = new { left = 56, right = 56, top = 56, bottom = 40 },
            tooltip = new { trigger = "axis" },
            legend = new { top = 0 },
            xAxis = new { type = "category", data = categories },
            yAxis = new object[]
            {
                new { type = "value", minInterval = 1, name = barName },
                new { type = "value", min = 0, max = 100, name = rateName, axisLabel = new { formatter = "{value}%" } },
            },
            series = new object[]
            {
                new { name = barName, type = "bar", data = bars, itemStyle = new { color = Palette[0] } },
                new { name = rateName, type = "line", yAxisIndex = 1, data = ratePercent, itemStyle = new { color = Palette[3] } },
            },
        };
        return Serialize(option);
    }

    /// <summary>Horizontal bars, largest first at the top.</summary>
    public static string HorizontalBars(IReadOnlyList<(string Name, long Value)> items, string seriesName)
    {
        var option = new
        {
            grid = new { left = 140, right = 24, top = 16, bottom = 24 },
            tooltip = new { trigger = "axis" },
            xAxis = new { type = "value", minInterval = 1 },
            yAxis = new { type = "category", data = items.Select(i => i.Name).ToArray(), inverse = true },
            series = new object[] { new { name = seriesName, type = "bar", data = items.Select(i => i.Value).ToArray(), itemStyle = new { color = Palette[0] } } },
        };
        return Serialize(option);
    }

    public static double? ToPercent(double? ratio) => ratio is null ? null : Math.Round(ratio.Value * 100, 1);

    private static object? IncompleteArea(string[] labels, IReadOnlyList<Bucket> buckets)
    {
        var areas = new List<object[]>();
        for (var i = 0; i < buckets.Count; i++)
        {
            if (buckets[i].Incomplete)
            {
                var name = buckets[i].InProgress ? "in progress" : "partial";
                areas.Add([new { xAxis = labels[i], name }, new { xAxis = labels[i] }]);
            }
        }
        return areas.Count == 0
            ? null
            : new { silent = true, itemStyle = new { color = "rgba(128,128,128,0.12)" }, label = new { position = "insideTop", fontSize = 10 }, data = areas };
    }

    private static object? Markers(IReadOnlyList<ChartMarker>? markers) =>
        markers is null || markers.Count == 0
            ? null
            : new
            {
                silent = true, symbol = "none", lineStyle = new { type = "dotted", color = "#888" },
                label = new { formatter = "{b}", position = "insideEndTop", fontSize = 10 },
                data = markers.Select(m => new { xAxis = m.Category, name = m.Label }).ToArray(),
            };
}
