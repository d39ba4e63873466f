using Npgsql;
using UsageDashboard.Rollups;

namespace UsageDashboard.Insights;

/// <summary>
/// Queries behind <c>/commands</c> and <c>/commands/{command}</c> and their API, from the command-day,
/// command-month, duration and error rollups.
/// </summary>
public sealed class CommandsService(NpgsqlDataSource dataSource, TimeProvider time, RollupSource rollups, RollupCache? cache = null)
{
    private readonly RollupCache _cache = cache ?? new RollupCache(dataSource, rollups);

    /// <summary>Rows on the page; the API and CSV take up to <see cref="ApiLimit"/>.</summary>
    public const int PageLimit = 200;
    public const int ApiLimit = 1000;

    public DateOnly Today => DateOnly.FromDateTime(time.GetUtcNow().UtcDateTime);

    public async Task<CommandsData> GetAsync(InsightQuery query, int limit, CancellationToken ct)
    {
        // All from the in-memory rollup rows: counts of both periods (command-day), installations of the
        // current period (command-month) and the duration histograms of the current period.
        var counts = CountsAsync(query, limit, ct);
        var reach = ReachAsync(query, ct);
        var durations = DurationsAsync(query, ct);
        var tools = InsightsSql.ToolsAsync(dataSource, ct);
        await Task.WhenAll(counts, reach, durations, tools);
        var (rows, total) = await counts;
        var installations = await reach;
        var histograms = await durations;
        var stats = rows.Select(r =>
        {
            var histogram = histograms.GetValueOrDefault((r.Tool, r.Command));
            return new CommandStats(r.Tool, r.Command, r.Current, installations.GetValueOrDefault((r.Tool, r.Command)),
                histogram?.Percentile(0.5), histogram?.Percentile(0.95), r.Previous);
        }).ToList();
        return new CommandsData(query, Today, total, stats, await tools);
    }

    /// <summary>The ranking by runs with both periods' outcomes (one pass over the command-day rows) and the total runs.</summary>
    private async Task<(List<(string Tool, string Command, Outcomes Current, Outcomes Previous)> Rows, long Total)> CountsAsync(
        InsightQuery query, int limit, CancellationToken ct)
    {
        var (prevFrom, prevTo) = query.PreviousPeriod;
        // The filter after the rows: codes exist once every row is in memory.
        var loaded = await _cache.CommandDaysAsync(query.Tool, prevFrom, query.To, ct);
        var filter = ReachFilter.For(query, _cache.Codes);
        var segments = Collapse.CommandDays.For(loaded, filter, _cache);
        var tallies = new Dictionary<(string Tool, int Command), (Tally Current, Tally Previous)>();
        foreach (var segment in segments)
        {
            foreach (var row in segment.Rows)
            {
                var current = ReachCounts.InRange(segment.Month, row.Day, query.From, query.To);
                if ((!current && !ReachCounts.InRange(segment.Month, row.Day, prevFrom, prevTo)) || !filter.Matches(in row))
                {
                    continue;
                }
                if (!tallies.TryGetValue((segment.Tool, row.Command), out var t))
                {
                    tallies[(segment.Tool, row.Command)] = t = (new Tally(), new Tally());
                }
                (current ? t.Current : t.Previous).Add(row.Runs, row.Succeeded, row.Failed, row.Aborted);
            }
        }
        var codes = _cache.Codes;
        var ranked = tallies.Where(t => t.Value.Current.Runs > 0).ToList();
        var rows = ranked
            .OrderByDescending(t => t.Value.Current.Runs).ThenBy(t => t.Key.Tool, StringComparer.Ordinal)
            .ThenBy(t => codes.Text(t.Key.Command), StringComparer.Ordinal)
            .Take(limit)
            .Select(t => (t.Key.Tool, codes.Text(t.Key.Command)!, t.Value.Current.ToOutcomes(), t.Value.Previous.ToOutcomes()))
            .ToList();
        return (rows, ranked.Sum(t => t.Value.Current.Runs));
    }

    /// <summary>Installations per command in the period, from the in-memory command-month rows.</summary>
    private async Task<Dictionary<(string, string), long>> ReachAsync(InsightQuery query, CancellationToken ct)
    {
        var segments = await _cache.CommandMonthsAsync(query.Tool, query.From, query.To, ct);
        var counts = ReachCounts.Distinct(segments, query.From, query.To, ReachFilter.For(query, _cache.Codes), (CommandMonthRow r) => r.Command,
            (tool, f) => _cache.CommandReach(tool, query.From, f), static key => (int)key);
        return counts.ToDictionary(c => (c.Key.Tool, _cache.Codes.Text(c.Key.Group)!), c => c.Value);
    }

