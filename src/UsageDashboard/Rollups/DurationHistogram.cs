namespace UsageDashboard.Rollups;

/// <summary>
/// Percentiles from the log-scale duration histograms of <c>rollup_command_durations</c>. Bucket b holds
/// durations d (ms) with floor(8·log2(d + 1)) = b, i.e. d in [2^(b/8) − 1, 2^((b+1)/8) − 1). The estimate
/// interpolates linearly inside the bucket the rank falls in, like percentile_cont does between values,
/// so it is off by at most one bucket width (2^(1/8) ≈ 9 %) and in practice by much less.
/// </summary>
public sealed class DurationHistogram
{
    /// <summary>Buckets per doubling of the duration; must match <see cref="RollupSql.DurationBucket"/>.</summary>
    public const int BucketsPerDoubling = 8;

    private readonly SortedDictionary<int, long> _counts = [];

    public long Count { get; private set; }

    public static int BucketOf(long durationMs) =>
        (int)Math.Floor(Math.Log(durationMs + 1.0) * (BucketsPerDoubling / Math.Log(2)));

    public static double LowerBound(int bucket) => Math.Pow(2, (double)bucket / BucketsPerDoubling) - 1;

    public void Add(int bucket, long count)
    {
        if (count <= 0)
        {
            return;
        }
        _counts[bucket] = _counts.GetValueOrDefault(bucket) + count;
        Count += count;
    }

    /// <summary>The <paramref name="fraction"/> percentile (0..1) in ms, or null without durations.</summary>
    public double? Percentile(double fraction)
    {
        if (Count == 0)
        {
            return null;
        }
        // percentile_cont's 0-based rank among the sorted values.
        var rank = fraction * (Count - 1);
        long seen = 0;
        foreach (var (bucket, n) in _counts)
        {
            if (rank < seen + n)
            {
                // Spread the bucket's n values evenly over its width; the first sits at the lower bound.
                var lower = LowerBound(bucket);
                var width = LowerBound(bucket + 1) - lower;
                return lower + width * ((rank - seen + 0.5) / n);
            }
            seen += n;
        }
        return LowerBound(_counts.Keys.Last() + 1);
    }
}
