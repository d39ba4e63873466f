using UsageDashboard.Rollups;

namespace UsageDashboard.Insights;

/// <summary>
/// The reach indexes that answer <c>/installations</c> for one tool without walking its installations, under every
/// rule: their memberships are facts about an installation's whole history, not about the range ("excluding
/// single-day installations", "excluding CI-only installations"), or they count other days ("a successful run"
/// counts the days with a success instead of every active day); under an OS or tool-version filter they are built
/// over the rows it keeps, as the walk reads only those:
/// <list type="bullet">
/// <item><see cref="Span"/>: every active day, grouped by <see cref="SpanGroup"/> (bit 0: only ever seen on one
/// day; bit 1: only ever ran in CI), with first sightings: active and new counts over any days;</item>
/// <item><see cref="Ok"/>: the same over the days with a successful run (how many installations have none, and
/// what "a successful run" counts);</item>
/// <item><see cref="Cohorts"/>: grouped by <see cref="CohortGroup"/> (the week of the first sighting, whether the
/// installation was active in it per stream, and the span group): retention without a walk;</item>
/// <item><see cref="Versions"/>: <see cref="ReachIndex.BuildLast{T}"/> grouped by (version, span group): each
/// installation under its version on its last active day of a bucket.</item>
/// </list>
/// <see cref="Cohorts"/> and <see cref="Versions"/> are over the successful days when <see cref="OverSuccessfulDays"/>.
/// </summary>
public sealed record InstallationIndexes(ReachIndex Span, ReachIndex Ok, ReachIndex Cohorts, ReachIndex Versions, bool OverSuccessfulDays = false)
{
    /// <summary>The cohort group of an installation without a first sighting: the walk dates it by its first active day in the page's window, which no index can know.</summary>
    public static readonly long UnknownFirstDay = RollupCache.PairGroup(0, 1 << 5);

    /// <summary>Builds <see cref="Span"/> (as <see cref="RollupCache"/> does, once per change of the segments).</summary>
    public static ReachIndex BuildSpan(IReadOnlyList<MonthSegment<InstallationMonthRow>> segments, DateOnly from, InstallationDays[] firstDays,
        ReachFilter? rows = null) =>
        ReachIndex.Build(segments, from, Only(rows, SpanGroup(firstDays)), firstDays);

    /// <summary>Builds <see cref="Ok"/>.</summary>
    public static ReachIndex BuildOk(IReadOnlyList<MonthSegment<InstallationMonthRow>> segments, DateOnly from, InstallationDays[] firstDays,
        ReachFilter? rows = null) =>
        ReachIndex.Build(segments, from, Only(rows, SpanGroup(firstDays)), firstDays, days: static r => r.OkDays);

    /// <summary>Builds <see cref="Cohorts"/>, over the successful days when <paramref name="successfulDays"/>.</summary>
    public static ReachIndex BuildCohorts(IReadOnlyList<MonthSegment<InstallationMonthRow>> segments, DateOnly from, InstallationDays[] firstDays,
        ReachFilter? rows = null, bool successfulDays = false) =>
        ReachIndex.Build(segments, from, Only(rows, CohortGroup(segments, firstDays, rows, successfulDays)), days: successfulDays ? static r => r.OkDays : null);

    /// <summary>
    /// Builds <see cref="Versions"/> (codes name the versions, to rank them); with <paramref name="successfulDays"/>
    /// an installation's last day with a success decides, under the highest version it ran that day, as the walk has it.
    /// </summary>
    public static ReachIndex BuildVersions(IReadOnlyList<MonthSegment<InstallationMonthRow>> segments, DateOnly from, InstallationDays[] firstDays,
        StringCodes codes, ReachFilter? rows = null, bool successfulDays = false)
    {
        var rank = VersionRank(segments, codes);
        var span = SpanGroup(firstDays);
        return ReachIndex.BuildLast(segments, from, Only(rows, r => RollupCache.PairGroup(r.ToolVersion, (int)span(r))), r => rank[r.ToolVersion],
            only: successfulDays ? static r => r.OkDays : null);
    }

