using System.Globalization;
using System.Text.Json;
using UsageDashboard.Catalog;
using UsageDashboard.Insights;
using UsageDashboard.Store;

namespace UsageDashboard.Health;

/// <summary>A flag as the health pages show it, built by <see cref="Create"/> from the stored flag and its hourly counts.</summary>
public sealed record FlagView
{
    public required long Id { get; init; }
    public required string Title { get; init; }
    public required string Tool { get; init; }
    public required string Severity { get; init; }
    public required string State { get; init; }
    public required string Reason { get; init; }
    public required string Method { get; init; }
    public required string Opened { get; init; }
    public required string? Resolved { get; init; }
    public required string? ChartJson { get; init; }
    public required string ChartLabel { get; init; }
    public required IReadOnlyList<HourRow> Hours { get; init; }

    private static readonly JsonSerializerOptions s_json = new(JsonSerializerDefaults.Web);

    /// <summary>The window the evidence chart covers: from a day before release (or three before the flag) to its resolution or now.</summary>
    public static (DateTime From, DateTime To) ChartWindow(HealthFlag flag, DateTime now)
    {
        var from = flag.FirstSeen.AddHours(-24) > flag.OpenedAt.AddDays(-3) ? flag.FirstSeen.AddHours(-24) : flag.OpenedAt.AddDays(-3);
        var to = flag.ResolvedAt is { } r && r.AddHours(12) < now ? r.AddHours(12) : now;
        if (to - from > TimeSpan.FromDays(14))
        {
            from = to.AddDays(-14);
        }
        return (new DateTime(from.Year, from.Month, from.Day, from.Hour, 0, 0, DateTimeKind.Utc), to);
    }

    /// <summary>Stored names and digests read through <paramref name="names"/> (title and reason alike).</summary>
    public static FlagView Create(HealthFlag flag, IReadOnlyList<HourCount>? hourly, PluginNames names)
    {
        var evidence = HealthFlagService.ParseEvidence(flag.Evidence);
        var title = flag.Kind == HealthSubject.ToolKind ? $"{flag.Tool} {Version(flag.Version)} (CLI release)" : TitleOf(flag, names);
        var rows = Bucket(hourly ?? []);
        return new FlagView
        {
            Id = flag.Id,
            Title = title,
            Tool = flag.Tool,
            Severity = flag.Severity,
            State = flag.State,
            Reason = names.Text(flag.Reason),
            Method = flag.Method,
            Opened = Stamp(flag.OpenedAt),
            Resolved = flag.ResolvedAt is { } r ? Stamp(r) : null,
            ChartJson = hourly is null ? null : Chart(rows, flag, evidence),
            ChartLabel = $"Failure rate of {title} over time, with its 95% interval, the baseline and the release",
            Hours = rows,
        };
    }

    public static string Stamp(DateTime at) => at.ToString("yyyy-MM-dd HH:mm 'UTC'", CultureInfo.InvariantCulture);

    private static string Version(string v) => v.Length == 0 ? "(no version)" : v;

    /// <summary>"tap-x 1.2.3", or for Meltano "tap-x (meltanolabs, default pip_url)".</summary>
    public static string TitleOf(HealthFlag flag, PluginNames names) =>
        PluginNames.TrySplit(flag.Name, out _, out _) || PluginCatalog.LooksHashed(flag.Version)
            ? names.Label(flag.Name, flag.Version)
            : $"{flag.Name} {Version(flag.Version)}";

    /// <summary>Hours merged into buckets of at least 20 runs (and at most 168 points), so each point's interval means something.</summary>
    private static List<HourRow> Bucket(IReadOnlyList<HourCount> hours)
    {
        var rows = new List<HourRow>();
        var size = Math.Max(1, (int)Math.Ceiling(hours.Count / 168.0));
        long n = 0, f = 0;
        DateTime? start = null;
        var count = 0;
        foreach (var h in hours)
        {
            start ??= h.Hour;
            n += h.Judged;
            f += h.Failures;
            count++;
            if (count >= size && n >= 20)
            {
                rows.Add(Row(start.Value, n, f));
                (n, f, start, count) = (0, 0, null, 0);
            }
        }
        if (start is not null && n > 0)
        {
            rows.Add(Row(start.Value, n, f));
        }
        return rows;
    }

    private static HourRow Row(DateTime at, long n, long f)
    {
        var (low, high) = Wilson.Interval(f, n);
        return new HourRow(at, Stamp(at), n, f, (double)f / n, low, high);
    }

    private static string Chart(List<HourRow> rows, HealthFlag flag, HealthEvidence? evidence)
    {
        static string Iso(DateTime t) => t.ToString("yyyy-MM-ddTHH:mm:ssZ", CultureInfo.InvariantCulture);
        static double Pct(double v) => Math.Round(v * 100, 2);
        var marks = new List<object>
        {
            new { xAxis = Iso(flag.FirstSeen), name = "first seen", label = new { formatter = "first seen" } },
            new { xAxis = Iso(flag.OpenedAt), name = "flag opened", label = new { formatter = "flagged" } },
        };
        if (evidence is not null)
        {
            marks.Add(new { yAxis = Pct(evidence.BaselineRate), name = "baseline", label = new { formatter = "baseline " + Pct(evidence.BaselineRate).ToString(CultureInfo.InvariantCulture) + "%" } });
        }
        var option = new
        {
            animation = false,
            tooltip = new { trigger = "axis" },
            legend = new { data = new[] { "Failure rate", "95% interval" } },
            grid = new { left = 48, right = 24, top = 40, bottom = 32 },
            xAxis = new { type = "time" },
            yAxis = new { type = "value", name = "failed %", min = 0 },
            series = new object[]
            {
                new { name = "lower", type = "line", stack = "band", symbol = "none", lineStyle = new { opacity = 0 }, tooltip = new { show = false },
                      data = rows.Select(r => new object[] { Iso(r.At), Pct(r.Low) }) },
                new { name = "95% interval", type = "line", stack = "band", symbol = "none", lineStyle = new { opacity = 0 }, areaStyle = new { opacity = 0.25 },
                      data = rows.Select(r => new object[] { Iso(r.At), Pct(r.High - r.Low) }) },
                new { name = "Failure rate", type = "line", symbol = "none", data = rows.Select(r => new object[] { Iso(r.At), Pct(r.Rate) }),
                      markLine = new { symbol = "none", data = marks } },
            },
        };
        return JsonSerializer.Serialize(option, s_json);
    }
}

/// <summary>One point of the evidence chart, also its accessible table row.</summary>
public sealed record HourRow(DateTime At, string Label, long Runs, long Failures, double Rate, double Low, double High)
{
    public string RateText => Format.Percent(Rate);
    public string IntervalText => Format.Interval((Low, High));
}
