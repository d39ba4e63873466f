namespace UsageDashboard.Insights;

/// <summary>One installation-month rollup row as the installations page reads it (already filtered).</summary>
public readonly record struct ActivityRow(DateOnly Month, bool IsCi, string? ToolVersion, int Days, int OkDays);

/// <summary>
/// What <c>installations</c> says about one installation: its first UTC day, whether it was only ever seen on one
/// day, and whether every run it ever sent ran in CI (<see cref="Rollups.InstallationDays.CiOnly"/>).
/// </summary>
public readonly record struct InstallationFacts(DateOnly? FirstDay, bool SingleDay, bool CiOnly = false);

/// <summary>
/// The days the installations page reads (<paramref name="Window"/>: the range, the week before its first
/// week for lifecycle, the cohort weeks, the previous period) and the periods it reports.
/// </summary>
public sealed record InstallationWindow(
    DayWindow Window, DateOnly From, DateOnly To, DateOnly FirstWeek, DateOnly LastWeek, DateOnly CohortFrom, int CohortWeeks,
    Grain AdoptionGrain, (DateOnly From, DateOnly To)? Previous);

/// <summary>Everything the installations page counts, keyed by bucket start.</summary>
public sealed record InstallationCounts(
    RuleExclusions Exclusions,
    long Active,
    long New,
    Dictionary<DateOnly, long> Daily,
    Dictionary<DateOnly, long> Weekly,
    Dictionary<DateOnly, long> Monthly,
    Dictionary<DateOnly, long[]> Lifecycle,
    Dictionary<DateOnly, Dictionary<int, long>> Cohorts,
    Dictionary<DateOnly, Dictionary<string, long>> Adoption,
    Dictionary<DateOnly, long> PreviousDaily);

/// <summary>
/// The installations page's definitions, computed over day bit sets (pure: no database). Per
/// installation: the days it was active, the days with a successful run, and per tool version the days it ran
/// that version. Definitions:
/// <list type="bullet">
/// <item>active in a period: any active day in it; with the "successful run" rule, any day with a success;</item>
/// <item>CI-only: every run the installation ever sent ran in CI; single-day: first and last sighting on the same UTC
/// day. Both are facts about the installation's whole history (its <see cref="InstallationFacts"/>), not about the
/// range: "only ever ran in CI" is how Meltano's own telemetry flags CI projects, and a fact that does not move with
/// the range lets the reach indexes answer the rule (<see cref="InstallationIndexes"/>);</item>
/// <item>lifecycle of week w: new (first seen on or after w's Monday), returning (active in w - 1),
/// resurrected (otherwise), dormant (active in w - 1, not in w);</item>
/// <item>cohort: installations first seen in week c and active in it, and how many are active k weeks later;</item>
/// <item>version adoption: each installation's version on its last active day of the bucket (the highest
/// by <see cref="VersionOrder"/> when it ran several that day).</item>
/// </list>
/// Callers add one installation at a time (<see cref="Add"/>, in the order <see cref="KeyMerge{T}"/>
/// walks them) and read <see cref="Result"/> at the end; the per-installation sets are reused, so a page
/// over tens of thousands of installations allocates only its counters.
/// </summary>
public sealed class InstallationActivity
{
    private readonly InstallationWindow _w;
    private readonly ActiveRuleKind _rule;
    private readonly DayWindow _window;
    private readonly int _rangeFrom;
    private readonly int _rangeTo;
    private readonly DateOnly _weekBase;
    private readonly int _weekCount;
    private readonly IReadOnlyList<Bucket> _adoptionBuckets;
    private readonly IReadOnlyList<Bucket> _weekBuckets;
    private readonly IReadOnlyList<Bucket> _monthBuckets;
    private long _any, _withoutSuccess, _ciOnlyCount, _singleDayCount, _active, _newCount;
    private readonly long[] _dailyCounts;
    // Per week and month bucket: its first and last window index within the range, and the count.
    private readonly (int First, int Last)[] _weekSpans;
    private readonly (int First, int Last)[] _monthSpans;
    private readonly long[] _weekly;
    private readonly long[] _monthly;
    // Lifecycle counts by week index (a dictionary lookup per installation and week was a measurable share).
    private readonly long[]?[] _lifecycleByWeek;
    // Retention by cohort week index and weeks since: arrays, not maps, for the same reason.
    private readonly long[]?[] _cohorts;
    // Per installation, reused for the next one: its active weeks, its day sets, its version per day.
    private readonly bool[] _activeWeeks;
    private readonly int[] _weekOfDay;
    private readonly ulong[] _days;
    private readonly ulong[] _ok;
    private readonly string?[] _dayVersion;
    // Adoption buckets by window index (-1 outside the range), and per bucket the count per version id.
    private readonly int[] _adoptionOfDay;
    private readonly int[] _lastInBucket;
    private readonly List<long>[] _adoptionCounts;
    private readonly Dictionary<string, int> _versionIds = new(StringComparer.Ordinal);
    private readonly List<string> _versionNames = [];