    /// <summary>
    /// All four over one tool's segments (tests; the cache builds and keeps them one by one), over the rows
    /// <paramref name="rows"/> keeps (its OS or tool-version filter; null for every row), as the walk counts them;
    /// <paramref name="successfulDays"/> for the "a successful run" rule.
    /// </summary>
    public static InstallationIndexes Build(IReadOnlyList<MonthSegment<InstallationMonthRow>> segments, DateOnly from, InstallationDays[] firstDays,
        StringCodes codes, ReachFilter? rows = null, bool successfulDays = false) =>
        new(BuildSpan(segments, from, firstDays, rows), BuildOk(segments, from, firstDays, rows), BuildCohorts(segments, from, firstDays, rows, successfulDays),
            BuildVersions(segments, from, firstDays, codes, rows, successfulDays), successfulDays);

    /// <summary><paramref name="group"/> for the rows <paramref name="rows"/> keeps (<see cref="ReachFilter.Narrow{T}"/>), every row's without it.</summary>
    private static Func<InstallationMonthRow, long> Only(ReachFilter? rows, Func<InstallationMonthRow, long> group) =>
        rows is { } filter ? filter.Narrow(group) : group;

    /// <summary>Whether every count of the page can be read from these indexes for [<paramref name="from"/>, <paramref name="to"/>].</summary>
    public bool CanAnswer(DateOnly from, DateOnly to) =>
        Span.CanCountNew && Ok.CanCountNew && Span.CoversFrom <= from && from <= to && !Cohorts.Groups.Contains(UnknownFirstDay);

    /// <summary>Bit 0 of a span group: only ever seen on one UTC day (or not in <c>installations</c>, as the walk takes it).</summary>
    public const int SingleDayBit = 1;

    /// <summary>Bit 1 of a span group: every run the installation ever sent ran in CI (<see cref="InstallationDays.CiOnly"/>).</summary>
    public const int CiOnlyBit = 2;

    /// <summary>The span groups, every combination of <see cref="SingleDayBit"/> and <see cref="CiOnlyBit"/>.</summary>
    public static readonly long[] SpanGroups = [0, SingleDayBit, CiOnlyBit, SingleDayBit | CiOnlyBit];

    /// <summary>An installation's span group: <see cref="SingleDayBit"/> and <see cref="CiOnlyBit"/> as they hold for it.</summary>
    private static Func<InstallationMonthRow, long> SpanGroup(InstallationDays[] firstDays) => r => SpanBits(firstDays, r.Key);

    private static int SpanBits(InstallationDays[] firstDays, int key) =>
        (SingleDay(firstDays, key) ? SingleDayBit : 0) | (CiOnly(firstDays, key) ? CiOnlyBit : 0);

    // Unknown installations never reach the counts (CanAnswer), so their CI bit is only a placeholder.
    private static bool CiOnly(InstallationDays[] firstDays, int key) => key < firstDays.Length && firstDays[key].CiOnly;

    private static bool SingleDay(InstallationDays[] firstDays, int key) =>
        key >= firstDays.Length || !firstDays[key].Known || firstDays[key].First == firstDays[key].Last;

    /// <summary>The span group (<see cref="SpanGroups"/>) of a cohort group's installations: its two low bits.</summary>
    public static long SpanGroupOfCohort(long cohortGroup) => cohortGroup & (SingleDayBit | CiOnlyBit);

    /// <summary>Whether a cohort group's installations were active in their first-sighting week in <paramref name="stream"/>.</summary>
    public static bool CohortActiveIn(long cohortGroup, int stream) => (cohortGroup & (1L << (2 + stream))) != 0;

