using Npgsql;
using UsageDashboard.Rollups;

namespace UsageDashboard.Insights;

/// <summary>
/// Queries behind <c>/environments</c> and its API: OS, OS version, runtime, runtime version and tool
/// version, as installations per value now and per bucket (from the installation-month rows in
/// <see cref="RollupCache"/>, counted here over bit sets) and runs per value (from the run-day rollup).
/// </summary>
public sealed class EnvironmentsService(NpgsqlDataSource dataSource, TimeProvider time, RollupSource rollups, RollupCache? cache = null)
{
    private readonly RollupCache _cache = cache ?? new RollupCache(dataSource, rollups);

    private static readonly EnvironmentDimension[] s_dimensions =
    [
        EnvironmentDimension.Os, EnvironmentDimension.OsVersion, EnvironmentDimension.Runtime,
        EnvironmentDimension.RuntimeVersion, EnvironmentDimension.ToolVersion,
    ];

    public DateOnly Today => DateOnly.FromDateTime(time.GetUtcNow().UtcDateTime);

    public async Task<EnvironmentsData> GetAsync(InsightQuery query, CancellationToken ct)
    {
        var grain = TimeBuckets.Auto(query);
        var window = new DayWindow(query.From, query.To);
        var bucketList = TimeBuckets.For(query, grain, Today);
        var bucketOfDay = new int[window.Length];
        for (var b = 0; b < bucketList.Count; b++)
        {
            for (var day = bucketList[b].Start; day < bucketList[b].End; day = day.AddDays(1))
            {
                if (day >= query.From && day <= query.To)
                {
                    bucketOfDay[window.IndexOf(day)] = b;
                }
            }
        }
        var bucketWords = (bucketList.Count + 63) / 64;

        // Per dimension, value and installation: the buckets it was active in with that value (a slot of
        // bucketWords words in one pool). Installations per value are the slots; per bucket, the slots with
        // that bucket's bit. Values are interned per dimension so the slot key is a single long.
        var valueIds = s_dimensions.Select(_ => new Dictionary<string, int>(StringComparer.Ordinal)).ToArray();
        var valueNames = s_dimensions.Select(_ => new List<string>()).ToArray();
        var runs = new Dictionary<(EnvironmentDimension, string), Outcomes>();
        var tools = InsightsSql.ToolsAsync(dataSource, ct);
        var segments = _cache.InstallationMonthsOfViewAsync(query, query.From, query.To, ct);
        var daySegments = await _cache.RunDaysAsync(query.Tool, query.From, query.To, ct);
        var monthRows = await segments;
        var codes = _cache.Codes;
        var filter = ReachFilter.For(query, codes);
        // The value of a row in each dimension, by its codes (one column, or name and version), resolved to
        // text once per code or pair and then interned by text: a lookup by code is an array index, a pair
        // a dictionary probe only when it differs from the row before.
        var byCode = s_dimensions.Select(_ => Array.Empty<int>()).ToArray();
        var pairIds = s_dimensions.Select(_ => new Dictionary<long, int>()).ToArray();
        var lastPair = s_dimensions.Select(_ => (Pair: long.MinValue, Id: -1)).ToArray();
        var rowBuckets = new ulong[bucketWords];
        var texts = new string[5];
        int Resolve(int d, int os, int osVersion, int runtime, int runtimeVersion, int toolVersion)
        {
            Values(codes.Text(os) ?? "unknown", codes.Text(osVersion) ?? "?", codes.Text(runtime) ?? "unknown",
                codes.Text(runtimeVersion) ?? "?", codes.Text(toolVersion) ?? "unknown", texts);
            if (!valueIds[d].TryGetValue(texts[d], out var id))
            {
                valueIds[d][texts[d]] = id = valueNames[d].Count;
                valueNames[d].Add(texts[d]);
            }
            return id;
        }
        int ValueId(int d, int os, int osVersion, int runtime, int runtimeVersion, int toolVersion)
        {
            if (d is 1 or 3)
            {
                var pair = d == 1 ? ((long)os << 32) | (uint)osVersion : ((long)runtime << 32) | (uint)runtimeVersion;
                if (lastPair[d].Pair == pair)
                {
                    return lastPair[d].Id;
                }
                if (!pairIds[d].TryGetValue(pair, out var pairId))
                {
                    pairIds[d][pair] = pairId = Resolve(d, os, osVersion, runtime, runtimeVersion, toolVersion);
                }
                lastPair[d] = (pair, pairId);
                return pairId;
            }
            var code = d switch { 0 => os, 2 => runtime, _ => toolVersion };
            if (code >= byCode[d].Length)
            {
                var old = byCode[d].Length;
                Array.Resize(ref byCode[d], Math.Max(code + 1, old * 2));
                Array.Fill(byCode[d], -1, old, byCode[d].Length - old);
            }
            var id = byCode[d][code];
            return id >= 0 ? id : byCode[d][code] = Resolve(d, os, osVersion, runtime, runtimeVersion, toolVersion);
        }

        var runsByValue = s_dimensions.Select(_ => new Dictionary<int, Tally>()).ToArray();
        foreach (var loaded in daySegments)
        {
            // A month the range covers whole is read as its sums over the days (all on its 1st, in range).
            var segment = loaded.Month >= query.From && loaded.Month.AddMonths(1).AddDays(-1) <= query.To ? Collapse.RunMonths.Whole(loaded, _cache) : loaded;
            foreach (var row in segment.Rows)
            {
                if (!ReachCounts.InRange(segment.Month, row.Day, query.From, query.To) || !filter.Matches(in row))
                {
                    continue;
                }
                for (var d = 0; d < s_dimensions.Length; d++)
                {
                    var id = ValueId(d, row.OsName, row.OsVersion, row.RuntimeName, row.RuntimeVersion, row.ToolVersion);
                    if (!runsByValue[d].TryGetValue(id, out var tally))
                    {
                        runsByValue[d][id] = tally = new Tally();
                    }
                    tally.Add(row.Runs, row.Succeeded, row.Failed, row.Aborted);
                }
            }
        }
        for (var d = 0; d < s_dimensions.Length; d++)
        {
            foreach (var (id, tally) in runsByValue[d])
            {
                runs[(s_dimensions[d], valueNames[d][id])] = tally.ToOutcomes();
            }
        }
        var (active, valueTotals, valueBuckets) =
            (filter.IndexStream is { } stream ? await FromIndexAsync(monthRows, query, filter, stream, bucketList, ct) : null) ?? Walk();

        var dimensions = s_dimensions.Select(d => new DimensionBreakdown(
            d,
            valueTotals[d].Select(v => Value(v.Key, v.Value, runs.GetValueOrDefault((d, v.Key)) ?? Outcomes.Zero))
                .OrderByDescending(v => v.Installations).ThenByDescending(v => v.Runs).ThenBy(v => v.Value, StringComparer.Ordinal).ToList(),
            bucketList.Select(b => new AdoptionBucket(b.Start, valueBuckets[d].GetValueOrDefault(b.Start) ?? [])).ToList())).ToList();
        return new EnvironmentsData(query, Today, grain, active, dimensions, await tools);

        // Without an index: one pass over the rows in key order.
        (long, Dictionary<EnvironmentDimension, Dictionary<string, long>>, Dictionary<EnvironmentDimension, Dictionary<DateOnly, Dictionary<string, long>>>) Walk()
        {
            long installations = 0;
            // One installation at a time (KeyMerge): per dimension and value, the buckets it was active in are
            // OR-ed into a slot stamped with the installation, and counted when its last row has been read.
            var installationsByValue = s_dimensions.Select(_ => Array.Empty<long>()).ToArray();
            var bucketCounts = s_dimensions.Select(_ => Array.Empty<long>()).ToArray();
            var stamps = s_dimensions.Select(_ => Array.Empty<int>()).ToArray();
            var sets = s_dimensions.Select(_ => Array.Empty<ulong>()).ToArray();
            var touched = new List<(int D, int Id)>();
            foreach (var tool in monthRows.GroupBy(m => m.Tool, StringComparer.Ordinal))
            {
                var merge = new KeyMerge<InstallationMonthRow>(tool);
                var masks = merge.Segments.Select(m => MonthMask.For(m.Month, query.From, query.To)).ToArray();
                var firsts = merge.Segments.Select(m => window.IndexOf(m.Month)).ToArray();
                while (merge.MoveNext())
                {
                    touched.Clear();
                    for (var p = 0; p < merge.Parts; p++)
                    {
                        var (monthMask, first) = (masks[merge.SegmentOf(p)], firsts[merge.SegmentOf(p)]);
                        foreach (var row in merge.Rows(p))
                        {
                            var mask = (uint)(row.Days & monthMask);
                            if (mask == 0 || !filter.Matches(in row))
                            {
                                continue;
                            }
                            Array.Clear(rowBuckets);
                            while (mask != 0)
                            {
                                var i = first + System.Numerics.BitOperations.TrailingZeroCount(mask);
                                mask &= mask - 1;
                                rowBuckets[bucketOfDay[i] >> 6] |= 1UL << (bucketOfDay[i] & 63);
                            }
                            for (var d = 0; d < s_dimensions.Length; d++)
                            {
                                var id = ValueId(d, row.OsName, row.OsVersion, row.RuntimeName, row.RuntimeVersion, row.ToolVersion);
                                if (id >= stamps[d].Length)
                                {
                                    var old = stamps[d].Length;
                                    var size = Math.Max(id + 1, old * 2);
                                    Array.Resize(ref stamps[d], size);
                                    Array.Fill(stamps[d], -1, old, size - old);
                                    Array.Resize(ref sets[d], size * bucketWords);
                                }
                                var slot = id * bucketWords;
                                if (stamps[d][id] != merge.Key)
                                {
                                    stamps[d][id] = merge.Key;
                                    touched.Add((d, id));
                                    Array.Copy(rowBuckets, 0, sets[d], slot, bucketWords);
                                    continue;
                                }
                                for (var w = 0; w < bucketWords; w++)
                                {
                                    sets[d][slot + w] |= rowBuckets[w];
                                }
                            }
                        }
                    }
                    if (touched.Count == 0)
                    {
                        continue;
                    }
                    installations++;
                    // Counted by dimension, value id and bucket index in arrays, named only at the end: a
                    // string-keyed lookup per installation and bucket was most of this page's time on large stores.
                    foreach (var (d, id) in touched)
                    {
                        if (id >= installationsByValue[d].Length)
                        {
                            var size = Math.Max(id + 1, installationsByValue[d].Length * 2);
                            Array.Resize(ref installationsByValue[d], size);
                            Array.Resize(ref bucketCounts[d], size * bucketList.Count);
                        }
                        installationsByValue[d][id]++;
                        for (var w = 0; w < bucketWords; w++)
                        {
                            for (var bits = sets[d][(id * bucketWords) + w]; bits != 0; bits &= bits - 1)
                            {
                                bucketCounts[d][(id * bucketList.Count) + (w << 6) + System.Numerics.BitOperations.TrailingZeroCount(bits)]++;
                            }
                        }
                    }
                }
            }

            var totals = s_dimensions.ToDictionary(d => d, _ => new Dictionary<string, long>(StringComparer.Ordinal));
            var perBucket = s_dimensions.ToDictionary(d => d, _ => new Dictionary<DateOnly, Dictionary<string, long>>());
            for (var d = 0; d < s_dimensions.Length; d++)
            {
                var dimension = s_dimensions[d];
                for (var id = 0; id < installationsByValue[d].Length; id++)
                {
                    if (installationsByValue[d][id] == 0)
                    {
                        continue;
                    }
                    var value = valueNames[d][id];
                    totals[dimension][value] = installationsByValue[d][id];
                    for (var b = 0; b < bucketList.Count; b++)
                    {
                        var n = bucketCounts[d][id * bucketList.Count + b];
                        if (n == 0)
                        {
                            continue;
                        }
                        if (!perBucket[dimension].TryGetValue(bucketList[b].Start, out var counts))
                        {
                            perBucket[dimension][bucketList[b].Start] = counts = new Dictionary<string, long>(StringComparer.Ordinal);
                        }
                        counts[value] = n;
                    }
                }
            }

            return (installations, totals, perBucket);
        }
    }

