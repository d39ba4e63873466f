using System.Collections.Concurrent;
using Microsoft.Extensions.Options;
using Npgsql;
using UsageDashboard.Catalog;
using UsageDashboard.Hub;
using UsageDashboard.Insights;
using UsageDashboard.Rollups;

namespace UsageDashboard.Public;

/// <summary>
/// The figures of the public pages, from the rollups and the hub (which already applies k-anonymity and
/// the catalog to plugins). Tool figures follow the same rule as the hub's: a bucket with fewer than
/// <see cref="HubOptions.MinInstallations"/> active installations is not shown, and totals are taken over
/// the shown buckets only.
/// </summary>
public sealed class PublicService(NpgsqlDataSource dataSource, HubService hub, HubHistoryService history, PluginNames names, RollupSource rollups,
    IOptions<PublicOptions> publicOptions, IOptions<HubOptions> hubOptions, TimeProvider time)
{
    public const int TopCommands = 10;

    private readonly ConcurrentDictionary<string, (DateTimeOffset ExpiresAt, HubBody Body)> _pages = new(StringComparer.Ordinal);

    /// <summary>
    /// A rendered page by key, kept for <see cref="HubOptions.SnapshotTtl"/>; <paramref name="render"/> answers
    /// null for a page that does not exist, which is not cached (unknown URLs cannot grow the cache).
    /// </summary>
    public async Task<HubBody?> PageAsync(string key, Func<Task<string?>> render)
    {
        var now = time.GetUtcNow();
        if (_pages.TryGetValue(key, out var cached) && now < cached.ExpiresAt)
        {
            return cached.Body;
        }
        if (await render() is not { } html)
        {
            return null;
        }
        var body = HubBody.Of(System.Text.Encoding.UTF8.GetBytes(html));
        var ttl = hubOptions.Value.SnapshotTtl;
        if (ttl > TimeSpan.Zero)
        {
            _pages[key] = (now + ttl, body);
        }
        return body;
    }

    public bool IsPublic(string tool) => publicOptions.Value.Tools.Contains(tool, StringComparer.Ordinal);

    /// <summary>Day buckets up to 90 days, weeks beyond: a year of days is more rows than a reader wants.</summary>
    public static string GrainFor(int days) => days > 90 ? "week" : "day";

    public async Task<PublicToolView?> GetToolAsync(string tool, int days, CancellationToken ct)
    {
        if (!IsPublic(tool) || !HubHistoryService.Ranges.Contains(days) || await hub.GetAsync(tool) is not { } snapshot)
        {
            return null;
        }
        var o = hubOptions.Value;
        var to = DateOnly.FromDateTime(time.GetUtcNow().UtcDateTime);
        var from = to.AddDays(1 - days);
        var grain = GrainFor(days);
        await using var batch = dataSource.CreateBatch();
        await using var source = new NpgsqlCommand();
        var months = rollups.InstallationMonths(source, from, to);
        var runDays = rollups.RunDays(source, from, to);
        var commandMonths = rollups.CommandMonths(source, from, to);
        var commandDays = rollups.CommandDays(source, from, to);
        batch.BatchCommands.Add(new NpgsqlBatchCommand(PublicSql.ToolSeries(months, runDays)));
        batch.BatchCommands.Add(new NpgsqlBatchCommand(PublicSql.Commands(commandMonths, commandDays)));
        foreach (NpgsqlBatchCommand command in batch.BatchCommands)
        {
            foreach (NpgsqlParameter p in source.Parameters)
            {
                command.Parameters.AddWithValue(p.ParameterName, p.Value!);
            }
            command.Parameters.AddWithValue("tool", tool);
            command.Parameters.AddWithValue("from_day", from);
            command.Parameters.AddWithValue("to_day", to);
            command.Parameters.AddWithValue("grain", grain);
            command.Parameters.AddWithValue("exclude_ci", o.ExcludeCi);
            command.Parameters.AddWithValue("k", Math.Max(1, o.MinInstallations));
            command.Parameters.AddWithValue("top", TopCommands);
        }
        var series = new List<PublicPoint>();
        var total = new PublicPoint(from, 0, 0, new Rate(0, 0));
        var commands = new List<PublicCommand>();
        await using (var reader = await batch.ExecuteReaderAsync(ct))
        {
            while (await reader.ReadAsync(ct))
            {
                var point = new PublicPoint(reader.IsDBNull(0) ? from : reader.GetFieldValue<DateOnly>(0), reader.GetInt64(2), reader.GetInt64(3), new Rate(reader.GetInt64(4), reader.GetInt64(5)));
                if (reader.GetInt32(1) == 1)
                {
                    total = point;
                }
                else
                {
                    series.Add(point);
                }
            }
            await reader.NextResultAsync(ct);
            while (await reader.ReadAsync(ct))
            {
                commands.Add(new PublicCommand(reader.GetString(0), reader.GetInt64(1), reader.GetInt64(2), new Rate(reader.GetInt64(3), reader.GetInt64(4))));
            }
        }
        var plugins = snapshot.Plugins.Where(p => p.Publishable).OrderByDescending(p => p.Installations).ThenBy(p => p.Name, StringComparer.Ordinal).Take(20).ToList();
        return new PublicToolView(tool, days, grain, from, to, snapshot.UpdatedAt, o.MinInstallations, total.Installations, total.Runs, total.SuccessRate,
            series.OrderBy(p => p.Start).ToList(), commands, plugins);
    }

    public async Task<PublicPluginView?> GetPluginAsync(string tool, string plugin, int days, CancellationToken ct)
    {
        if (!IsPublic(tool) || await hub.GetAsync(tool) is not { } snapshot || !snapshot.TryGet(plugin, out var published, out _) || !published.Publishable)
        {
            return null;
        }
        if (await history.GetAsync(tool, plugin, days, GrainFor(days)) is not { } h)
        {
            return null;
        }
        return new PublicPluginView(tool, days, published, h, await FlagsAsync(tool, published, ct), hubOptions.Value.MinInstallations);
    }

    /// <summary>Open flags of the plugin's published versions, with the reason read through the catalog (no digests).</summary>
    private async Task<IReadOnlyList<PublicFlag>> FlagsAsync(string tool, HubPlugin plugin, CancellationToken ct)
    {
        await using var cmd = dataSource.CreateCommand(
            "SELECT name, version, severity, reason, opened_at FROM health_flags WHERE tool = @tool AND kind = 'plugin' AND state <> 'resolved' ORDER BY opened_at DESC");
        cmd.Parameters.AddWithValue("tool", tool);
        var flags = new List<PublicFlag>();
        await using var reader = await cmd.ExecuteReaderAsync(ct);
        while (await reader.ReadAsync(ct))
        {
            var stored = reader.GetString(0);
            if (names.Resolve(stored).HubKey == plugin.Name && names.PublicVersion(stored, reader.GetString(1)) is { } version
                && plugin.Versions.Any(v => v.Version == version))
            {
                flags.Add(new PublicFlag(version, reader.GetString(2), names.Text(reader.GetString(3)), reader.GetDateTime(4)));
            }
        }
        return flags;
    }
}