    /// <summary>
    /// (first-sighting week's Monday as a day number, bits) per installation as <see cref="RollupCache.PairGroup"/>:
    /// bits 0-1 = the span group (<see cref="SpanGroupOfCohort"/>), bit 2 + s = active in that week in stream s
    /// (<see cref="CohortActiveIn"/>), bit 5 marks <see cref="UnknownFirstDay"/>. Found in one pass over the segments,
    /// as a row alone cannot tell.
    /// </summary>
    private static Func<InstallationMonthRow, long> CohortGroup(IReadOnlyList<MonthSegment<InstallationMonthRow>> segments, InstallationDays[] firstDays,
        ReachFilter? rows, bool successfulDays)
    {
        var groups = new Dictionary<int, long>();
        var merge = new KeyMerge<InstallationMonthRow>(segments);
        while (merge.MoveNext())
        {
            var key = merge.Key;
            if (key >= firstDays.Length || !firstDays[key].Known)
            {
                groups[key] = UnknownFirstDay;
                continue;
            }
            var week = TimeBuckets.Truncate(DateOnly.FromDayNumber(firstDays[key].First), Grain.Week);
            var bits = SpanBits(firstDays, key);
            for (var p = 0; p < merge.Parts; p++)
            {
                var mask = MonthMask.For(merge.Segments[merge.SegmentOf(p)].Month, week, week.AddDays(6));
                if (mask == 0)
                {
                    continue;
                }
                foreach (var row in merge.Rows(p))
                {
                    if (((successfulDays ? row.OkDays : row.Days) & mask) != 0 && (rows is not { } filter || filter.KeepsRow(in row)))
                    {
                        bits |= (1 << 2) | (1 << (row.IsCi ? 3 : 4));
                    }
                }
            }
            groups[key] = RollupCache.PairGroup(week.DayNumber, bits);
        }
        return r => groups[r.Key];
    }

    /// <summary>Each tool-version code's rank by <see cref="VersionOrder"/> (NULL, code 0, below every version), indexed by code.</summary>
    private static int[] VersionRank(IReadOnlyList<MonthSegment<InstallationMonthRow>> segments, StringCodes codes)
    {
        var present = segments.SelectMany(s => s.Rows).Select(r => r.ToolVersion).Where(c => c != 0).Distinct().ToList();
        var rank = new int[(present.Count == 0 ? 0 : present.Max()) + 1];
        rank[0] = -1;
        var ordered = present.OrderBy(c => codes.Text(c)!, VersionOrder.Instance).ToList();
        for (var i = 0; i < ordered.Count; i++)
        {
            rank[ordered[i]] = i;
        }
        return rank;
    }
}

/// <summary>
/// <see cref="InstallationCounts"/> from <see cref="InstallationIndexes"/>, the same numbers
/// <see cref="InstallationActivity"/> counts by walking (pure). With D = installations active in a range and
/// N = those of them first seen in it, in the window's stream and the rule's span groups:
/// <list type="bullet">
/// <item>lifecycle of week w: new = N(w), returning = D(w−1) + D(w) − D(w−1..w) (active in both; never new,
/// as they were seen before w), resurrected = D(w) − new − returning, dormant = D(w−1) − returning;</item>
/// <item>cohort c: size N(c), and k weeks later the installations of c's cohort groups that were active in c;</item>
/// <item>exclusions: without a success = D − D(successful days); CI-only = D(span groups with <see cref="InstallationIndexes.CiOnlyBit"/>);
/// single-day = D(span groups with <see cref="InstallationIndexes.SingleDayBit"/>).</item>
/// </list>
/// Tools add up: an installation belongs to one tool.
/// </summary>
public sealed class InstallationIndexCounts
{
    private readonly InstallationWindow _w;
    // The span groups the rule counts (every one but those it excludes).
    private readonly long[] _groups;
    private readonly bool _successfulDays;
    private readonly IReadOnlyList<Bucket> _weekBuckets;
    private readonly IReadOnlyList<Bucket> _monthBuckets;
    private readonly IReadOnlyList<Bucket> _adoptionBuckets;
    private long _any, _withoutSuccess, _ciOnly, _singleDay, _active, _new;
    private readonly Dictionary<DateOnly, long> _daily = [];
    private readonly Dictionary<DateOnly, long> _weekly = [];
    private readonly Dictionary<DateOnly, long> _monthly = [];
    private readonly Dictionary<DateOnly, long[]> _lifecycle = [];
    private readonly Dictionary<DateOnly, Dictionary<int, long>> _cohorts = [];
    private readonly Dictionary<DateOnly, Dictionary<string, long>> _adoption = [];
    private readonly Dictionary<DateOnly, long> _previousDaily = [];

