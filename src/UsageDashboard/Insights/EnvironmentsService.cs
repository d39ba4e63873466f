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
        var slots = new Dictionary<long, int>();
        var pool = new List<ulong>();
        var installations = new HashSet<int>();
        var runs = new Dictionary<(EnvironmentDimension, string), long>();
        var tools = InsightsSql.ToolsAsync(dataSource, ct);
        var segments = _cache.InstallationMonthsAsync(query.Tool, query.From, query.To, ct);
        var daySegments = await _cache.RunDaysAsync(query.Tool, query.From, query.To, ct);
        var monthRows = await segments;
        var codes = _cache.Codes;
        var filter = ReachFilter.For(query, codes);
        // The value of a row in each dimension, by its pair of codes (name, version; -1 where the dimension
        // has one column), resolved to text once per pair and then interned by text.
        var pairIds = s_dimensions.Select(_ => new Dictionary<(int, int), int>()).ToArray();
        var rowBuckets = new ulong[bucketWords];
        var texts = new string[5];
        int ValueId(int d, int name, int version, int os, int osVersion, int runtime, int runtimeVersion, int toolVersion)
        {
            if (pairIds[d].TryGetValue((name, version), out var id))
            {
                return id;
            }
            Values(codes.Text(os) ?? "unknown", codes.Text(osVersion) ?? "?", codes.Text(runtime) ?? "unknown",
                codes.Text(runtimeVersion) ?? "?", codes.Text(toolVersion) ?? "unknown", texts);
            if (!valueIds[d].TryGetValue(texts[d], out id))
            {
                valueIds[d][texts[d]] = id = valueNames[d].Count;
                valueNames[d].Add(texts[d]);
            }
            return pairIds[d][(name, version)] = id;
        }
        static (int Name, int Version) Pair(int d, int os, int osVersion, int runtime, int runtimeVersion, int toolVersion) => d switch
        {
            0 => (os, -1),
            1 => (os, osVersion),
            2 => (runtime, -1),
            3 => (runtime, runtimeVersion),
            _ => (toolVersion, -1),
        };

        var runsByValue = s_dimensions.Select(_ => new Dictionary<int, long>()).ToArray();
        foreach (var segment in daySegments)
        {
            foreach (var row in segment.Rows)
            {
                if (!ReachCounts.InRange(segment.Month, row.Day, query.From, query.To) || !filter.Matches(row.IsCi, row.OsName, row.ToolVersion))
                {
                    continue;
                }
                for (var d = 0; d < s_dimensions.Length; d++)
                {
                    var (name, version) = Pair(d, row.OsName, row.OsVersion, row.RuntimeName, row.RuntimeVersion, row.ToolVersion);
                    var id = ValueId(d, name, version, row.OsName, row.OsVersion, row.RuntimeName, row.RuntimeVersion, row.ToolVersion);
                    runsByValue[d][id] = runsByValue[d].GetValueOrDefault(id) + row.Runs;
                }
            }
        }
        for (var d = 0; d < s_dimensions.Length; d++)
        {
            foreach (var (id, n) in runsByValue[d])
            {
                runs[(s_dimensions[d], valueNames[d][id])] = n;
            }
        }
        foreach (var segment in monthRows)
        {
            var monthMask = MonthMask.For(segment.Month, query.From, query.To);
            var first = window.IndexOf(segment.Month);
            foreach (var row in segment.Rows)
            {
                var mask = (uint)(row.Days & monthMask);
                if (mask == 0 || !filter.Matches(row.IsCi, row.OsName, row.ToolVersion))
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
                installations.Add(row.Key);
                for (var d = 0; d < s_dimensions.Length; d++)
                {
                    var (name, version) = Pair(d, row.OsName, row.OsVersion, row.RuntimeName, row.RuntimeVersion, row.ToolVersion);
                    var id = ValueId(d, name, version, row.OsName, row.OsVersion, row.RuntimeName, row.RuntimeVersion, row.ToolVersion);
                    var slotKey = ((long)d << 56) | ((long)id << 32) | (uint)row.Key;
                    if (!slots.TryGetValue(slotKey, out var slot))
                    {
                        slots[slotKey] = slot = pool.Count;
                        pool.AddRange(rowBuckets);
                        continue;
                    }
                    for (var w = 0; w < bucketWords; w++)
                    {
                        pool[slot + w] |= rowBuckets[w];
                    }
                }
            }
        }

        // Counted by dimension, value id and bucket index in arrays, named only at the end: a string-keyed
        // lookup per slot and bucket was most of this page's time on large stores.
        var installationsByValue = s_dimensions.Select((_, d) => new long[valueNames[d].Count]).ToArray();
        var bucketCounts = s_dimensions.Select((_, d) => new long[valueNames[d].Count * bucketList.Count]).ToArray();
        foreach (var (slotKey, slot) in slots)
        {
            var d = (int)(slotKey >> 56);
            var id = (int)((slotKey >> 32) & 0xFFFFFF);
            installationsByValue[d][id]++;
            for (var w = 0; w < bucketWords; w++)
            {
                for (var bits = pool[slot + w]; bits != 0; bits &= bits - 1)
                {
                    bucketCounts[d][id * bucketList.Count + (w << 6) + System.Numerics.BitOperations.TrailingZeroCount(bits)]++;
                }
            }
        }
        var totals = s_dimensions.ToDictionary(d => d, _ => new Dictionary<string, long>(StringComparer.Ordinal));
        var perBucket = s_dimensions.ToDictionary(d => d, _ => new Dictionary<DateOnly, Dictionary<string, long>>());
        for (var d = 0; d < s_dimensions.Length; d++)
        {
            var dimension = s_dimensions[d];
            for (var id = 0; id < valueNames[d].Count; id++)
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

        var dimensions = s_dimensions.Select(d => new DimensionBreakdown(
            d,
            totals[d].Select(v => new DimensionValue(v.Key, v.Value, runs.GetValueOrDefault((d, v.Key)))).OrderByDescending(v => v.Installations).ThenByDescending(v => v.Runs).ThenBy(v => v.Value, StringComparer.Ordinal).ToList(),
            bucketList.Select(b => new AdoptionBucket(b.Start, perBucket[d].GetValueOrDefault(b.Start) ?? [])).ToList())).ToList();
        return new EnvironmentsData(query, Today, grain, installations.Count, dimensions, await tools);
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
