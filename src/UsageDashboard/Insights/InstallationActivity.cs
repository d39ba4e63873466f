namespace UsageDashboard.Insights;

/// <summary>One installation-month rollup row as the installations page reads it (already filtered).</summary>
public readonly record struct ActivityRow(DateOnly Month, bool IsCi, string? ToolVersion, int Days, int OkDays);

/// <summary>What <c>installations</c> says about one installation: its first UTC day, and whether it was only ever seen on one day.</summary>
public readonly record struct InstallationFacts(DateOnly? FirstDay, bool SingleDay);

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
/// installation: the days it was active, the days with a successful run, the days with a run outside CI,
/// and per tool version the days it ran that version. Definitions:
/// <list type="bullet">
/// <item>active in a period: any active day in it; with the "successful run" rule, any day with a success;</item>
/// <item>CI-only: no run outside CI on any day read; single-day: first and last sighting on the same UTC day;</item>
/// <item>lifecycle of week w: new (first seen on or after w's Monday), returning (active in w - 1),
/// resurrected (otherwise), dormant (active in w - 1, not in w);</item>
/// <item>cohort: installations first seen in week c and active in it, and how many are active k weeks later;</item>
/// <item>version adoption: each installation's version on its last active day of the bucket (the highest
/// by <see cref="VersionOrder"/> when it ran several that day).</item>
/// </list>
/// </summary>
public static class InstallationActivity
{
    public static InstallationCounts Compute(
        IReadOnlyDictionary<int, List<ActivityRow>> rows, IReadOnlyDictionary<int, InstallationFacts> facts,
        InstallationWindow w, ActiveRuleKind rule)
    {
        var window = w.Window;
        var rangeFrom = window.IndexOf(w.From);
        var rangeTo = window.IndexOf(w.To);
        var weekBase = TimeBuckets.Truncate(window.From, Grain.Week);
        var weekCount = (window.To.DayNumber - weekBase.DayNumber) / 7 + 1;
        var adoptionBuckets = TimeBuckets.For(w.From, w.To, w.AdoptionGrain, w.To);
        var weekBuckets = TimeBuckets.For(w.From, w.To, Grain.Week, w.To);
        var monthBuckets = TimeBuckets.For(w.From, w.To, Grain.Month, w.To);

        long any = 0, withoutSuccess = 0, ciOnlyCount = 0, singleDayCount = 0, active = 0, newCount = 0;
        var dailyCounts = new long[window.Length];
        var weekly = new Dictionary<DateOnly, long>();
        var monthly = new Dictionary<DateOnly, long>();
        // Lifecycle counts by week index (a dictionary lookup per installation and week was a measurable share).
        var lifecycleByWeek = new long[weekCount][];
        var cohorts = new Dictionary<DateOnly, Dictionary<int, long>>();
        var activeWeeks = new bool[weekCount];
        // Adoption buckets by window index (-1 outside the range), and per bucket the count per version id.
        var adoptionOfDay = new int[window.Length];
        Array.Fill(adoptionOfDay, -1);
        for (var b = 0; b < adoptionBuckets.Count; b++)
        {
            var first = Math.Max(window.IndexOf(adoptionBuckets[b].Start), rangeFrom);
            var last = Math.Min(window.IndexOf(adoptionBuckets[b].End) - 1, rangeTo);
            for (var i = first; i <= last; i++)
            {
                adoptionOfDay[i] = b;
            }
        }
        var lastInBucket = new int[adoptionBuckets.Count];
        var adoptionCounts = adoptionBuckets.Select(_ => new List<long>()).ToArray();
        var versionIds = new Dictionary<string, int>(StringComparer.Ordinal);
        var dayVersion = new string?[window.Length];
        var versionNames = new List<string>();

        foreach (var (key, list) in rows)
        {
            var days = window.NewSet();
            var ok = window.NewSet();
            var interactive = window.NewSet();
            foreach (var row in list)
            {
                window.AddMonthMask(days, row.Month, row.Days);
                window.AddMonthMask(ok, row.Month, row.OkDays);
                if (!row.IsCi)
                {
                    window.AddMonthMask(interactive, row.Month, row.Days);
                }
            }
            var firstActive = DayWindow.First(days);
            if (firstActive < 0)
            {
                continue;
            }
            var fact = facts.TryGetValue(key, out var f) ? f : new InstallationFacts(null, true);
            var firstDay = fact.FirstDay ?? window.DayAt(firstActive);
            var ciOnly = DayWindow.IsEmpty(interactive);

            // How many installations each stricter rule leaves out, counted under "any event" in the range.
            if (DayWindow.Any(days, rangeFrom, rangeTo))
            {
                any++;
                withoutSuccess += DayWindow.Any(ok, rangeFrom, rangeTo) ? 0 : 1;
                ciOnlyCount += ciOnly ? 1 : 0;
                singleDayCount += fact.SingleDay ? 1 : 0;
            }

            if ((rule == ActiveRuleKind.ExcludeCiOnly && ciOnly) || (rule == ActiveRuleKind.ExcludeSingleDay && fact.SingleDay))
            {
                continue;
            }
            var counted = rule == ActiveRuleKind.SuccessfulRun ? ok : days;
            if (DayWindow.IsEmpty(counted))
            {
                continue;
            }

            if (DayWindow.Any(counted, rangeFrom, rangeTo))
            {
                active++;
                newCount += firstDay >= w.From ? 1 : 0;
            }
            // Every day of the window: the previous period's days are read from here too.
            DayWindow.ForEach(counted, 0, window.Length - 1, i => dailyCounts[i]++);
            CountBuckets(counted, window, weekBuckets, w, weekly);
            CountBuckets(counted, window, monthBuckets, w, monthly);

            // Weeks over the whole window: lifecycle looks one week back, cohorts twelve.
            Array.Clear(activeWeeks);
            DayWindow.ForEach(counted, 0, window.Length - 1, i => activeWeeks[(window.DayAt(i).DayNumber - weekBase.DayNumber) / 7] = true);
            for (var week = w.FirstWeek; week <= w.LastWeek; week = week.AddDays(7))
            {
                var k = (week.DayNumber - weekBase.DayNumber) / 7;
                var before = k > 0 && activeWeeks[k - 1];
                if (activeWeeks[k])
                {
                    (lifecycleByWeek[k] ??= new long[4])[firstDay >= week ? 0 : before ? 1 : 2]++;
                }
                else if (before)
                {
                    (lifecycleByWeek[k] ??= new long[4])[3]++;
                }
            }
            var cohortWeek = TimeBuckets.Truncate(firstDay, Grain.Week);
            var c = (cohortWeek.DayNumber - weekBase.DayNumber) / 7;
            if (cohortWeek >= w.CohortFrom && cohortWeek <= w.LastWeek && c >= 0 && c < weekCount && activeWeeks[c])
            {
                if (!cohorts.TryGetValue(cohortWeek, out var retained))
                {
                    cohorts[cohortWeek] = retained = [];
                }
                for (var k = c; k < weekCount; k++)
                {
                    if (activeWeeks[k])
                    {
                        retained[k - c] = retained.GetValueOrDefault(k - c) + 1;
                    }
                }
            }

            // Version adoption: the last counted day of each bucket (within the range), found in one pass over the days.
            Array.Fill(lastInBucket, -1);
            DayWindow.ForEach(counted, rangeFrom, rangeTo, i =>
            {
                if (adoptionOfDay[i] >= 0)
                {
                    lastInBucket[adoptionOfDay[i]] = i;
                }
            });
            // The version of each day in the range: the highest the installation ran that day, from one pass
            // over its rows (looking it up per bucket re-read every row for every active day).
            Array.Clear(dayVersion);
            foreach (var row in list)
            {
                if (row.ToolVersion is null)
                {
                    continue;
                }
                var first = row.Month.DayNumber - window.From.DayNumber;
                for (var bits = (uint)row.Days; bits != 0; bits &= bits - 1)
                {
                    var i = first + System.Numerics.BitOperations.TrailingZeroCount(bits);
                    if (i < rangeFrom || i > rangeTo)
                    {
                        continue;
                    }
                    var known = dayVersion[i];
                    if (known is null || (!ReferenceEquals(known, row.ToolVersion) && VersionOrder.Instance.Compare(row.ToolVersion, known) > 0))
                    {
                        dayVersion[i] = row.ToolVersion;
                    }
                }
            }
            string? lastVersion = null;
            var lastId = -1;
            for (var b = 0; b < lastInBucket.Length; b++)
            {
                if (lastInBucket[b] < 0)
                {
                    continue;
                }
                var version = dayVersion[lastInBucket[b]] ?? "unknown";
                // An installation usually keeps its version across buckets: the same string, no lookup.
                if (!ReferenceEquals(version, lastVersion))
                {
                    if (!versionIds.TryGetValue(version, out lastId))
                    {
                        versionIds[version] = lastId = versionNames.Count;
                        versionNames.Add(version);
                    }
                    lastVersion = version;
                }
                var counts = adoptionCounts[b];
                if (lastId >= counts.Count)
                {
                    counts.AddRange(new long[lastId - counts.Count + 1]);
                }
                counts[lastId]++;
            }
        }

        var adoption = new Dictionary<DateOnly, Dictionary<string, long>>();
        for (var b = 0; b < adoptionBuckets.Count; b++)
        {
            var counts = adoptionCounts[b];
            for (var v = 0; v < counts.Count; v++)
            {
                if (counts[v] > 0)
                {
                    if (!adoption.TryGetValue(adoptionBuckets[b].Start, out var slot))
                    {
                        adoption[adoptionBuckets[b].Start] = slot = new Dictionary<string, long>(StringComparer.Ordinal);
                    }
                    slot[versionNames[v]] = counts[v];
                }
            }
        }

        var lifecycle = new Dictionary<DateOnly, long[]>();
        for (var k = 0; k < weekCount; k++)
        {
            if (lifecycleByWeek[k] is { } counts)
            {
                lifecycle[weekBase.AddDays(7 * k)] = counts;
            }
        }
        var daily = new Dictionary<DateOnly, long>();
        for (var i = rangeFrom; i <= rangeTo; i++)
        {
            if (dailyCounts[i] > 0)
            {
                daily[window.DayAt(i)] = dailyCounts[i];
            }
        }
        var previousDaily = new Dictionary<DateOnly, long>();
        if (w.Previous is { } previous)
        {
            var shift = w.To.DayNumber - w.From.DayNumber + 1;
            for (var day = previous.From; day <= previous.To; day = day.AddDays(1))
            {
                var i = window.IndexOf(day);
                if (i >= 0 && i < window.Length && dailyCounts[i] > 0)
                {
                    previousDaily[day.AddDays(shift)] = dailyCounts[i];
                }
            }
        }
        return new InstallationCounts(new RuleExclusions(any, withoutSuccess, ciOnlyCount, singleDayCount), active, newCount,
            daily, weekly, monthly, lifecycle, cohorts, adoption, previousDaily);
    }

    /// <summary>Counts the installation once in every bucket (cut to the range) it was active in.</summary>
    private static void CountBuckets(ulong[] set, DayWindow window, IReadOnlyList<Bucket> buckets, InstallationWindow w, Dictionary<DateOnly, long> counts)
    {
        var rangeFrom = window.IndexOf(w.From);
        var rangeTo = window.IndexOf(w.To);
        foreach (var bucket in buckets)
        {
            if (DayWindow.Any(set, Math.Max(window.IndexOf(bucket.Start), rangeFrom), Math.Min(window.IndexOf(bucket.End) - 1, rangeTo)))
            {
                counts[bucket.Start] = counts.GetValueOrDefault(bucket.Start) + 1;
            }
        }
    }
}