    public InstallationIndexCounts(InstallationWindow w, ActiveRuleKind rule)
    {
        _w = w;
        _groups = [.. InstallationIndexes.SpanGroups.Where(g => Counts(rule, g))];
        _successfulDays = rule == ActiveRuleKind.SuccessfulRun;
        _weekBuckets = TimeBuckets.For(w.From, w.To, Grain.Week, w.To);
        _monthBuckets = TimeBuckets.For(w.From, w.To, Grain.Month, w.To);
        _adoptionBuckets = TimeBuckets.For(w.From, w.To, w.AdoptionGrain, w.To);
    }

    /// <summary>Whether <paramref name="rule"/> counts the installations of span group <paramref name="spanGroup"/>.</summary>
    private static bool Counts(ActiveRuleKind rule, long spanGroup) => rule switch
    {
        ActiveRuleKind.ExcludeSingleDay => (spanGroup & InstallationIndexes.SingleDayBit) == 0,
        ActiveRuleKind.ExcludeCiOnly => (spanGroup & InstallationIndexes.CiOnlyBit) == 0,
        _ => true,
    };

    /// <summary>
    /// Adds one tool's counts from its indexes (<see cref="InstallationIndexes.CanAnswer"/> must hold for the window, and
    /// <see cref="InstallationIndexes.OverSuccessfulDays"/> must match the rule) in <paramref name="stream"/>.
    /// </summary>
    public void Add(InstallationIndexes indexes, int stream, StringCodes codes)
    {
        if (indexes.OverSuccessfulDays != _successfulDays)
        {
            throw new ArgumentException($"The rule counts {(_successfulDays ? "successful" : "active")} days; these indexes' cohorts and versions are over the other.",
                nameof(indexes));
        }
        var (from, to) = (_w.From, _w.To);
        // The days the rule counts: every active day, or those with a successful run.
        var counted = _successfulDays ? indexes.Ok : indexes.Span;
        // Days after the indexes' last month hold no rows; every range is cut to the window and to them.
        var last = indexes.Span.CoversTo < to ? indexes.Span.CoversTo : to;
        (DateOnly, DateOnly)? Cut(DateOnly a, DateOnly b)
        {
            a = a < _w.Window.From ? _w.Window.From : a;
            b = b > last ? last : b;
            return a <= b ? (a, b) : null;
        }
        long Count(ReachIndex index, int s, long group, DateOnly a, DateOnly b) =>
            s < 0 || Cut(a, b) is not (var x, var y) ? 0 : index.DistinctOf(s, group, x, y);
        long Sum(ReachIndex index, IEnumerable<long> groups, DateOnly a, DateOnly b) => groups.Sum(g => Count(index, stream, g, a, b));
        long D(DateOnly a, DateOnly b) => Sum(counted, _groups, a, b);
        long N(DateOnly a, DateOnly b) => Cut(a, b) is (var x, var y) ? _groups.Sum(g => counted.New(stream, g, x, y)) : 0;

        // Exclusions, under "any event" in the range whatever the rule.
        var all = InstallationIndexes.SpanGroups;
        var any = Sum(indexes.Span, all, from, to);
        _any += any;
        _withoutSuccess += any - Sum(indexes.Ok, all, from, to);
        _ciOnly += Sum(indexes.Span, all.Where(g => (g & InstallationIndexes.CiOnlyBit) != 0), from, to);
        _singleDay += Sum(indexes.Span, all.Where(g => (g & InstallationIndexes.SingleDayBit) != 0), from, to);

        _active += D(from, to);
        _new += N(from, to);
        AddDaily(_daily, counted, stream, from, to, 0);
        if (_w.Previous is { } previous)
        {
            AddDaily(_previousDaily, counted, stream, previous.From, previous.To, to.DayNumber - from.DayNumber + 1);
        }
        AddBuckets(_weekly, _weekBuckets, D);
        AddBuckets(_monthly, _monthBuckets, D);

        for (var week = _w.FirstWeek; week <= _w.LastWeek; week = week.AddDays(7))
        {
            var (current, before) = (D(week, week.AddDays(6)), D(week.AddDays(-7), week.AddDays(-1)));
            var both = before + current - D(week.AddDays(-7), week.AddDays(6));
            var fresh = N(week, week.AddDays(6));
            if (current > 0 || before > 0)
            {
                var counts = _lifecycle.TryGetValue(week, out var c) ? c : _lifecycle[week] = new long[4];
                counts[0] += fresh;
                counts[1] += both;
                counts[2] += current - fresh - both;
                counts[3] += before - both;
            }
        }

        // Cohort groups of each week: those active in it in this stream, with the rule's span groups.
        var cohortGroups = indexes.Cohorts.Groups
            .Where(g => InstallationIndexes.CohortActiveIn(g, stream) && _groups.Contains(InstallationIndexes.SpanGroupOfCohort(g)))
            .GroupBy(g => (int)(g >> 32))
            .ToDictionary(g => g.Key, g => g.ToList());
        for (var week = _w.CohortFrom; week <= _w.LastWeek; week = week.AddDays(7))
        {
            var size = N(week, week.AddDays(6));
            if (size == 0)
            {
                continue;
            }
            var retained = _cohorts.TryGetValue(week, out var r) ? r : _cohorts[week] = [];
            retained[0] = retained.GetValueOrDefault(0) + size;
            for (var k = 1; week.AddDays(7 * k) <= to; k++)
            {
                var start = week.AddDays(7 * k);
                var n = cohortGroups.GetValueOrDefault(week.DayNumber)?.Sum(g => Count(indexes.Cohorts, stream, g, start, start.AddDays(6))) ?? 0;
                if (n > 0)
                {
                    retained[k] = retained.GetValueOrDefault(k) + n;
                }
            }
        }

        var versionGroups = indexes.Versions.Groups.Where(g => _groups.Contains((int)g)).ToList();
        foreach (var bucket in _adoptionBuckets)
        {
            var (a, b) = InRange(bucket);
            foreach (var g in versionGroups)
            {
                var n = Count(indexes.Versions, stream, g, a, b);
                if (n > 0)
                {
                    var slot = _adoption.TryGetValue(bucket.Start, out var v) ? v : _adoption[bucket.Start] = new Dictionary<string, long>(StringComparer.Ordinal);
                    var version = codes.Text((int)(g >> 32)) ?? "unknown";
                    slot[version] = slot.GetValueOrDefault(version) + n;
                }
            }
        }

        // A bucket's days within the range (the first week or month may start before it).
        (DateOnly, DateOnly) InRange(Bucket bucket) =>
            (bucket.Start < from ? from : bucket.Start, bucket.End.AddDays(-1) > to ? to : bucket.End.AddDays(-1));

        void AddDaily(Dictionary<DateOnly, long> into, ReachIndex span, int s, DateOnly a, DateOnly b, int shift)
        {
            if (Cut(a, b) is not (var x, var y))
            {
                return;
            }
            foreach (var group in _groups)
            {
                var daily = span.Daily(s, group, x, y);
                for (var i = 0; i < daily.Length; i++)
                {
                    if (daily[i] > 0)
                    {
                        var day = x.AddDays(i + shift);
                        into[day] = into.GetValueOrDefault(day) + daily[i];
                    }
                }
            }
        }

        void AddBuckets(Dictionary<DateOnly, long> into, IReadOnlyList<Bucket> buckets, Func<DateOnly, DateOnly, long> distinct)
        {
            foreach (var bucket in buckets)
            {
                var (a, b) = InRange(bucket);
                var n = distinct(a, b);
                if (n > 0)
                {
                    into[bucket.Start] = into.GetValueOrDefault(bucket.Start) + n;
                }
            }
        }
    }

    /// <summary>The counts of every tool added so far.</summary>
    public InstallationCounts Result() => new(new RuleExclusions(_any, _withoutSuccess, _ciOnly, _singleDay), _active, _new,
        _daily, _weekly, _monthly, _lifecycle, _cohorts, _adoption, _previousDaily);
}