    public InstallationActivity(InstallationWindow w, ActiveRuleKind rule)
    {
        _w = w;
        _rule = rule;
        _window = w.Window;
        _rangeFrom = _window.IndexOf(w.From);
        _rangeTo = _window.IndexOf(w.To);
        _weekBase = TimeBuckets.Truncate(_window.From, Grain.Week);
        _weekCount = (_window.To.DayNumber - _weekBase.DayNumber) / 7 + 1;
        _adoptionBuckets = TimeBuckets.For(w.From, w.To, w.AdoptionGrain, w.To);
        _weekBuckets = TimeBuckets.For(w.From, w.To, Grain.Week, w.To);
        _monthBuckets = TimeBuckets.For(w.From, w.To, Grain.Month, w.To);
        _dailyCounts = new long[_window.Length];
        _weekSpans = [.. _weekBuckets.Select(Span)];
        _monthSpans = [.. _monthBuckets.Select(Span)];
        _weekly = new long[_weekBuckets.Count];
        _monthly = new long[_monthBuckets.Count];
        _cohorts = new long[_weekCount][];
        _lifecycleByWeek = new long[_weekCount][];
        _activeWeeks = new bool[_weekCount];
        _weekOfDay = new int[_window.Length];
        for (var i = 0; i < _window.Length; i++)
        {
            _weekOfDay[i] = (_window.DayAt(i).DayNumber - _weekBase.DayNumber) / 7;
        }
        _days = _window.NewSet();
        _ok = _window.NewSet();
        _dayVersion = new string?[_window.Length];
        _adoptionOfDay = new int[_window.Length];
        Array.Fill(_adoptionOfDay, -1);
        for (var b = 0; b < _adoptionBuckets.Count; b++)
        {
            var first = Math.Max(_window.IndexOf(_adoptionBuckets[b].Start), _rangeFrom);
            var last = Math.Min(_window.IndexOf(_adoptionBuckets[b].End) - 1, _rangeTo);
            for (var i = first; i <= last; i++)
            {
                _adoptionOfDay[i] = b;
            }
        }
        _lastInBucket = new int[_adoptionBuckets.Count];
        _adoptionCounts = [.. _adoptionBuckets.Select(_ => new List<long>())];
    }