    private async Task<Dictionary<(string, string), DurationHistogram>> DurationsAsync(InsightQuery query, CancellationToken ct)
    {
        // The filter after the rows: codes exist once every row is in memory.
        var loaded = await _cache.CommandDurationsAsync(query.Tool, query.From, query.To, ct);
        var filter = ReachFilter.For(query, _cache.Codes);
        var segments = Collapse.CommandDurations.For(loaded, filter, _cache);
        var histograms = new Dictionary<(string, string), DurationHistogram>();
        foreach (var tool in segments.GroupBy(s => s.Tool, StringComparer.Ordinal))
        {
            // By command code: no text lookup or string hashing per row.
            var byCommand = new Dictionary<int, DurationHistogram>();
            foreach (var segment in tool)
            {
                foreach (var row in segment.Rows)
                {
                    if (!ReachCounts.InRange(segment.Month, row.Day, query.From, query.To) || !filter.Matches(in row))
                    {
                        continue;
                    }
                    if (!byCommand.TryGetValue(row.Command, out var histogram))
                    {
                        byCommand[row.Command] = histogram = new DurationHistogram();
                    }
                    for (var i = 0; i < row.Buckets.Length; i++)
                    {
                        histogram.Add(row.Buckets[i], row.Counts[i]);
                    }
                }
            }
            foreach (var (command, histogram) in byCommand)
            {
                histograms[(tool.Key, _cache.Codes.Text(command)!)] = histogram;
            }
        }
        return histograms;
    }

    public async Task<CommandDetailData> GetCommandAsync(InsightQuery query, string command, CancellationToken ct)
    {
        var grain = TimeBuckets.Auto(query);
        var (prevFrom, prevTo) = query.PreviousPeriod;
        // Runs, outcomes, durations and error types from the in-memory rollup rows (the same rows SQL over the
        // rollup tables read, without statements whose cost grew with the store).
        var daySegments = _cache.CommandDaysAsync(query.Tool, prevFrom, query.To, ct);
        var durationSegments = _cache.CommandDurationsAsync(query.Tool, query.From, query.To, ct);
        var months = _cache.CommandMonthsAsync(query.Tool, query.From, query.To, ct);
        var errorTypes = ErrorTypes.ForCommandAsync(_cache, query, command, ct);

        var days = await daySegments;
        var durations = await durationSegments;
        var codes = _cache.Codes;
        var commandCode = codes.Find(command);
        var filter = ReachFilter.For(query, codes);
        var bucketTallies = new Dictionary<DateOnly, Tally>();
        var byVersion = new Dictionary<DateOnly, Dictionary<string, long>>();
        var byOs = new Dictionary<DateOnly, Dictionary<string, long>>();
        var versionTallies = new Dictionary<string, Tally>(StringComparer.Ordinal);
        var osTallies = new Dictionary<string, Tally>(StringComparer.Ordinal);
        var (currentTally, previousTally) = (new Tally(), new Tally());
        var previousByBucket = new Dictionary<DateOnly, long>();
        foreach (var segment in days)
        {
            foreach (var row in segment.Rows)
            {
                if (commandCode <= 0 || row.Command != commandCode || !filter.Matches(in row))
                {
                    continue;
                }
                var day = segment.Month.AddDays(row.Day);
                if (day >= query.From && day <= query.To)
                {
                    // NULL and a reported "unknown" are one value, as the SQL's coalesce made them.
                    var (version, os) = (codes.Text(row.ToolVersion) ?? "unknown", codes.Text(row.OsName) ?? "unknown");
                    var bucket = TimeBuckets.Truncate(day, grain);
                    Get(bucketTallies, bucket).Add(row.Runs, row.Succeeded, row.Failed, row.Aborted);
                    Get(versionTallies, version).Add(row.Runs, row.Succeeded, row.Failed, row.Aborted);
                    Get(osTallies, os).Add(row.Runs, row.Succeeded, row.Failed, row.Aborted);
                    currentTally.Add(row.Runs, row.Succeeded, row.Failed, row.Aborted);
                    var versionRuns = Slot(byVersion, bucket);
                    versionRuns[version] = versionRuns.GetValueOrDefault(version) + row.Runs;
                    var osRuns = Slot(byOs, bucket);
                    osRuns[os] = osRuns.GetValueOrDefault(os) + row.Runs;
                }
                else if (day >= prevFrom && day <= prevTo)
                {
                    previousTally.Add(row.Runs, row.Succeeded, row.Failed, row.Aborted);
                    if (query.ComparePrevious)
                    {
                        var bucket = TimeBuckets.Truncate(day.AddDays(query.Days), grain);
                        previousByBucket[bucket] = previousByBucket.GetValueOrDefault(bucket) + row.Runs;
                    }
                }
            }
        }
        var histogram = new DurationHistogram();
        foreach (var segment in durations)
        {
            foreach (var row in segment.Rows)
            {
                if (commandCode > 0 && row.Command == commandCode && ReachCounts.InRange(segment.Month, row.Day, query.From, query.To)
                    && filter.Matches(in row))
                {
                    for (var i = 0; i < row.Buckets.Length; i++)
                    {
                        histogram.Add(row.Buckets[i], row.Counts[i]);
                    }
                }
            }
        }
        var bucketOutcomes = bucketTallies.ToDictionary(b => b.Key, b => b.Value.ToOutcomes());
        var versionOutcomes = versionTallies.Select(v => (Name: v.Key, Outcomes: v.Value.ToOutcomes())).ToList();
        var osOutcomes = osTallies.Select(o => (Name: o.Key, Outcomes: o.Value.ToOutcomes())).ToList();
        var (current, previous) = (currentTally.ToOutcomes(), previousTally.ToOutcomes());

        // Installations in total, per version and per OS ("unknown" for none, merged with a reported
        // "unknown" as the SQL's coalesce did): keys are unique across tools, so per-tool counts add up.
        var monthRows = await months;
        var unknown = codes.Code("unknown");
        var monthFilter = ReachFilter.For(query, codes);
        Dictionary<int, long> Reach(Func<CommandMonthRow, int> group) => ReachCounts
            .Distinct(monthRows, query.From, query.To, monthFilter, (CommandMonthRow r) => r.Command == commandCode && commandCode > 0 ? group(r) : -1)
            .GroupBy(c => c.Key.Group).ToDictionary(g => g.Key, g => g.Sum(c => c.Value));
        var (installations, versionInstallations, osInstallations) = DetailReachFromIndex(monthRows, query, monthFilter, commandCode)
            ?? (Reach(_ => 0).GetValueOrDefault(0),
                Reach(r => r.ToolVersion == 0 ? unknown : r.ToolVersion).ToDictionary(v => codes.Text(v.Key)!, v => v.Value, StringComparer.Ordinal),
                Reach(r => r.OsName == 0 ? unknown : r.OsName).ToDictionary(o => codes.Text(o.Key)!, o => o.Value, StringComparer.Ordinal));
        var versions = versionOutcomes.Select(v => new SliceStats(v.Name, v.Outcomes, versionInstallations.GetValueOrDefault(v.Name))).ToList();
        var oses = osOutcomes.Select(o => new SliceStats(o.Name, o.Outcomes, osInstallations.GetValueOrDefault(o.Name))).ToList();
        var p50 = histogram.Percentile(0.5);
        var p95 = histogram.Percentile(0.95);

        // Buckets without runs are zeros, not gaps.
        var buckets = TimeBuckets.For(query, grain, Today)
            .Select(b => new CommandBucket(b.Start, bucketOutcomes.GetValueOrDefault(b.Start) ?? Outcomes.Zero,
                byVersion.GetValueOrDefault(b.Start) ?? [], byOs.GetValueOrDefault(b.Start) ?? []))
            .ToList();
        await using var conn = await dataSource.OpenConnectionAsync(ct);
        var tools = await InsightsSql.ToolsAsync(conn, ct);
        var errors = await errorTypes;
        return new CommandDetailData(query, Today, command, grain, current, previous, installations, p50, p95, buckets,
            versions.OrderByDescending(v => v.Outcomes.Runs).ThenBy(v => v.Name, VersionOrder.Instance).ToList(),
            oses.OrderByDescending(o => o.Outcomes.Runs).ThenBy(o => o.Name, StringComparer.Ordinal).ToList(),
            errors, tools)
        {
            PreviousRunsPerBucket = query.ComparePrevious ? buckets.Select(b => previousByBucket.GetValueOrDefault(b.Start)).ToList() : null,
        };
    }

