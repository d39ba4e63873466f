using Npgsql;
using UsageDashboard.Rollups;

namespace UsageDashboard.Insights;

/// <summary>
/// Queries behind <c>/installations</c> and its API. Everything derives from the installation-month rollup
/// (which days of each month an installation was active, per environment), held in memory by
/// <see cref="RollupCache"/> and counted by <see cref="InstallationActivity"/>.
/// </summary>
public sealed class InstallationsService(NpgsqlDataSource dataSource, TimeProvider time, RollupSource rollups, RollupCache? cache = null)
{
    private readonly RollupCache _cache = cache ?? new RollupCache(dataSource, rollups);

    public const int CohortWeeks = 12;

    public DateOnly Today => DateOnly.FromDateTime(time.GetUtcNow().UtcDateTime);

    public async Task<InstallationsData> GetAsync(InsightQuery query, ActiveRuleKind rule, CancellationToken ct)
    {
        var window = WindowFor(query);
        var (windowFrom, cohortFrom, lastWeek, adoptionGrain) = (window.Window.From, window.CohortFrom, window.LastWeek, window.AdoptionGrain);

        // Month rows of the installation rollup: one per installation, month and environment, with the days
        // of the month it was active as bits. The filters pick rows; everything else is counted here over
        // day bit sets, one small set per installation, instead of joining one row per installation-day.
        var facts = _cache.InstallationDaysAsync(ct);
        var tools = InsightsSql.ToolsAsync(dataSource, ct);
        var segments = await _cache.InstallationMonthsOfViewAsync(query, windowFrom, query.To, ct);
        var filter = ReachFilter.For(query, _cache.Codes);
        var known = await facts;
        var activity = FromIndexes(segments, window, rule, filter, known) ?? Walk(segments, window, rule, filter, known, _cache.Codes);
        var exclusions = activity.Exclusions;
        var points = new[] { activity.Daily, activity.Weekly, activity.Monthly };
        var (active, newCount, lifecycle, cohorts, adoption, previousDaily) =
            (activity.Active, activity.New, activity.Lifecycle, activity.Cohorts, activity.Adoption, activity.PreviousDaily);

        List<ActivePoint> Series(Grain grain, Dictionary<DateOnly, long> map) =>
            TimeBuckets.For(query, grain, Today).Select(b => new ActivePoint(b.Start, map.GetValueOrDefault(b.Start))).ToList();

        var weeks = TimeBuckets.For(query, Grain.Week, Today);
        var lifecycleWeeks = weeks.Select(b => lifecycle.TryGetValue(b.Start, out var c)
            ? new LifecycleWeek(b.Start, c[0], c[1], c[2], c[3])
            : new LifecycleWeek(b.Start, 0, 0, 0, 0)).ToList();

        // Weeks that have not started are unknown (null), not zero retention.
        var cohortList = new List<Cohort>();
        for (var week = cohortFrom; week <= lastWeek; week = week.AddDays(7))
        {
            var row = cohorts.GetValueOrDefault(week) ?? [];
            var retained = new long?[CohortWeeks];
            for (var k = 0; k < CohortWeeks; k++)
            {
                retained[k] = week.AddDays(7 * k) > query.To ? null : row.GetValueOrDefault(k);
            }
            cohortList.Add(new Cohort(week, retained));
        }

        var adoptionBuckets = TimeBuckets.For(query, adoptionGrain, Today)
            .Select(b => new AdoptionBucket(b.Start, adoption.GetValueOrDefault(b.Start) ?? [])).ToList();

        return new InstallationsData(query, Today, rule, exclusions, active, newCount,
            Series(Grain.Day, points[0]), Series(Grain.Week, points[1]), Series(Grain.Month, points[2]),
            lifecycleWeeks, cohortList, adoptionGrain, adoptionBuckets, await tools)
        {
            PreviousDaily = query.ComparePrevious
                ? TimeBuckets.For(query, Grain.Day, Today).Select(b => previousDaily.GetValueOrDefault(b.Start)).ToList()
                : null,
        };
    }

