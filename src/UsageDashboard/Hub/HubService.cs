using System.Collections.Concurrent;
using Microsoft.Extensions.Options;
using Npgsql;
using UsageDashboard.Catalog;
using UsageDashboard.Insights;
using UsageDashboard.Rollups;

namespace UsageDashboard.Hub;

/// <summary>
/// Computes and caches the hub snapshot of each tool. A snapshot older than
/// <see cref="HubOptions.SnapshotTtl"/> keeps being served while one refresh runs in the background,
/// so no request waits on the database once the first has been computed.
/// </summary>
public sealed class HubService(NpgsqlDataSource dataSource, PluginNames names, IOptions<HubOptions> options, TimeProvider time, RollupSource rollups,
    ILogger<HubService> logger)
{
    private readonly ConcurrentDictionary<string, Cached<HubSnapshot>> _snapshots = new(StringComparer.Ordinal);
    private Cached<HashSet<string>>? _tools;

    private sealed class Cached<T>(Task<T> task, DateTimeOffset expiresAt)
    {
        public Task<T> Task { get; } = task;
        public DateTimeOffset ExpiresAt { get; } = expiresAt;
        public int Refreshing;
    }

    /// <summary>The snapshot of <paramref name="tool"/>, or null when no such tool has sent telemetry. Shared by all requests, so not cancellable by one.</summary>
    public async ValueTask<HubSnapshot?> GetAsync(string tool)
    {
        var tools = await GetOrRefreshAsync(() => _tools, c => _tools = c, ToolsAsync);
        if (!tools.Contains(tool))
        {
            return null;
        }
        // Only known tools get a cache entry, so random URLs cannot grow the cache.
        return await GetOrRefreshAsync(() => _snapshots.GetValueOrDefault(tool), c => _snapshots[tool] = c, () => ComputeAsync(tool, CancellationToken.None));
    }

    private async ValueTask<T> GetOrRefreshAsync<T>(Func<Cached<T>?> read, Action<Cached<T>> write, Func<Task<T>> compute)
    {
        var ttl = options.Value.SnapshotTtl;
        var now = time.GetUtcNow();
        var cached = read();
        if (ttl <= TimeSpan.Zero || cached is null || cached.Task.IsFaulted || cached.Task.IsCanceled)
        {
            // First request (or caching off, or the last attempt failed): compute in line.
            var fresh = new Cached<T>(compute(), now + ttl);
            write(fresh);
            return await fresh.Task;
        }
        if (now >= cached.ExpiresAt && cached.Task.IsCompletedSuccessfully && Interlocked.CompareExchange(ref cached.Refreshing, 1, 0) == 0)
        {
            _ = RefreshAsync(cached, write, compute, now + ttl);
        }
        return await cached.Task;
    }

    private async Task RefreshAsync<T>(Cached<T> stale, Action<Cached<T>> write, Func<Task<T>> compute, DateTimeOffset expiresAt)
    {
        try
        {
            var value = await compute();
            write(new Cached<T>(Task.FromResult(value), expiresAt));
        }
        catch (Exception e)
        {
            // Keep serving the stale snapshot; the next request after this one tries again.
            logger.LogWarning(e, "Hub snapshot refresh failed; serving the previous one.");
            Interlocked.Exchange(ref stale.Refreshing, 0);
        }
    }

    private async Task<HashSet<string>> ToolsAsync()
    {
        await using var cmd = dataSource.CreateCommand("SELECT DISTINCT tool FROM installations");
        var tools = new HashSet<string>(StringComparer.Ordinal);
        await using var reader = await cmd.ExecuteReaderAsync();
        while (await reader.ReadAsync())
        {
            tools.Add(reader.GetString(0));
        }
        return tools;
    }

    private async Task<HubSnapshot> ComputeAsync(string tool, CancellationToken ct)
    {
        var o = options.Value;
        var now = time.GetUtcNow().UtcDateTime;
        var toDay = DateOnly.FromDateTime(now);
        var fromDay = DateOnly.FromDateTime(now - o.Window).AddDays(1);
        var (map, known) = await PublishedNamesAsync(tool, fromDay, toDay, ct);
        await using var batch = dataSource.CreateBatch();
        // The window is whole UTC days (the plugin-day rollup's grain): the last Hub:Window days, today included.
        await using var sourceCmd = new NpgsqlCommand();
        var days = rollups.PluginDays(sourceCmd, fromDay, toDay);
        var months = rollups.PluginMonths(sourceCmd, fromDay, toDay);
        // Stored names and versions become public ones through @map (PluginNames decides, in C#): a
        // Meltano (name, variant) becomes "tap-github--meltanolabs", its hub default pip_url "default
        // pip_url"; private plugins, unknown variants and custom pip_urls have no row there and are
        // dropped by the join, so they never leave the database. Resolving before counting counts an
        // installation once across clear and hashed senders.
        // Counts come from the plugin-day rollup, installations from the plugin-month rollup.
        // k-anonymity: a version seen by fewer than @k installations is published nowhere, and a plugin's
        // totals are taken over its published versions only, so totals minus the listed versions is zero
        // and reveals nothing about the hidden ones (docs/privacy.md).
        batch.BatchCommands.Add(new NpgsqlBatchCommand($$"""
            WITH s AS (
                SELECT m.hub_name AS name, d.type, m.hub_version AS version, d.runs, d.succeeded,
                       d.succeeded + d.failed + d.aborted AS judged
                FROM {{days}} d
                JOIN unnest(@map_name, @map_version, @map_hub_name, @map_hub_version) AS m(name, version, hub_name, hub_version)
                  ON m.name = d.name AND m.version IS NOT DISTINCT FROM d.version
                WHERE d.tool = @tool AND d.day >= @from_day AND d.day <= @to_day AND (NOT @exclude_ci OR NOT d.is_ci)
            ),
            r AS (
                SELECT m.hub_name AS name, m.hub_version AS version, p.installation_key
                FROM {{months}} p
                JOIN unnest(@map_name, @map_version, @map_hub_name, @map_hub_version) AS m(name, version, hub_name, hub_version)
                  ON m.name = p.name AND m.version IS NOT DISTINCT FROM p.version
                WHERE p.tool = @tool AND {{RollupSql.ActiveIn("p", "@from_day", "@to_day")}} AND (NOT @exclude_ci OR NOT p.is_ci)
            ),
            published AS (
                SELECT name, version FROM r
                WHERE name !~ '^[0-9a-f]{64}$'
                GROUP BY name, version
                HAVING count(DISTINCT installation_key) >= @k
            ),
            counts AS (
                SELECT s.name, s.version, GROUPING(s.version) = 1 AS plugin_total,
                       mode() WITHIN GROUP (ORDER BY s.type) AS type,
                       coalesce(sum(s.runs) FILTER (WHERE v.name IS NOT NULL), 0)::bigint AS runs,
                       coalesce(sum(s.succeeded) FILTER (WHERE v.name IS NOT NULL), 0)::bigint AS ok,
                       coalesce(sum(s.judged) FILTER (WHERE v.name IS NOT NULL), 0)::bigint AS judged
                FROM s
                LEFT JOIN published v ON v.name = s.name AND v.version IS NOT DISTINCT FROM s.version
                WHERE s.name !~ '^[0-9a-f]{64}$'
                GROUP BY GROUPING SETS ((s.name, s.version), (s.name))
                HAVING GROUPING(s.version) = 1 OR bool_or(v.name IS NOT NULL)
            ),
            reach AS (
                SELECT r.name, r.version, GROUPING(r.version) = 1 AS plugin_total, count(DISTINCT r.installation_key) AS installations
                FROM r
                JOIN published v ON v.name = r.name AND v.version IS NOT DISTINCT FROM r.version
                GROUP BY GROUPING SETS ((r.name, r.version), (r.name))
            )
            SELECT c.name, c.version, c.plugin_total, c.type, c.runs, c.ok, c.judged, coalesce(x.installations, 0)
            FROM counts c
            LEFT JOIN reach x ON x.name = c.name AND x.plugin_total = c.plugin_total AND (c.plugin_total OR x.version = c.version)
            """));
        batch.BatchCommands.Add(new NpgsqlBatchCommand("""
            SELECT name, version, severity FROM health_flags
            WHERE tool = @tool AND kind = 'plugin' AND state <> 'resolved'
            """));
        foreach (NpgsqlBatchCommand command in batch.BatchCommands)
        {
            command.Parameters.AddWithValue("tool", tool);
            command.Parameters.AddWithValue("map_name", map.Select(m => m.Name).ToArray());
            command.Parameters.AddWithValue("map_version", map.Select(m => m.Version).ToArray());
            command.Parameters.AddWithValue("map_hub_name", map.Select(m => m.HubName).ToArray());
            command.Parameters.AddWithValue("map_hub_version", map.Select(m => m.HubVersion).ToArray());
            command.Parameters.AddWithValue("from_day", fromDay);
            command.Parameters.AddWithValue("to_day", toDay);
            foreach (NpgsqlParameter p in sourceCmd.Parameters)
            {
                command.Parameters.AddWithValue(p.ParameterName, p.Value!);
            }
            command.Parameters.AddWithValue("exclude_ci", o.ExcludeCi);
            command.Parameters.AddWithValue("k", Math.Max(1, o.MinInstallations));
        }

        var totals = new Dictionary<string, (string Type, long Runs, long Ok, long Judged, long Installations)>(StringComparer.Ordinal);
        var versions = new Dictionary<string, List<(string Version, long Runs, long Ok, long Judged, long Installations)>>(StringComparer.Ordinal);
        var flags = new Dictionary<(string Name, string Version), string>();
        await using (var reader = await batch.ExecuteReaderAsync(ct))
        {
            while (await reader.ReadAsync(ct))
            {
                var name = reader.GetString(0);
                var row = (reader.IsDBNull(3) ? "" : reader.GetString(3), reader.GetInt64(4), reader.GetInt64(5), reader.GetInt64(6), reader.GetInt64(7));
                if (reader.GetBoolean(2))
                {
                    totals[name] = row;
                }
                else
                {
                    if (!versions.TryGetValue(name, out var list))
                    {
                        versions[name] = list = [];
                    }
                    list.Add((reader.GetString(1), row.Item2, row.Item3, row.Item4, row.Item5));
                }
            }
            await reader.NextResultAsync(ct);
            while (await reader.ReadAsync(ct))
            {
                var stored = reader.GetString(0);
                if (names.Resolve(stored).HubKey is { } name && names.PublicVersion(stored, reader.GetString(1)) is { } version)
                {
                    var key = (name, version);
                    var severity = reader.GetString(2);
                    flags[key] = flags.GetValueOrDefault(key) == HubStatus.Broken ? HubStatus.Broken : severity;
                }
            }
        }

        var plugins = new List<HubPlugin>(totals.Count);
        foreach (var (name, t) in totals.OrderBy(t => t.Key, StringComparer.Ordinal))
        {
            var publishable = t.Installations >= o.MinInstallations;
            // A name nobody can look up publicly, used by a handful of installations, may itself say
            // who they are ("tap-acme-internal"): it is not listed at all.
            if (!publishable && !known.Contains(name))
            {
                continue;
            }
            plugins.Add(Build(name, t, versions.GetValueOrDefault(name) ?? [], flags, o.MinInstallations));
        }
        return new HubSnapshot(tool, now, plugins);
    }

    internal readonly record struct NameMapping(string Name, string? Version, string HubName, string? HubVersion);

    /// <summary>
    /// The (name, version) pairs the tool has in the window and the public name and version of each that
    /// may be published; <c>Known</c> holds the public names a catalog lists (they are listed even when
    /// too few installations use them, with no numbers).
    /// </summary>
    internal async Task<(List<NameMapping> Map, HashSet<string> Known)> PublishedNamesAsync(string tool, DateOnly fromDay, DateOnly toDay, CancellationToken ct)
    {
        await using var cmd = new NpgsqlCommand();
        var days = rollups.PluginDays(cmd, fromDay, toDay);
        cmd.CommandText = $"SELECT DISTINCT d.name, d.version FROM {days} d WHERE d.tool = @tool AND d.day >= @from_day AND d.day <= @to_day";
        cmd.Parameters.AddWithValue("tool", tool);
        cmd.Parameters.AddWithValue("from_day", fromDay);
        cmd.Parameters.AddWithValue("to_day", toDay);
        await using var conn = await dataSource.OpenConnectionAsync(ct);
        cmd.Connection = conn;
        var map = new List<NameMapping>();
        var known = new HashSet<string>(StringComparer.Ordinal);
        await using var reader = await cmd.ExecuteReaderAsync(ct);
        while (await reader.ReadAsync(ct))
        {
            var stored = reader.GetString(0);
            var version = reader.IsDBNull(1) ? null : reader.GetString(1);
            var name = names.Resolve(stored);
            if (name.HubKey is not { } hubName)
            {
                continue;
            }
            if (!ReferenceEquals(hubName, stored) || names.Catalog.Contains(hubName))
            {
                known.Add(hubName);
            }
            var hubVersion = version is null ? null : names.PublicVersion(stored, version);
            if (version is not null && hubVersion is null)
            {
                continue;
            }
            map.Add(new NameMapping(stored, version, hubName, hubVersion));
        }
        return (map, known);
    }

    private static HubPlugin Build(string name, (string Type, long Runs, long Ok, long Judged, long Installations) t,
        List<(string Version, long Runs, long Ok, long Judged, long Installations)> rows, Dictionary<(string, string), string> flags, int k)
    {
        var publishable = t.Installations >= k;
        // The query returns published versions only; the filter keeps that true whatever it returns.
        var versions = rows
            .Where(v => v.Installations >= k)
            .OrderByDescending(v => v.Version, VersionComparer.Instance)
            .Select(v => new HubVersion(v.Version, v.Installations, v.Runs, new Rate(v.Ok, v.Judged),
                flags.GetValueOrDefault((name, v.Version)) ?? HubStatus.Healthy))
            .ToList();
        var latest = versions.FirstOrDefault(v => v.Version.Length > 0);
        var broken = versions.Where(v => v.Status == HubStatus.Broken).Select(v => v.Version).ToList();
        string status;
        if (!publishable)
        {
            status = HubStatus.InsufficientData;
        }
        else if (latest?.Status == HubStatus.Broken)
        {
            status = HubStatus.Broken;
        }
        else
        {
            // An older broken version, or any degraded one, still warrants a caution on the plugin.
            status = versions.Any(v => v.Status is HubStatus.Broken or HubStatus.Degraded) ? HubStatus.Degraded : HubStatus.Healthy;
        }
        return new HubPlugin(name, t.Type, publishable ? latest?.Version : null, t.Installations, t.Runs, new Rate(t.Ok, t.Judged), status,
            publishable ? broken : [], versions, publishable);
    }

    /// <summary>
    /// The badge for a plugin (or one of its versions) and metric; null when the version is not published,
    /// whether nobody or too few installations use it: the two must answer alike.
    /// </summary>
    public static Badge? BadgeFor(HubPlugin plugin, string? version, string metric)
    {
        HubVersion? v = null;
        if (version is not null)
        {
            v = plugin.Versions.FirstOrDefault(x => x.Version == version);
            if (v is null)
            {
                return null;
            }
        }
        var publishable = v is not null || plugin.Publishable;
        var status = v?.Status ?? plugin.Status;
        var suffix = version is null ? "" : " " + version;
        switch (metric)
        {
            case "status" when v is null && plugin.Publishable && FlaggedSince(plugin) is { } since:
                return new Badge("health", $"{since.Status} since {since.Version}", since.Status == HubStatus.Broken ? "red" : "yellow");
            case "status":
                return BadgeFor(plugin, version, "health");
            case "success-rate":
                var rate = (v?.SuccessRate ?? plugin.SuccessRate).Value;
                return !publishable || rate is null
                    ? new Badge("success rate" + suffix, "insufficient data", "lightgrey")
                    : new Badge("success rate" + suffix, Format.Percent(rate, 1), RateColor(rate.Value));
            case "installations":
                return !publishable
                    ? new Badge("installations" + suffix, "insufficient data", "lightgrey")
                    : new Badge("installations" + suffix, Metric(v?.Installations ?? plugin.Installations) + "/month", "blue");
            default:
                return new Badge("health" + suffix, status.Replace('_', ' '), status switch
                {
                    HubStatus.Healthy => "brightgreen",
                    HubStatus.Degraded => "yellow",
                    HubStatus.Broken => "red",
                    _ => "lightgrey",
                });
        }
    }

    /// <summary>
    /// While the latest published version is flagged: its status and the oldest version of the unbroken run of
    /// versions flagged alike that ends with it ("broken since 1.4.2" when 1.4.2, 1.4.3 and 1.5.0 are all broken).
    /// </summary>
    public static (string Status, string Version)? FlaggedSince(HubPlugin plugin)
    {
        var versions = plugin.Versions.Where(v => v.Version.Length > 0).ToList();
        if (versions is not [var latest, ..] || latest.Status is not (HubStatus.Broken or HubStatus.Degraded))
        {
            return null;
        }
        var since = latest.Version;
        foreach (var v in versions.Skip(1))
        {
            if (v.Status != latest.Status)
            {
                break;
            }
            since = v.Version;
        }
        return (latest.Status, since);
    }

    private static string RateColor(double rate) => rate switch
    {
        >= 0.99 => "brightgreen",
        >= 0.95 => "green",
        >= 0.90 => "yellowgreen",
        >= 0.80 => "yellow",
        >= 0.70 => "orange",
        _ => "red",
    };

    /// <summary>shields.io's metric style: 950, 1.2k, 34k, 1.5M.</summary>
    public static string Metric(long n)
    {
        var inv = System.Globalization.CultureInfo.InvariantCulture;
        return n switch
        {
            < 1000 => n.ToString(inv),
            < 10_000 => (n / 1000.0).ToString("0.#", inv) + "k",
            < 1_000_000 => (n / 1000).ToString(inv) + "k",
            _ => (n / 1_000_000.0).ToString("0.#", inv) + "M",
        };
    }
}