    /// <summary>Counts one installation from its (already filtered) month rows; <paramref name="fact"/> is null when <c>installations</c> has no row for it.</summary>
    public void Add(ReadOnlySpan<ActivityRow> rows, InstallationFacts? fact)
    {
        var window = _window;
        var (days, ok) = (_days, _ok);
        Array.Clear(days);
        Array.Clear(ok);
        var outsideCi = false;
        foreach (var row in rows)
        {
            window.AddMonthMask(days, row.Month, row.Days);
            window.AddMonthMask(ok, row.Month, row.OkDays);
            outsideCi |= !row.IsCi;
        }
        var firstActive = DayWindow.First(days);
        if (firstActive < 0)
        {
            return;
        }
        // Without an installations row (the walk's only case; the indexes then do not answer) it counts as
        // single-day, and as CI-only when none of the rows read ran outside CI.
        var facts = fact ?? new InstallationFacts(null, true, CiOnly: !outsideCi);
        var firstDay = facts.FirstDay ?? window.DayAt(firstActive);

        // How many installations each stricter rule leaves out, counted under "any event" in the range.
        if (DayWindow.Any(days, _rangeFrom, _rangeTo))
        {
            _any++;
            _withoutSuccess += DayWindow.Any(ok, _rangeFrom, _rangeTo) ? 0 : 1;
            _ciOnlyCount += facts.CiOnly ? 1 : 0;
            _singleDayCount += facts.SingleDay ? 1 : 0;
        }

        if ((_rule == ActiveRuleKind.ExcludeCiOnly && facts.CiOnly) || (_rule == ActiveRuleKind.ExcludeSingleDay && facts.SingleDay))
        {
            return;
        }
        var counted = _rule == ActiveRuleKind.SuccessfulRun ? ok : days;
        if (DayWindow.IsEmpty(counted))
        {
            return;
        }

        if (DayWindow.Any(counted, _rangeFrom, _rangeTo))
        {
            _active++;
            _newCount += firstDay >= _w.From ? 1 : 0;
        }
        // Every day of the window (the previous period's days are read from here too), and its weeks:
        // lifecycle looks one week back, cohorts twelve.
        Array.Clear(_activeWeeks);
        for (var word = 0; word < counted.Length; word++)
        {
            for (var bits = counted[word]; bits != 0; bits &= bits - 1)
            {
                var i = (word << 6) + System.Numerics.BitOperations.TrailingZeroCount(bits);
                _dailyCounts[i]++;
                _activeWeeks[_weekOfDay[i]] = true;
            }
        }
        CountSpans(counted, _weekSpans, _weekly);
        CountSpans(counted, _monthSpans, _monthly);

        for (var week = _w.FirstWeek; week <= _w.LastWeek; week = week.AddDays(7))
        {
            var k = (week.DayNumber - _weekBase.DayNumber) / 7;
            var before = k > 0 && _activeWeeks[k - 1];
            if (_activeWeeks[k])
            {
                (_lifecycleByWeek[k] ??= new long[4])[firstDay >= week ? 0 : before ? 1 : 2]++;
            }
            else if (before)
            {
                (_lifecycleByWeek[k] ??= new long[4])[3]++;
            }
        }
        var cohortWeek = TimeBuckets.Truncate(firstDay, Grain.Week);
        var c = (cohortWeek.DayNumber - _weekBase.DayNumber) / 7;
        if (cohortWeek >= _w.CohortFrom && cohortWeek <= _w.LastWeek && c >= 0 && c < _weekCount && _activeWeeks[c])
        {
            var retained = _cohorts[c] ??= new long[_weekCount - c];
            for (var k = c; k < _weekCount; k++)
            {
                if (_activeWeeks[k])
                {
                    retained[k - c]++;
                }
            }
        }

        // Version adoption: the last counted day of each bucket (within the range), found in one pass over the days.
        Array.Fill(_lastInBucket, -1);
        for (var word = _rangeFrom >> 6; word <= _rangeTo >> 6; word++)
        {
            for (var bits = counted[word]; bits != 0; bits &= bits - 1)
            {
                var i = (word << 6) + System.Numerics.BitOperations.TrailingZeroCount(bits);
                if (i >= _rangeFrom && i <= _rangeTo && _adoptionOfDay[i] >= 0)
                {
                    _lastInBucket[_adoptionOfDay[i]] = i;
                }
            }
        }
        // The version of each day in the range: the highest the installation ran that day, from one pass
        // over its rows (looking it up per bucket re-read every row for every active day).
        Array.Clear(_dayVersion);
        foreach (var row in rows)
        {
            if (row.ToolVersion is null)
            {
                continue;
            }
            var first = row.Month.DayNumber - window.From.DayNumber;
            for (var bits = (uint)row.Days; bits != 0; bits &= bits - 1)
            {
                var i = first + System.Numerics.BitOperations.TrailingZeroCount(bits);
                if (i < _rangeFrom || i > _rangeTo)
                {
                    continue;
                }
                var known = _dayVersion[i];
                if (known is null || (!ReferenceEquals(known, row.ToolVersion) && VersionOrder.Instance.Compare(row.ToolVersion, known) > 0))
                {
                    _dayVersion[i] = row.ToolVersion;
                }
            }
        }
        string? lastVersion = null;
        var lastId = -1;
        for (var b = 0; b < _lastInBucket.Length; b++)
        {
            if (_lastInBucket[b] < 0)
            {
                continue;
            }
            var version = _dayVersion[_lastInBucket[b]] ?? "unknown";
            // An installation usually keeps its version across buckets: the same string, no lookup.
            if (!ReferenceEquals(version, lastVersion))
            {
                if (!_versionIds.TryGetValue(version, out lastId))
                {
                    _versionIds[version] = lastId = _versionNames.Count;
                    _versionNames.Add(version);
                }
                lastVersion = version;
            }
            var counts = _adoptionCounts[b];
            if (lastId >= counts.Count)
            {
                counts.AddRange(new long[lastId - counts.Count + 1]);
            }
            counts[lastId]++;
        }
    }