    /// <summary>The days the page reads for <paramref name="query"/> and the periods it reports.</summary>
    public static InstallationWindow WindowFor(InsightQuery query)
    {
        var firstWeek = TimeBuckets.Truncate(query.From, Grain.Week);
        var lastWeek = TimeBuckets.Truncate(query.To, Grain.Week);
        var cohortFrom = lastWeek.AddDays(-7 * (CohortWeeks - 1));
        // Lifecycle needs the week before the first; cohorts need 12 weeks back from the last.
        var windowFrom = new[] { firstWeek.AddDays(-7), cohortFrom, query.ComparePrevious ? query.PreviousPeriod.From : query.From }.Min();
        return new InstallationWindow(new DayWindow(windowFrom, query.To), query.From, query.To, firstWeek, lastWeek, cohortFrom, CohortWeeks,
            TimeBuckets.Auto(query), query.ComparePrevious ? query.PreviousPeriod : null);
    }

    /// <summary>
    /// The page's counts from each tool's <see cref="InstallationIndexes"/>, in time that does not grow with the
    /// installations; null when the filter or any tool's indexes do not allow it (then it is walked).
    /// </summary>
    private InstallationCounts? FromIndexes(IReadOnlyList<MonthSegment<InstallationMonthRow>> segments, InstallationWindow window,
        ActiveRuleKind rule, ReachFilter filter, InstallationDays[] known)
    {
        if (filter.IndexStream is not { } stream || !_cache.HoldsRows)
        {
            return null;
        }
        var counts = new InstallationIndexCounts(window, rule);
        foreach (var tool in segments.GroupBy(s => s.Tool, StringComparer.Ordinal))
        {
            if (_cache.InstallationPageReach([.. tool], window.Window.From, known, filter, rule == ActiveRuleKind.SuccessfulRun) is not { } indexes || !indexes.CanAnswer(window.Window.From, window.To))
            {
                return null;
            }
            counts.Add(indexes, stream, _cache.Codes);
        }
        return counts.Result();
    }

    /// <summary>The page's counts by walking every installation's rows of the window (any rule, any filter).</summary>
    public static InstallationCounts Walk(IReadOnlyList<MonthSegment<InstallationMonthRow>> segments, InstallationWindow window,
        ActiveRuleKind rule, ReachFilter filter, InstallationDays[] known, StringCodes codes)
    {
        var (windowFrom, to) = (window.Window.From, window.To);
        var counter = new InstallationActivity(window, rule);
        // One installation at a time (keys are unique across tools, so each tool's months are walked on their own).
        var rows = new List<ActivityRow>();
        foreach (var tool in segments.GroupBy(s => s.Tool, StringComparer.Ordinal))
        {
            var merge = new KeyMerge<InstallationMonthRow>(tool);
            var windows = merge.Segments.Select(s => MonthMask.For(s.Month, windowFrom, to)).ToArray();
            while (merge.MoveNext())
            {
                rows.Clear();
                for (var p = 0; p < merge.Parts; p++)
                {
                    var (month, mask) = (merge.Segments[merge.SegmentOf(p)].Month, windows[merge.SegmentOf(p)]);
                    foreach (var row in merge.Rows(p))
                    {
                        if ((row.Days & mask) != 0 && filter.Matches(in row))
                        {
                            rows.Add(new ActivityRow(month, row.IsCi, codes.Text(row.ToolVersion), row.Days, row.OkDays));
                        }
                    }
                }
                if (rows.Count > 0)
                {
                    var days = merge.Key < known.Length ? known[merge.Key] : default;
                    counter.Add(System.Runtime.InteropServices.CollectionsMarshal.AsSpan(rows),
                        days.Known ? new InstallationFacts(DateOnly.FromDayNumber(days.First), days.First == days.Last, days.CiOnly) : null);
                }
            }
        }
        return counter.Result();
    }
}