    /// <summary>
    /// Installations per dimension value, in the period and per bucket, from each tool's reach indexes (one per
    /// dimension, grouped by the value's text as a <see cref="StringCodes"/> code, so values the walk merges by
    /// text, such as NULL and "unknown", are one group here too); null when a tool has no index covering the
    /// period, and the walk counts instead.
    /// </summary>
    private async Task<(long, Dictionary<EnvironmentDimension, Dictionary<string, long>>, Dictionary<EnvironmentDimension, Dictionary<DateOnly, Dictionary<string, long>>>)?>
        FromIndexAsync(IReadOnlyList<MonthSegment<InstallationMonthRow>> monthRows, InsightQuery query, ReachFilter filter, int stream,
        IReadOnlyList<Bucket> buckets, CancellationToken ct)
    {
        var codes = _cache.Codes;
        long installations = 0;
        var totals = s_dimensions.ToDictionary(d => d, _ => new Dictionary<string, long>(StringComparer.Ordinal));
        var perBucket = s_dimensions.ToDictionary(d => d, _ => new Dictionary<DateOnly, Dictionary<string, long>>());
        var firstDays = _cache.HoldsRows ? await _cache.InstallationDaysAsync(ct) : [];
        foreach (var tool in monthRows.GroupBy(m => m.Tool, StringComparer.Ordinal))
        {
            var segments = tool.ToList();
            if (_cache.InstallationReach(segments, query.From, firstDays, filter) is not { } all || !all.Covers(query.From, query.To))
            {
                return null;
            }
            installations += all.DistinctOf(stream, 0, query.From, query.To);
            for (var d = 0; d < s_dimensions.Length; d++)
            {
                if (_cache.InstallationReach($"environments/{s_dimensions[d]}", segments, query.From, ValueGroup(d, codes), filter) is not { } index
                    || !index.Covers(query.From, query.To))
                {
                    return null;
                }
                ReachCounts.AddByText(totals[s_dimensions[d]], index.Distinct(stream, query.From, query.To), codes);
                ReachCounts.AddPerBucket(perBucket[s_dimensions[d]], index, stream, buckets, query.From, query.To, codes);
            }
        }
        return (installations, totals, perBucket);
    }