    /// <summary>
    /// A command's installations in total, per tool version and per OS from each tool's reach indexes; null when
    /// the filter or a tool's segments need the walk.
    /// </summary>
    private (long, Dictionary<string, long>, Dictionary<string, long>)? DetailReachFromIndex(
        IReadOnlyList<MonthSegment<CommandMonthRow>> monthRows, InsightQuery query, ReachFilter filter, int command)
    {
        if (filter.IndexStream is not { } stream || command <= 0)
        {
            return null;
        }
        long installations = 0;
        var versions = new Dictionary<string, long>(StringComparer.Ordinal);
        var systems = new Dictionary<string, long>(StringComparer.Ordinal);
        foreach (var tool in monthRows.GroupBy(m => m.Tool, StringComparer.Ordinal))
        {
            var segments = tool.ToList();
            var (all, byVersion, byOs) = (_cache.CommandReach(segments, query.From, filter),
                _cache.CommandVersionReach(segments, query.From, filter), _cache.CommandOsReach(segments, query.From, filter));
            if (all is null || byVersion is null || byOs is null || !all.Covers(query.From, query.To))
            {
                return null;
            }
            installations += all.DistinctOf(stream, command, query.From, query.To);
            ReachCounts.AddByText(versions, byVersion.Distinct(stream, query.From, query.To, key => key >> 32 == command), _cache.Codes);
            ReachCounts.AddByText(systems, byOs.Distinct(stream, query.From, query.To, key => key >> 32 == command), _cache.Codes);
        }
        return (installations, versions, systems);
    }

    private static Tally Get<TKey>(Dictionary<TKey, Tally> tallies, TKey key) where TKey : notnull
    {
        if (!tallies.TryGetValue(key, out var tally))
        {
            tallies[key] = tally = new Tally();
        }
        return tally;
    }

    private static Dictionary<string, long> Slot(Dictionary<DateOnly, Dictionary<string, long>> map, DateOnly key)
    {
        if (!map.TryGetValue(key, out var slot))
        {
            map[key] = slot = new Dictionary<string, long>(StringComparer.Ordinal);
        }
        return slot;
    }
}
