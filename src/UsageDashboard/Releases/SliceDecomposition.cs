using UsageDashboard.Insights;

namespace UsageDashboard.Releases;

/// <summary>Judged runs and failures (failed + aborted) of one slice in one of the two sides of a comparison.</summary>
public readonly record struct Outcomes(long Judged, long Failures)
{
    public double? Rate => Judged == 0 ? null : (double)Failures / Judged;
    public static Outcomes operator +(Outcomes a, Outcomes b) => new(a.Judged + b.Judged, a.Failures + b.Failures);
}

/// <summary>One cell of the comparison: its values (one per dimension) and its counts before and after.</summary>
public sealed record SliceCounts(IReadOnlyList<string> Key, Outcomes Baseline, Outcomes Current);

/// <summary>
/// A slice's excess failures: observed minus expected at the baseline rate for that slice, with a 95%
/// interval (current Wilson interval against the baseline's, so both sides' uncertainty widen it).
/// </summary>
public sealed record SliceExcess(
    IReadOnlyList<string> Key, Outcomes Current, Outcomes Baseline, double Expected, double Excess, double ExcessLow, double ExcessHigh, double Share)
{
    /// <summary>"windows · python 3.12 · run"; "(other)" for the pooled small slices.</summary>
    public string Label => string.Join(" · ", Key);
}

/// <summary>The ranked decomposition of a comparison's excess failures.</summary>
public sealed record Decomposition(
    IReadOnlyList<string> Dimensions,
    double TotalExcess,
    IReadOnlyList<SliceExcess> Slices,
    SliceExcess? Other,
    IReadOnlyDictionary<string, IReadOnlyList<SliceExcess>> ByDimension,
    SliceExcess? Headline);

/// <summary>
/// Splits a change in failure rate into the slices that carry it. Each cell's expected failures are its
/// current judged runs at the baseline rate of the same cell (or of the whole baseline, when the cell had
/// too few baseline runs to have a rate of its own): a slice whose mix merely grew is not blamed, only
/// one that fails more than it used to. Pure, exact arithmetic on counts.
/// </summary>
public static class SliceDecomposition
{
    /// <summary>A single dimension value that carries at least this share of the excess goes into the headline.</summary>
    public const double HeadlineShare = 0.75;

    public static Decomposition Decompose(IReadOnlyList<string> dimensions, IEnumerable<SliceCounts> cells, long minJudged = Rate.SmallSample)
    {
        var merged = cells
            .GroupBy(c => string.Join("\u0001", c.Key), StringComparer.Ordinal)
            .Select(g => new SliceCounts(g.First().Key, g.Aggregate(new Outcomes(), (a, c) => a + c.Baseline), g.Aggregate(new Outcomes(), (a, c) => a + c.Current)))
            .ToList();
        var baseline = merged.Aggregate(new Outcomes(), (a, c) => a + c.Baseline);
        var pooledRate = baseline.Rate ?? 0;
        var pooledInterval = Wilson.Interval(baseline.Failures, baseline.Judged);

        // Per cell: expected failures at its baseline rate, and that rate's interval, as sums over runs so that
        // any union of cells (a dimension value, the headline) adds them up.
        var parts = merged.Select(c =>
        {
            var own = c.Baseline.Judged >= minJudged;
            var rate = own ? c.Baseline.Rate!.Value : pooledRate;
            var (low, high) = own ? Wilson.Interval(c.Baseline.Failures, c.Baseline.Judged) : pooledInterval;
            return new Part(c, c.Current.Judged * rate, c.Current.Judged * low, c.Current.Judged * high);
        }).ToList();

        var positive = parts.Sum(p => Math.Max(0, p.Cell.Current.Failures - p.Expected));
        var total = parts.Sum(p => p.Cell.Current.Failures - p.Expected);
        SliceExcess Build(IReadOnlyList<string> key, IReadOnlyList<Part> members) => Slice(key, members, positive);

        var ranked = parts.Where(p => p.Cell.Current.Judged >= minJudged)
            .Select(p => Build(p.Cell.Key, [p]))
            .OrderByDescending(s => s.Excess).ThenBy(s => s.Label, StringComparer.Ordinal)
            .ToList();
        var small = parts.Where(p => p.Cell.Current.Judged < minJudged).ToList();
        var other = small.Count == 0 ? null : Build(["(other)"], small);

        var byDimension = new Dictionary<string, IReadOnlyList<SliceExcess>>(StringComparer.Ordinal);
        for (var d = 0; d < dimensions.Count; d++)
        {
            var dim = d;
            byDimension[dimensions[d]] = parts
                .GroupBy(p => p.Cell.Key[dim], StringComparer.Ordinal)
                .Select(g => Build([g.Key], g.ToList()))
                .Where(s => s.Current.Judged >= minJudged)
                .OrderByDescending(s => s.Excess).ThenBy(s => s.Label, StringComparer.Ordinal)
                .ToList();
        }
        return new Decomposition(dimensions, total, ranked, other, byDimension, Headline(dimensions, parts, ranked, byDimension, positive));
    }

    /// <summary>
    /// The one slice a sentence should name: the values that each carry most of the excess on their own
    /// dimension ("windows", or "windows · python 3.12 · run" when the excess sits in one cell), else the top cell.
    /// </summary>
    private static SliceExcess? Headline(IReadOnlyList<string> dimensions, List<Part> parts, List<SliceExcess> ranked,
        Dictionary<string, IReadOnlyList<SliceExcess>> byDimension, double positive)
    {
        if (positive <= 0 || ranked.Count == 0 || ranked[0].Excess <= 0)
        {
            return null;
        }
        var chosen = new (int Dimension, string Value)[dimensions.Count];
        var count = 0;
        for (var d = 0; d < dimensions.Count; d++)
        {
            if (byDimension[dimensions[d]] is [var top, ..] && top.Share >= HeadlineShare && top.ExcessLow > 0)
            {
                chosen[count++] = (d, top.Key[0]);
            }
        }
        if (count == 0)
        {
            return ranked[0];
        }
        var picked = chosen[..count];
        var members = parts.Where(p => picked.All(c => p.Cell.Key[c.Dimension] == c.Value)).ToList();
        return Slice(picked.Select(c => c.Value).ToList(), members, positive);
    }

    private static SliceExcess Slice(IReadOnlyList<string> key, IReadOnlyList<Part> members, double positive)
    {
        var current = members.Aggregate(new Outcomes(), (a, p) => a + p.Cell.Current);
        var baseline = members.Aggregate(new Outcomes(), (a, p) => a + p.Cell.Baseline);
        var expected = members.Sum(p => p.Expected);
        var (low, high) = current.Judged == 0 ? (0.0, 0.0) : Wilson.Interval(current.Failures, current.Judged);
        var excess = current.Failures - expected;
        return new SliceExcess(key, current, baseline, expected, excess,
            current.Judged * low - members.Sum(p => p.ExpectedHigh),
            current.Judged * high - members.Sum(p => p.ExpectedLow),
            positive > 0 ? excess / positive : 0);
    }

    private sealed record Part(SliceCounts Cell, double Expected, double ExpectedLow, double ExpectedHigh);
}