    /// <summary>The counts of every installation added so far.</summary>
    public InstallationCounts Result()
    {
        var window = _window;
        var adoption = new Dictionary<DateOnly, Dictionary<string, long>>();
        for (var b = 0; b < _adoptionBuckets.Count; b++)
        {
            var counts = _adoptionCounts[b];
            for (var v = 0; v < counts.Count; v++)
            {
                if (counts[v] > 0)
                {
                    if (!adoption.TryGetValue(_adoptionBuckets[b].Start, out var slot))
                    {
                        adoption[_adoptionBuckets[b].Start] = slot = new Dictionary<string, long>(StringComparer.Ordinal);
                    }
                    slot[_versionNames[v]] = counts[v];
                }
            }
        }

        var lifecycle = new Dictionary<DateOnly, long[]>();
        for (var k = 0; k < _weekCount; k++)
        {
            if (_lifecycleByWeek[k] is { } counts)
            {
                lifecycle[_weekBase.AddDays(7 * k)] = counts;
            }
        }
        var daily = new Dictionary<DateOnly, long>();
        for (var i = _rangeFrom; i <= _rangeTo; i++)
        {
            if (_dailyCounts[i] > 0)
            {
                daily[window.DayAt(i)] = _dailyCounts[i];
            }
        }
        var previousDaily = new Dictionary<DateOnly, long>();
        if (_w.Previous is { } previous)
        {
            var shift = _w.To.DayNumber - _w.From.DayNumber + 1;
            for (var day = previous.From; day <= previous.To; day = day.AddDays(1))
            {
                var i = window.IndexOf(day);
                if (i >= 0 && i < window.Length && _dailyCounts[i] > 0)
                {
                    previousDaily[day.AddDays(shift)] = _dailyCounts[i];
                }
            }
        }
        var cohorts = new Dictionary<DateOnly, Dictionary<int, long>>();
        for (var c = 0; c < _weekCount; c++)
        {
            if (_cohorts[c] is { } retained)
            {
                var weeks = new Dictionary<int, long>();
                for (var k = 0; k < retained.Length; k++)
                {
                    if (retained[k] > 0)
                    {
                        weeks[k] = retained[k];
                    }
                }
                cohorts[_weekBase.AddDays(7 * c)] = weeks;
            }
        }
        return new InstallationCounts(new RuleExclusions(_any, _withoutSuccess, _ciOnlyCount, _singleDayCount), _active, _newCount,
            daily, Counts(_weekBuckets, _weekly), Counts(_monthBuckets, _monthly), lifecycle, cohorts, adoption, previousDaily);
    }

    /// <summary>A bucket as window indexes, cut to the range (empty when Last &lt; First).</summary>
    private (int First, int Last) Span(Bucket bucket) =>
        (Math.Max(_window.IndexOf(bucket.Start), _rangeFrom), Math.Min(_window.IndexOf(bucket.End) - 1, _rangeTo));

    /// <summary>Counts the installation once in every bucket it was active in.</summary>
    private static void CountSpans(ulong[] set, (int First, int Last)[] spans, long[] counts)
    {
        for (var b = 0; b < spans.Length; b++)
        {
            if (DayWindow.Any(set, spans[b].First, spans[b].Last))
            {
                counts[b]++;
            }
        }
    }

    private static Dictionary<DateOnly, long> Counts(IReadOnlyList<Bucket> buckets, long[] counts)
    {
        var result = new Dictionary<DateOnly, long>();
        for (var b = 0; b < buckets.Count; b++)
        {
            if (counts[b] > 0)
            {
                result[buckets[b].Start] = counts[b];
            }
        }
        return result;
    }
}
