using System.Numerics;
using UsageDashboard.Rollups;

namespace UsageDashboard.Insights;

/// <summary>
/// Exact distinct installation counts over any day range, in time that does not depend on how many
/// installations there are: for each (environment stream, group, day) it holds how many installations
/// were active that day, split by their <em>gap</em>, the days since the same installation was last active
/// in the same stream and group. An installation is active in [a, b] exactly once at its first active
/// day d there, and d is that day exactly when its previous active day is before a, i.e. its gap is
/// greater than d - a. So
/// <c>distinct(a, b) = Σ_{d = a..b} #{installations active on d with gap &gt; d - a}</c>:
/// one binary search per day and group instead of a walk over every installation's rows.
/// </summary>
/// <remarks>
/// Built once from a tool's month segments (<see cref="RollupCache"/> keeps it while the segments stand),
/// by the same key-ordered walk the pages used per request. The walk stays the answer for what the index
/// does not hold: OS and tool-version filters (any value may be asked for, so the index would need a stream
/// per value and combination) and the installations page's per-installation rules.
/// Streams: 0 = every row, 1 = CI rows only, 2 = rows outside CI (<see cref="ReachFilter.IndexStream"/>).
/// "New" counts need the installation's first sighting (<c>installations.first_seen</c>), not its first
/// active day in a stream, so an installation's first active day in a stream also records how many days
/// after its first sighting that was (its lag); a range [a, b] then counts those whose first sighting
/// is in it: lag in [d - b, d - a].
/// </remarks>
public sealed partial class ReachIndex
{
    public const int Streams = 3;

    /// <summary>The gap of an installation's first active day in a stream and group (no earlier one in the index).</summary>
    private const int FirstGap = int.MaxValue;

    /// <summary>The lag of an installation without a first sighting: never new.</summary>
    private const int NoLag = int.MaxValue;

    private readonly int _start;
    private readonly int _length;
    private readonly long[] _groups;
    private readonly Dictionary<long, int> _groupIds;
    // Per (stream, group) id: entries of day i are [_dayStart[i], _dayStart[i + 1]) of _gaps/_above.
    private readonly Series?[] _series;
    // Built by BuildLast: day i of the series is day length - 1 - i of the window.
    private readonly bool _mirrored;

    private ReachIndex(int start, int length, long[] groups, Dictionary<long, int> groupIds, Series?[] series, bool mirrored)
    {
        _mirrored = mirrored;
        _start = start;
        _length = length;
        _groups = groups;
        _groupIds = groupIds;
        _series = series;
    }

    /// <summary>The first day a query may start on (the first day of the first month the index was built over).</summary>
    public DateOnly CoversFrom => DateOnly.FromDayNumber(_start);

    /// <summary>The last day a query may end on.</summary>
    public DateOnly CoversTo => DateOnly.FromDayNumber(_start + _length - 1);

    /// <summary>(stream, group, day, gap) entries held, for logs and the benchmark.</summary>
    public long Entries { get; private init; }

    /// <summary>
    /// Whether <see cref="New"/> is exact: built with first sightings, and no installation was active before
    /// its first sighting. Runs are never older than their installation's first event, so a store always
    /// qualifies; rows that break the rule (hand-edited, or from another source) send the caller to the walk.
    /// </summary>
    public bool CanCountNew { get; private init; }

    /// <summary>The longest window an index spans (the day takes 10 bits of an entry's key).</summary>
    public const int MaxDays = 1023;

    /// <summary>
    /// Counters a build may hold as dense arrays (16 MB); the rest are hashed. More makes fine-grained builds
    /// faster and their transient memory larger; the result is the same either way.
    /// </summary>
    public const long DefaultDenseCells = 4 << 20;

    /// <summary>The most groups an index holds (group × stream takes 21 bits of an entry's key).</summary>
    public const int MaxGroups = 1 << 19;

