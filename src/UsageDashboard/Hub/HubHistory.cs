using System.Collections.Concurrent;
using Microsoft.Extensions.Options;
using Npgsql;
using UsageDashboard.Insights;
using UsageDashboard.Rollups;

namespace UsageDashboard.Hub;

/// <summary>One published version in one bucket: at least <see cref="HubOptions.MinInstallations"/> installations used it then.</summary>
public sealed record HubHistoryVersion(string Version, long Installations, long Runs, Rate SuccessRate);

/// <summary>
/// A bucket's figures, over its published (bucket, version) cells only: a version too few installations
/// used in that bucket is neither listed nor counted, so the bucket total minus the listed versions is zero.
/// </summary>
public sealed record HubHistoryBucket(DateOnly Start, long Installations, long Runs, Rate SuccessRate, IReadOnlyList<HubHistoryVersion> Versions);

public sealed record HubHistory(string Tool, string Plugin, string Grain, DateOnly From, DateOnly To, DateTime AsOf,
    long Installations, long Runs, Rate SuccessRate, IReadOnlyList<HubHistoryBucket> Buckets);

/// <summary>
/// A published plugin's figures over time for the hub API and the public pages, read from the plugin
/// rollups through the hub's own name mapping (private and unresolvable names never match). Results are
/// cached per (tool, plugin, range, grain) for <see cref="HubOptions.SnapshotTtl"/>; callers only ask
/// for plugins the hub snapshot publishes and for the few ranges the routes accept, so the cache is bounded.
/// </summary>
public sealed class HubHistoryService(NpgsqlDataSource dataSource, HubService hub, IOptions<HubOptions> options, TimeProvider time, RollupSource rollups)
{
    public static readonly int[] Ranges = [30, 90, 365];
    public static readonly string[] Grains = ["day", "week"];

    private readonly ConcurrentDictionary<(string, string, int, string), (DateTimeOffset ExpiresAt, Task<HubHistory> Task)> _cache = new();

    public DateOnly Today => DateOnly.FromDateTime(time.GetUtcNow().UtcDateTime);

    /// <summary>The history of a plugin the hub publishes (with numbers), or null.</summary>
    public async Task<HubHistory?> GetAsync(string tool, string plugin, int days, string grain)
    {
        var snapshot = await hub.GetAsync(tool);
        if (snapshot is null || !snapshot.TryGet(plugin, out var published, out _) || !published.Publishable
            || !Ranges.Contains(days) || !Grains.Contains(grain))
        {
            return null;
        }
        var now = time.GetUtcNow();
        var key = (tool, plugin, days, grain);
        if (_cache.TryGetValue(key, out var cached) && now < cached.ExpiresAt && !cached.Task.IsFaulted)
        {
            return await cached.Task;
        }
        var task = ComputeAsync(tool, plugin, days, grain);
        _cache[key] = (now + options.Value.SnapshotTtl, task);
        return await task;
    }

    private async Task<HubHistory> ComputeAsync(string tool, string plugin, int span, string grain)
    {
        var o = options.Value;
        var to = Today;
        var from = to.AddDays(1 - span);
        var (map, _) = await hub.PublishedNamesAsync(tool, from, to, CancellationToken.None);
        var mine = map.Where(m => m.HubName == plugin).ToList();
        await using var cmd = new NpgsqlCommand();
        var months = rollups.PluginMonths(cmd, from, to);
        var pluginDays = rollups.PluginDays(cmd, from, to);
        cmd.CommandText = HistorySql(months, pluginDays);
        cmd.Parameters.AddWithValue("tool", tool);
        cmd.Parameters.AddWithValue("map_name", mine.Select(m => m.Name).ToArray());
        cmd.Parameters.AddWithValue("map_version", mine.Select(m => m.Version).ToArray());
        cmd.Parameters.AddWithValue("map_hub_version", mine.Select(m => m.HubVersion ?? "").ToArray());
        cmd.Parameters.AddWithValue("from_day", from);
        cmd.Parameters.AddWithValue("to_day", to);
        cmd.Parameters.AddWithValue("grain", grain);
        cmd.Parameters.AddWithValue("exclude_ci", o.ExcludeCi);
        cmd.Parameters.AddWithValue("k", Math.Max(1, o.MinInstallations));
        await using var conn = await dataSource.OpenConnectionAsync();
        cmd.Connection = conn;
        var totals = new Dictionary<DateOnly, (long Installations, long Runs, long Ok, long Judged)>();
        var versions = new Dictionary<DateOnly, List<HubHistoryVersion>>();
        (long Installations, long Runs, long Ok, long Judged) all = default;
        await using (var reader = await cmd.ExecuteReaderAsync())
        {
            while (await reader.ReadAsync())
            {
                var row = (reader.GetInt64(4), reader.GetInt64(5), reader.GetInt64(6), reader.GetInt64(7));
                if (reader.GetInt32(2) == 1)
                {
                    all = row;
                    continue;
                }
                var bucket = reader.GetFieldValue<DateOnly>(0);
                if (reader.GetInt32(3) == 1)
                {
                    totals[bucket] = row;
                }
                else
                {
                    if (!versions.TryGetValue(bucket, out var list))
                    {
                        versions[bucket] = list = [];
                    }
                    list.Add(new HubHistoryVersion(reader.GetString(1), row.Item1, row.Item2, new Rate(row.Item3, row.Item4)));
                }
            }
        }
        var buckets = totals.OrderBy(t => t.Key).Select(t => new HubHistoryBucket(t.Key, t.Value.Installations, t.Value.Runs, new Rate(t.Value.Ok, t.Value.Judged),
            versions.GetValueOrDefault(t.Key)?.OrderByDescending(v => v.Version, VersionComparer.Instance).ToList() ?? [])).ToList();
        return new HubHistory(tool, plugin, grain, from, to, time.GetUtcNow().UtcDateTime, all.Installations, all.Runs, new Rate(all.Ok, all.Judged), buckets);
    }

