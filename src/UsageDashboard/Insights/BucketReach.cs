using System.Numerics;

namespace UsageDashboard.Insights;

/// <summary>
/// Distinct installations per value (a plugin version, say), per bucket and value, and in total, counted
/// from month-rollup rows: an installation, a month, the days of that month it was active, and a value.
/// An installation counts once per value and bucket however many rows (OS, CI, tool version, month) it
/// has there, which is what <c>count(DISTINCT installation)</c> over the runs gives.
/// </summary>
public sealed class BucketReach
{
    private readonly DayWindow _window;
    private readonly IReadOnlyList<Bucket> _buckets;
    private readonly int[] _bucketOfDay;
    private readonly int _words;
    private readonly Dictionary<(string Value, int Installation), ulong[]> _sets = [];
    private readonly HashSet<int> _installations = [];

    /// <summary>Counts over [<paramref name="from"/>, <paramref name="to"/>], split by <paramref name="buckets"/> (which cover it, see <see cref="TimeBuckets.For(DateOnly, DateOnly, Grain, DateOnly)"/>).</summary>
    public BucketReach(DateOnly from, DateOnly to, IReadOnlyList<Bucket> buckets)
    {
        _window = new DayWindow(from, to);
        _buckets = buckets;
        _words = (buckets.Count + 63) / 64;
        _bucketOfDay = new int[_window.Length];
        Array.Fill(_bucketOfDay, -1);
        for (var b = 0; b < buckets.Count; b++)
        {
            for (var day = buckets[b].Start; day < buckets[b].End; day = day.AddDays(1))
            {
                if (day >= from && day <= to)
                {
                    _bucketOfDay[_window.IndexOf(day)] = b;
                }
            }
        }
    }

    /// <summary>
    /// One month row: bit b of <paramref name="days"/> is day b + 1 of <paramref name="month"/>. Days
    /// outside the window are ignored, so callers may pass unmasked rows.
    /// </summary>
    public void Add(int installation, DateOnly month, int days, string value)
    {
        var mask = (uint)days;
        var first = _window.IndexOf(month);
        ulong[]? set = null;
        while (mask != 0)
        {
            var index = first + BitOperations.TrailingZeroCount(mask);
            mask &= mask - 1;
            if (index < 0 || index >= _window.Length || _bucketOfDay[index] < 0)
            {
                continue;
            }
            if (set is null && !_sets.TryGetValue((value, installation), out set))
            {
                _sets[(value, installation)] = set = new ulong[_words];
            }
            var bucket = _bucketOfDay[index];
            set[bucket >> 6] |= 1UL << (bucket & 63);
        }
        if (set is not null)
        {
            _installations.Add(installation);
        }
    }

    /// <summary>Installations active in the window with any value.</summary>
    public long Installations => _installations.Count;

    /// <summary>Installations active in the window per value.</summary>
    public Dictionary<string, long> ByValue()
    {
        var counts = new Dictionary<string, long>(StringComparer.Ordinal);
        foreach (var (value, _) in _sets.Keys)
        {
            counts[value] = counts.GetValueOrDefault(value) + 1;
        }
        return counts;
    }

    /// <summary>Per bucket start, installations per value; buckets and values without any are absent.</summary>
    public Dictionary<DateOnly, Dictionary<string, long>> ByBucket()
    {
        var result = new Dictionary<DateOnly, Dictionary<string, long>>();
        foreach (var ((value, _), set) in _sets)
        {
            for (var w = 0; w < set.Length; w++)
            {
                var bits = set[w];
                while (bits != 0)
                {
                    var bucket = (w << 6) + BitOperations.TrailingZeroCount(bits);
                    bits &= bits - 1;
                    var start = _buckets[bucket].Start;
                    if (!result.TryGetValue(start, out var counts))
                    {
                        result[start] = counts = new Dictionary<string, long>(StringComparer.Ordinal);
                    }
                    counts[value] = counts.GetValueOrDefault(value) + 1;
                }
            }
        }
        return result;
    }
}