    /// <summary>Whether an index can span the months from <paramref name="from"/>'s through <paramref name="lastMonth"/>'s (at most <see cref="MaxDays"/> days).</summary>
    public static bool CanSpan(DateOnly from, DateOnly lastMonth) =>
        new DateOnly(lastMonth.Year, lastMonth.Month, 1).AddMonths(1).DayNumber - new DateOnly(from.Year, from.Month, 1).DayNumber <= MaxDays;

    /// <summary>Whether [<paramref name="from"/>, <paramref name="to"/>] can be answered from this index.</summary>
    public bool Covers(DateOnly from, DateOnly to) => from >= CoversFrom && to <= CoversTo && from <= to;

    /// <summary>
    /// Builds the index over one tool's month segments, which must hold every row of that tool from the
    /// first day of <paramref name="coversFrom"/>'s month through the last segment's month (months without a
    /// segment have no rows). <paramref name="group"/> names each row's group (a negative value leaves the
    /// row out); <paramref name="firstDays"/>, when given, enables <see cref="New"/>.
    /// </summary>
    public static ReachIndex Build<T>(IReadOnlyList<MonthSegment<T>> segments, DateOnly coversFrom, Func<T, long> group,
        InstallationDays[]? firstDays = null, long denseCells = DefaultDenseCells, Func<T, int>? days = null) where T : struct, IMonthRow
    {
        var window = Window(segments, coversFrom);
        var start = window.From.DayNumber;

        var groupIds = new Dictionary<long, int>();
        var groups = new List<long>();
        var counts = new GapCounts(window.Length, denseCells);
        var lagCounts = new Dictionary<long, int>[Streams];
        for (var s = 0; s < Streams; s++)
        {
            lagCounts[s] = [];
        }
        // Per installation, reused: the day set of each (stream, group id) it has rows in, found by a stamp
        // per (stream, group) (the installation key it was last set up for) instead of a lookup per row.
        var sets = new List<ulong[]>();
        var touched = new List<(int Stream, int Group)>();
        var stamp = new int[Streams * 16];
        var slotOf = new int[Streams * 16];
        Array.Fill(stamp, -1);
        var (lastKey, lastGroup) = (long.MinValue, -1);

        var merge = new KeyMerge<T>(segments);
        var activeBeforeFirstSighting = false;
        while (merge.MoveNext())
        {
            touched.Clear();
            for (var p = 0; p < merge.Parts; p++)
            {
                var month = merge.Segments[merge.SegmentOf(p)].Month;
                foreach (var row in merge.Rows(p))
                {
                    var key = group(row);
                    var rowDays = days is null ? row.Days : days(row);
                    if (key < 0 || rowDays == 0)
                    {
                        continue;
                    }
                    var g = lastGroup;
                    if (key != lastKey && !groupIds.TryGetValue(key, out g))
                    {
                        if (groups.Count == MaxGroups)
                        {
                            throw new ArgumentException($"An index holds at most {MaxGroups} groups.", nameof(group));
                        }
                        groupIds[key] = g = groups.Count;
                        groups.Add(key);
                        if (Streams * groups.Count > stamp.Length)
                        {
                            var old = stamp.Length;
                            Array.Resize(ref stamp, old * 2);
                            Array.Resize(ref slotOf, old * 2);
                            Array.Fill(stamp, -1, old, old);
                        }
                    }
                    (lastKey, lastGroup) = (key, g);
                    Mark(0, g, month, rowDays);
                    Mark(row.IsCi ? 1 : 2, g, month, rowDays);
                }
            }
            var first = firstDays is not null && merge.Key < firstDays.Length && firstDays[merge.Key].Known
                ? firstDays[merge.Key].First - start
                : (int?)null;
            for (var t = 0; t < touched.Count; t++)
            {
                var (stream, g) = touched[t];
                var set = sets[t];
                var previous = -1;
                for (var w = 0; w < set.Length; w++)
                {
                    var bits = set[w];
                    while (bits != 0)
                    {
                        var day = (w << 6) + BitOperations.TrailingZeroCount(bits);
                        bits &= bits - 1;
                        counts.Add(stream, g, day, previous < 0 ? 0 : day - previous);
                        if (previous < 0 && firstDays is not null)
                        {
                            activeBeforeFirstSighting |= first is { } sighted && day < sighted;
                            // A first sighting before the window makes the lag larger than any d - a can be.
                            var lag = first is { } f ? Math.Min(day - f, day + 1) : NoLag;
                            Increment(lagCounts[stream], Pack(g, day, lag));
                        }
                        previous = day;
                    }
                }
            }

            void Mark(int stream, int g, DateOnly month, int days)
            {
                var at = (g * Streams) + stream;
                int index;
                if (stamp[at] == merge.Key)
                {
                    index = slotOf[at];
                }
                else
                {
                    stamp[at] = merge.Key;
                    slotOf[at] = index = touched.Count;
                    touched.Add((stream, g));
                    if (sets.Count <= index)
                    {
                        sets.Add(window.NewSet());
                    }
                    else
                    {
                        Array.Clear(sets[index]);
                    }
                }
                window.AddMonthMask(sets[index], month, days);
            }
        }

        return Finish(window, groups, groupIds, counts, firstDays is null ? null : lagCounts, mirrored: false,
            canCountNew: firstDays is not null && !activeBeforeFirstSighting);

        static void Increment(Dictionary<long, int> map, long key) =>
            System.Runtime.InteropServices.CollectionsMarshal.GetValueRefOrAddDefault(map, key, out _)++;
    }

