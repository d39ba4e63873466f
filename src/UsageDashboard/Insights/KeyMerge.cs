using UsageDashboard.Rollups;

namespace UsageDashboard.Insights;

/// <summary>
/// Walks month segments (each sorted by installation key, as <see cref="RollupCache"/> holds them) in key
/// order: one installation at a time, with its rows from every month together. Distinct counts then need
/// no set of installations: a counter remembers the last key it counted (a stamp), and per-installation
/// state lives in a few arrays reused for the next key, where hashing every (installation, value) pair
/// was most of a page's time on large stores.
/// </summary>
public sealed class KeyMerge<T> where T : struct, IMonthRow
{
    private readonly MonthSegment<T>[] _segments;
    private readonly int[] _position;
    private readonly int[] _partSegment;
    private readonly int[] _partStart;
    private readonly int[] _partEnd;

    public KeyMerge(IEnumerable<MonthSegment<T>> segments)
    {
        _segments = [.. segments];
        _position = new int[_segments.Length];
        _partSegment = new int[_segments.Length];
        _partStart = new int[_segments.Length];
        _partEnd = new int[_segments.Length];
    }

    /// <summary>The segments, in the order given; <see cref="SegmentOf"/> indexes them.</summary>
    public IReadOnlyList<MonthSegment<T>> Segments => _segments;

    /// <summary>The current installation key (valid after <see cref="MoveNext"/> returned true).</summary>
    public int Key { get; private set; }

    /// <summary>How many segments hold rows of <see cref="Key"/>.</summary>
    public int Parts { get; private set; }

    /// <summary>Moves to the next installation key; false when every segment is exhausted.</summary>
    public bool MoveNext()
    {
        var min = int.MaxValue;
        var any = false;
        for (var s = 0; s < _segments.Length; s++)
        {
            var rows = _segments[s].Rows;
            if (_position[s] < rows.Length && (!any || rows[_position[s]].Key < min))
            {
                min = rows[_position[s]].Key;
                any = true;
            }
        }
        if (!any)
        {
            return false;
        }
        Parts = 0;
        for (var s = 0; s < _segments.Length; s++)
        {
            var rows = _segments[s].Rows;
            var start = _position[s];
            var end = start;
            while (end < rows.Length && rows[end].Key == min)
            {
                end++;
            }
            if (end > start)
            {
                _partSegment[Parts] = s;
                _partStart[Parts] = start;
                _partEnd[Parts] = end;
                Parts++;
                _position[s] = end;
            }
        }
        Key = min;
        return true;
    }

    /// <summary>The index (in <see cref="Segments"/>) of the segment of part <paramref name="part"/>.</summary>
    public int SegmentOf(int part) => _partSegment[part];

    /// <summary>The rows of <see cref="Key"/> in part <paramref name="part"/>.</summary>
    public ReadOnlySpan<T> Rows(int part) =>
        _segments[_partSegment[part]].Rows.AsSpan(_partStart[part], _partEnd[part] - _partStart[part]);
}

/// <summary>Counts distinct installations per small non-negative id (a command code, a value id) while a <see cref="KeyMerge{T}"/> walks keys.</summary>
public sealed class StampCounter
{
    private int[] _stamp = [];
    private long[] _counts = [];

    /// <summary>Counts <paramref name="key"/> once for <paramref name="id"/>, however often it is called for that pair in a row.</summary>
    public void Add(int id, int key)
    {
        if (id >= _stamp.Length)
        {
            var size = Math.Max(id + 1, _stamp.Length * 2);
            var old = _stamp.Length;
            Array.Resize(ref _stamp, size);
            Array.Resize(ref _counts, size);
            Array.Fill(_stamp, -1, old, size - old);
        }
        if (_stamp[id] != key)
        {
            _stamp[id] = key;
            _counts[id]++;
        }
    }

    /// <summary>Installations counted for <paramref name="id"/>.</summary>
    public long this[int id] => id < _counts.Length ? _counts[id] : 0;

    /// <summary>One more than the highest id counted so far (ids below it may still be zero).</summary>
    public int Length => _counts.Length;
}
