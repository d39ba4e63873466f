namespace UsageDashboard.Insights;

/// <summary>A rate ready to show: the value, its 95% interval, its n, and whether n is too small to trust.</summary>
public sealed record RateCell(string Value, string Interval, string N, bool SmallSample)
{
    public static RateCell Of(Rate rate) =>
        new(Format.Percent(rate.Value), Format.Interval(rate.Interval), Format.Count(rate.Total), rate.IsSmallSample);
}

/// <summary>
/// A change against the previous period. For rates, <see cref="Tested"/> is set and <see cref="Significant"/>
/// says whether the two 95% intervals don't overlap; an untested or insignificant rate change is shown neutral.
/// </summary>
public sealed record ChangeCell(string? Text, Trend Trend, bool Significant, bool Tested = false)
{
    public static readonly ChangeCell None = new(null, Trend.Flat, false);

    public static ChangeCell OfCount(long current, long previous) =>
        new(Format.Change(current, previous) ?? (previous == 0 && current > 0 ? "new" : null),
            current > previous ? Trend.Up : current < previous ? Trend.Down : Trend.Flat, false);

    public static ChangeCell OfRate(Rate current, Rate previous)
    {
        if (current.Interval is not { } c || previous.Interval is not { } p)
        {
            return None;
        }
        var delta = current.Value!.Value - previous.Value!.Value;
        return new(Format.PointChange(current.Value, previous.Value), delta > 0 ? Trend.Up : delta < 0 ? Trend.Down : Trend.Flat,
            c.Low > p.High || c.High < p.Low, Tested: true);
    }
}

/// <summary>A headline number with a definition one click away.</summary>
public sealed record HeadlineTile(string Label, string Value, string? Detail, string Definition, ChangeCell? Change = null);

/// <summary>A row of a distribution table: a value, its count and share, and the link that filters by it.</summary>
public sealed record ShareRow(string Name, string Count, string Share, string? FilterUrl);

/// <summary>Colours that carry meaning, the same on every chart.</summary>
public static class SeriesColors
{
    public const string Succeeded = "#009E73";
    public const string Failed = "#D55E00";
    public const string Aborted = "#E69F00";
    public const string Other = "#999999";
    public const string New = "#0072B2";
    public const string Returning = "#009E73";
    public const string Resurrected = "#CC79A7";
    public const string Dormant = "#999999";
}

/// <summary>Helpers that turn per-bucket maps into the top series plus "Other".</summary>
public static class SeriesHelper
{
    public const string Other = "Other";

    /// <summary>The <paramref name="top"/> names with the largest totals, the rest summed as "Other".</summary>
    public static IReadOnlyList<(string Name, double?[] Values)> TopN(
        IReadOnlyList<IReadOnlyDictionary<string, long>> perBucket, int top, bool asShare = false, IComparer<string>? tieBreak = null)
    {
        var totals = new Dictionary<string, long>(StringComparer.Ordinal);
        foreach (var bucket in perBucket)
        {
            foreach (var (name, value) in bucket)
            {
                totals[name] = totals.GetValueOrDefault(name) + value;
            }
        }
        var names = totals.OrderByDescending(t => t.Value).ThenBy(t => t.Key, tieBreak ?? StringComparer.Ordinal).Take(top).Select(t => t.Key).ToList();
        var rest = totals.Count > names.Count;
        var result = new List<(string, double?[])>();
        foreach (var name in names)
        {
            result.Add((name, perBucket.Select(b => Value(b, b.GetValueOrDefault(name), asShare)).ToArray()));
        }
        if (rest)
        {
            result.Add((Other, perBucket.Select(b => Value(b, b.Where(kv => !names.Contains(kv.Key)).Sum(kv => kv.Value), asShare)).ToArray()));
        }
        return result;
    }

    private static double? Value(IReadOnlyDictionary<string, long> bucket, long value, bool asShare)
    {
        if (!asShare)
        {
            return value;
        }
        var total = bucket.Values.Sum();
        return total == 0 ? null : Math.Round(100.0 * value / total, 1);
    }
}
