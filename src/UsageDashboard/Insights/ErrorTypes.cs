using UsageDashboard.Rollups;

namespace UsageDashboard.Insights;

/// <summary>
/// The "error types" table of the command and plugin pages, from the in-memory error rollups: runs and the latest
/// failure per error type from the error-day rows, installations that hit it from the error-month rows (by the
/// reach index where the filter allows, by the walk otherwise). Installations are installation keys, unique
/// across tools, so per-tool counts add up. Replaces a statement over the rollup tables whose
/// <c>count(DISTINCT installation_key)</c> grew with the store (the command page's last growing part).
/// </summary>
public static class ErrorTypes
{
    public const int Limit = 10;

    /// <summary>A command's error types (<see cref="Top"/>) from the cache's command error rollups.</summary>
    public static Task<List<ErrorTypeStats>> ForCommandAsync(RollupCache cache, InsightQuery query, string command, CancellationToken ct) =>
        LoadAsync(cache.ErrorDaysAsync(query.Tool, query.From, query.To, ct), cache.ErrorMonthsAsync(query.Tool, query.From, query.To, ct),
            query, command, cache.Codes, (segments, filter) => cache.CommandErrorReach(segments, query.From, filter));

    /// <summary>A plugin's error types (<see cref="Top"/>) from the cache's plugin error rollups.</summary>
    public static Task<List<ErrorTypeStats>> ForPluginAsync(RollupCache cache, InsightQuery query, string plugin, CancellationToken ct) =>
        LoadAsync(cache.PluginErrorDaysAsync(query.Tool, query.From, query.To, ct), cache.PluginErrorMonthsAsync(query.Tool, query.From, query.To, ct),
            query, plugin, cache.Codes, (segments, filter) => cache.PluginErrorReach(segments, query.From, filter));

    /// <summary>
    /// The error types of every stored name a plugin page stands for (<paramref name="names"/>: a public Meltano
    /// name's variants), installations counted once across them, from the family reach index where the filter allows.
    /// </summary>
    public static async Task<List<ErrorTypeStats>> ForPluginFamilyAsync(RollupCache cache, InsightQuery query, PluginPageNames names,
        Func<int, long> families, CancellationToken ct)
    {
        var days = cache.PluginErrorDaysAsync(query.Tool, query.From, query.To, ct);
        var months = cache.PluginErrorMonthsAsync(query.Tool, query.From, query.To, ct);
        var (dayRows, monthRows) = (await days, await months);
        return TopOfAny(dayRows, monthRows, names.Contains, () => names.FamilyCode, query.From, query.To, ReachFilter.For(query, cache.Codes), cache.Codes,
            (segments, filter) => cache.PluginFamilyErrorReach(segments, query.From, filter, families));
    }

    private static async Task<List<ErrorTypeStats>> LoadAsync(Task<IReadOnlyList<MonthSegment<ErrorDayRow>>> days,
        Task<IReadOnlyList<MonthSegment<ErrorMonthRow>>> months, InsightQuery query, string subject, StringCodes codes,
        Func<IReadOnlyList<MonthSegment<ErrorMonthRow>>, ReachFilter, ReachIndex?> indexFor)
    {
        var (dayRows, monthRows) = (await days, await months);
        // The filter's codes are looked up once the rows are in memory: a value only they hold has its code by then.
        return Top(dayRows, monthRows, subject, query.From, query.To, ReachFilter.For(query, codes), codes, indexFor);
    }

    /// <summary>
    /// The <see cref="Limit"/> most frequent error types of <paramref name="subject"/> in [from, to] under
    /// <paramref name="filter"/>, most runs first, then by error type (ordinal, as the C collation orders it);
    /// <paramref name="indexFor"/> gives a tool's reach index grouped by (subject, error type), or null for the walk.
    /// </summary>
    public static List<ErrorTypeStats> Top(
        IReadOnlyList<MonthSegment<ErrorDayRow>> days, IReadOnlyList<MonthSegment<ErrorMonthRow>> months, string subject,
        DateOnly from, DateOnly to, ReachFilter filter, StringCodes codes,
        Func<IReadOnlyList<MonthSegment<ErrorMonthRow>>, ReachFilter, ReachIndex?> indexFor)
    {
        // Looked up after the rows are in memory, so the subject has its code if any row has it.
        var code = codes.Find(subject);
        return code <= 0 ? [] : TopOfAny(days, months, c => c == code, () => code, from, to, filter, codes, indexFor);
    }

    /// <summary>
    /// <see cref="Top"/>
    /// over every subject <paramref name="isSubject"/> accepts, installations counted once across them; the index's
    /// keys hold them all under <paramref name="indexSubject"/> (read once the index is built).
    /// </summary>
    public static List<ErrorTypeStats> TopOfAny(
        IReadOnlyList<MonthSegment<ErrorDayRow>> days, IReadOnlyList<MonthSegment<ErrorMonthRow>> months, Func<int, bool> isSubject,
        Func<int> indexSubject, DateOnly from, DateOnly to, ReachFilter filter, StringCodes codes,
        Func<IReadOnlyList<MonthSegment<ErrorMonthRow>>, ReachFilter, ReachIndex?> indexFor)
    {
        var counts = new Dictionary<int, (long Runs, DateTime LastAt)>();
        foreach (var segment in days)
        {
            foreach (var row in segment.Rows)
            {
                if (!isSubject(row.Subject) || !ReachCounts.InRange(segment.Month, row.Day, from, to) || !filter.Matches(in row))
                {
                    continue;
                }
                var (runs, lastAt) = counts.GetValueOrDefault(row.ErrorType);
                counts[row.ErrorType] = (runs + row.Runs, row.LastAt > lastAt ? row.LastAt : lastAt);
            }
        }
        var top = counts
            .Select(c => (Type: codes.Text(c.Key)!, Code: c.Key, c.Value.Runs, c.Value.LastAt))
            .OrderByDescending(c => c.Runs).ThenBy(c => c.Type, StringComparer.Ordinal)
            .Take(Limit)
            .ToList();
        if (top.Count == 0)
        {
            return [];
        }
        var wanted = top.Select(t => t.Code).ToHashSet();
        var reach = ReachCounts.Distinct(months, from, to, filter,
                r => wanted.Contains(r.ErrorType) && isSubject(r.Subject) ? r.ErrorType : -1,
                indexFor,
                key => key >> 32 == indexSubject() && wanted.Contains((int)key) ? (int)key : -1)
            .GroupBy(c => c.Key.Group)
            .ToDictionary(g => g.Key, g => g.Sum(c => c.Value));
        return top.Select(t => new ErrorTypeStats(t.Type, t.Runs, reach.GetValueOrDefault(t.Code), t.LastAt)).ToList();
    }
}
