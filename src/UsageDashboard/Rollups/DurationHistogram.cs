namespace UsageDashboard.Rollups;

/// <summary>
/// Percentiles from the log-scale duration histograms of <c>rollup_command_durations</c>. Bucket b holds
/// durations d (ms) with floor(8·log2(d + 1)) = b, i.e. d in [2^(b/8) − 1, 2^((b+1)/8) − 1). The estimate
/// places a bucket's values evenly inside it and interpolates between ranks as percentile_cont does, so
/// it is off by at most one bucket width (2^(1/8) ≈ 9 %) and in practice by much less.
/// </summary>
public sealed class DurationHistogram
{
    /// <summary>Buckets per doubling of the duration; must match <see cref="RollupSql.DurationBucket"/>.</summary>
    public const int BucketsPerDoubling = 8;

    // Counts by bucket - _offset: a few hundred buckets cover milliseconds to days. The sorted map this
    // replaces was 12 % of the 90-day commands page in a profile, where pages add up thousands of day rows.
    private long[] _counts = [];
    private int _offset;

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
        if (_counts.Length == 0)
        {
            _counts = new long[64];
            _offset = bucket;
        }
        else if (bucket < _offset)
        {
            var grown = new long[_counts.Length + (_offset - bucket)];
            _counts.CopyTo(grown, _offset - bucket);
            _counts = grown;
            _offset = bucket;
        }
        else if (bucket - _offset >= _counts.Length)
        {
            Array.Resize(ref _counts, Math.Max(bucket - _offset + 1, _counts.Length * 2));
        }
        _counts[bucket - _offset] += count;
        Count += count;
    }

    /// <summary>The <paramref name="fraction"/> percentile (0..1) in ms, or null without durations.</summary>
    public double? Percentile(double fraction)
    {
        if (Count == 0)
        {
            return null;
        }
        // percentile_cont: the values at the two ranks around fraction·(n − 1), linearly interpolated.
        var rank = fraction * (Count - 1);
        var below = (long)Math.Floor(rank);
        var low = ValueAt(below);
        return below + 1 < Count ? low + (ValueAt(below + 1) - low) * (rank - below) : low;
    }

    /// <summary>The k-th smallest value (0-based), taking a bucket's n values as spread evenly across it.</summary>
    private double ValueAt(long k)
    {
        long seen = 0;
        var last = _offset;
        for (var i = 0; i < _counts.Length; i++)
        {
            var n = _counts[i];
            if (n == 0)
            {
                continue;
            }
            var bucket = i + _offset;
            if (k < seen + n)
            {
                var lower = LowerBound(bucket);
                return lower + (LowerBound(bucket + 1) - lower) * ((k - seen + 0.5) / n);
            }
            seen += n;
            last = bucket;
        }
        return LowerBound(last + 1);
    }
}