    private static DimensionValue Value(string value, long installations, Outcomes outcomes) => new(value, installations, outcomes.Runs, outcomes);

    /// <summary>A row's value in dimension <paramref name="d"/> as the code of its text (memoized per code or pair: an index build calls it per row).</summary>
    private static Func<InstallationMonthRow, long> ValueGroup(int d, StringCodes codes)
    {
        var memo = new Dictionary<long, int>();
        var texts = new string[5];
        return row =>
        {
            var pair = d switch
            {
                0 => row.OsName,
                1 => ((long)row.OsName << 32) | (uint)row.OsVersion,
                2 => row.RuntimeName,
                3 => ((long)row.RuntimeName << 32) | (uint)row.RuntimeVersion,
                _ => row.ToolVersion,
            };
            if (!memo.TryGetValue(pair, out var code))
            {
                Values(codes.Text(row.OsName) ?? "unknown", codes.Text(row.OsVersion) ?? "?", codes.Text(row.RuntimeName) ?? "unknown",
                    codes.Text(row.RuntimeVersion) ?? "?", codes.Text(row.ToolVersion) ?? "unknown", texts);
                memo[pair] = code = codes.Code(texts[d]);
            }
            return code;
        };
    }

    /// <summary>The five dimension values (OS, OS version, runtime, runtime version, tool version) of a row's columns.</summary>
    private static void Values(string os, string osVersion, string runtime, string runtimeVersion, string toolVersion, string[] values)
    {
        values[0] = os;
        values[1] = os + " " + osVersion;
        values[2] = runtime;
        values[3] = runtime + " " + runtimeVersion;
        values[4] = toolVersion;
    }
}