    /// <summary>
    /// Builds an index that counts each installation once per range under the group of its <em>last</em> active day
    /// there (in each stream): on every active day the installation is under the group of the day's row with the
    /// highest <paramref name="rank"/> (the first of equals), and the index is <see cref="Build{T}"/>'s mirrored in
    /// time: its entries hold the days until the installation's <em>next</em> active day in the stream, in any group.
    /// Its last active day in [a, b] is d exactly when that next day is after b, so a range is answered like
    /// <see cref="Distinct(int, DateOnly, DateOnly, Func{long, bool}?)"/> with days counted from the end. The
    /// installations page's version adoption (an installation's version on its last active day of a bucket) is this.
    /// With <paramref name="only"/>, a day counts only when one of the installation's rows in the stream (of any group)
    /// has it in <paramref name="only"/>'s days, while every row active that day still competes by rank: under
    /// "a successful run" an installation's version is that of its last day with a success, the highest it ran that day.
    /// </summary>
    public static ReachIndex BuildLast<T>(IReadOnlyList<MonthSegment<T>> segments, DateOnly coversFrom, Func<T, long> group, Func<T, int> rank,
        long denseCells = DefaultDenseCells, Func<T, int>? only = null) where T : struct, IMonthRow
    {
        var window = Window(segments, coversFrom);
        var length = window.Length;
        var groupIds = new Dictionary<long, int>();
        var groups = new List<long>();
        var counts = new GapCounts(length, denseCells);
        // Per stream, reused for every installation: its active days, and per day the best rank and its group id.
        var sets = new ulong[Streams][];
        var onlySets = new ulong[Streams][];
        var bestRank = new int[Streams][];
        var bestGroup = new int[Streams][];
        for (var s = 0; s < Streams; s++)
        {
            sets[s] = window.NewSet();
            onlySets[s] = window.NewSet();
            bestRank[s] = new int[length];
            bestGroup[s] = new int[length];
        }
        var merge = new KeyMerge<T>(segments);
        while (merge.MoveNext())
        {
            for (var s = 0; s < Streams; s++)
            {
                Array.Clear(sets[s]);
            }
            if (only is not null)
            {
                // The days the installation may count on, per stream, from all its rows first.
                for (var s = 0; s < Streams; s++)
                {
                    Array.Clear(onlySets[s]);
                }
                for (var p = 0; p < merge.Parts; p++)
                {
                    var month = merge.Segments[merge.SegmentOf(p)].Month;
                    foreach (var row in merge.Rows(p))
                    {
                        if (group(row) >= 0)
                        {
                            window.AddMonthMask(onlySets[0], month, only(row));
                            window.AddMonthMask(onlySets[row.IsCi ? 1 : 2], month, only(row));
                        }
                    }
                }
            }
            for (var p = 0; p < merge.Parts; p++)
            {
                var month = merge.Segments[merge.SegmentOf(p)].Month;
                var first = month.DayNumber - window.From.DayNumber;
                foreach (var row in merge.Rows(p))
                {
                    var key = group(row);
                    if (key < 0 || row.Days == 0)
                    {
                        continue;
                    }
                    if (!groupIds.TryGetValue(key, out var g))
                    {
                        if (groups.Count == MaxGroups)
                        {
                            throw new ArgumentException($"An index holds at most {MaxGroups} groups.", nameof(group));
                        }
                        groupIds[key] = g = groups.Count;
                        groups.Add(key);
                    }
                    var r = rank(row);
                    Mark(0, first, row.Days, r, g);
                    Mark(row.IsCi ? 1 : 2, first, row.Days, r, g);
                }
            }
            for (var s = 0; s < Streams; s++)
            {
                var set = sets[s];
                var next = -1;
                for (var w = set.Length - 1; w >= 0; w--)
                {
                    var bits = set[w];
                    while (bits != 0)
                    {
                        var day = (w << 6) + 63 - BitOperations.LeadingZeroCount(bits);
                        bits &= ~(1UL << (day & 63));
                        counts.Add(s, bestGroup[s][day], length - 1 - day, next < 0 ? 0 : next - day);
                        next = day;
                    }
                }
            }
        }
        return Finish(window, groups, groupIds, counts, null, mirrored: true, canCountNew: false);

        void Mark(int stream, int first, int days, int r, int g)
        {
            var set = sets[stream];
            for (var bits = (uint)days; bits != 0; bits &= bits - 1)
            {
                var day = first + BitOperations.TrailingZeroCount(bits);
                if (only is not null && !DayWindow.Get(onlySets[stream], day))
                {
                    continue;
                }
                if (!DayWindow.Get(set, day) || r > bestRank[stream][day])
                {
                    set[day >> 6] |= 1UL << (day & 63);
                    (bestRank[stream][day], bestGroup[stream][day]) = (r, g);
                }
            }
        }
    }

    /// <summary>The days an index over <paramref name="segments"/> spans: from <paramref name="coversFrom"/>'s month through the last segment's.</summary>
    private static DayWindow Window<T>(IReadOnlyList<MonthSegment<T>> segments, DateOnly coversFrom) where T : struct
    {
        var startMonth = new DateOnly(coversFrom.Year, coversFrom.Month, 1);
        if (segments.Any(s => s.Month < startMonth))
        {
            throw new ArgumentException($"A segment ({segments.First(s => s.Month < startMonth).Month:yyyy-MM}) is before {startMonth:yyyy-MM}.", nameof(segments));
        }
        if (segments.Select(s => s.Tool).Distinct(StringComparer.Ordinal).Skip(1).Any())
        {
            throw new ArgumentException("An index is built over one tool's segments.", nameof(segments));
        }
        var lastMonth = segments.Count == 0 ? startMonth : segments.Max(s => s.Month);
        if (!CanSpan(startMonth, lastMonth))
        {
            throw new ArgumentException($"An index spans at most {MaxDays} days; {startMonth:yyyy-MM} to {lastMonth:yyyy-MM} is more.", nameof(segments));
        }
        return new DayWindow(startMonth, lastMonth.AddMonths(1).AddDays(-1));
    }
}