    /// <summary>
    /// Installations per (bucket, public version) from the month rollup's day bits; a cell is published when
    /// at least @k installations used it. Every total (per bucket, and over the range) is taken over the
    /// published cells only: installations as a distinct count over them, runs and outcomes as sums.
    /// </summary>
    private static string HistorySql(string months, string days) => $"""
        WITH m AS (
            SELECT * FROM unnest(@map_name, @map_version, @map_hub_version) AS m(name, version, hub_version)
        ), i AS MATERIALIZED (
            SELECT DISTINCT date_trunc(@grain, g)::date AS bucket, m.hub_version AS version, p.installation_key
            FROM generate_series(@from_day::timestamp, @to_day::timestamp, interval '1 day') g
            JOIN {months} p ON p.tool = @tool AND p.month = date_trunc('month', g)::date
                 AND (p.days & (1 << (extract(day FROM g)::integer - 1))) <> 0
            JOIN m ON m.name = p.name AND m.version IS NOT DISTINCT FROM p.version
            WHERE (NOT @exclude_ci OR NOT p.is_ci)
        ), pub AS (
            SELECT bucket, version FROM i GROUP BY 1, 2 HAVING count(*) >= @k
        ), s AS (
            SELECT date_trunc(@grain, d.day::timestamp)::date AS bucket, m.hub_version AS version,
                   d.runs, d.succeeded, d.succeeded + d.failed + d.aborted AS judged
            FROM {days} d
            JOIN m ON m.name = d.name AND m.version IS NOT DISTINCT FROM d.version
            WHERE d.tool = @tool AND d.day >= @from_day AND d.day <= @to_day AND (NOT @exclude_ci OR NOT d.is_ci)
        ), ri AS (
            SELECT i.bucket, i.version, GROUPING(i.bucket) AS gb, GROUPING(i.version) AS gv, count(DISTINCT i.installation_key) AS installations
            FROM i JOIN pub ON pub.bucket = i.bucket AND pub.version = i.version
            GROUP BY GROUPING SETS ((i.bucket, i.version), (i.bucket), ())
        ), rs AS (
            SELECT s.bucket, s.version, GROUPING(s.bucket) AS gb, GROUPING(s.version) AS gv,
                   sum(s.runs)::bigint AS runs, sum(s.succeeded)::bigint AS ok, sum(s.judged)::bigint AS judged
            FROM s JOIN pub ON pub.bucket = s.bucket AND pub.version = s.version
            GROUP BY GROUPING SETS ((s.bucket, s.version), (s.bucket), ())
        )
        SELECT ri.bucket, ri.version, ri.gb, ri.gv, ri.installations, coalesce(rs.runs, 0), coalesce(rs.ok, 0), coalesce(rs.judged, 0)
        FROM ri
        LEFT JOIN rs ON rs.gb = ri.gb AND rs.gv = ri.gv AND rs.bucket IS NOT DISTINCT FROM ri.bucket AND rs.version IS NOT DISTINCT FROM ri.version
        """;
}
