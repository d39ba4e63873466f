using Microsoft.EntityFrameworkCore;
using UsageDashboard.Catalog;
using UsageDashboard.Store;

namespace UsageDashboard.Health;

/// <summary>An active flag on one version of a plugin, as other pages show it.</summary>
public sealed record VersionFlag(long FlagId, string Version, string Severity, string State, string Reason, DateTime OpenedAt);

/// <summary>
/// A plugin's health for other pages (the plugin pages): <c>broken</c> or <c>degraded</c> while a flag
/// of that severity is active on any of its versions, else <c>healthy</c>.
/// </summary>
public sealed record PluginHealth(string Tool, string Plugin, string Status, IReadOnlyList<VersionFlag> Flags)
{
    public string DetailsUrl => Tool.Length == 0 ? "/health" : "/health?tool=" + Uri.EscapeDataString(Tool);
}

public sealed class PluginHealthService(UsageDbContext db, PluginNames names)
{
    /// <summary>
    /// The health of <paramref name="plugin"/> in <paramref name="tool"/> (or in any tool, when null):
    /// status and active flags, worst first.
    /// </summary>
    public async Task<PluginHealth> GetStatusAsync(string? tool, string plugin, CancellationToken ct = default)
    {
        // A public Meltano name covers its stored "digest.variant digest" names (the page shows the variants).
        var query = db.HealthFlags.AsNoTracking()
            .Where(f => (tool == null || f.Tool == tool) && f.Kind == HealthSubject.PluginKind && f.State != FlagStates.Resolved);
        if (!PluginCatalog.LooksHashed(plugin) && names.Catalog.Contains(plugin))
        {
            // A public Meltano name covers its stored "digest.variant digest" names (the page shows the variants).
            var digest = PluginCatalog.Sha256Hex(plugin);
            query = query.Where(f => f.Name == plugin || f.Name == digest || f.Name.StartsWith(digest + "."));
        }
        else
        {
            query = query.Where(f => f.Name == plugin);
        }
        var rows = await query
            .OrderByDescending(f => f.Severity).ThenByDescending(f => f.OpenedAt)
            .Select(f => new { f.Id, f.Name, f.Version, f.Severity, f.State, f.Reason, f.OpenedAt })
            .ToListAsync(ct);
        // Digests become names when read, so a catalog update re-reads old flags too.
        var flags = rows.Select(f => new VersionFlag(f.Id, PluginCatalog.LooksHashed(f.Version) ? names.Label(f.Name, f.Version) : f.Version, f.Severity, f.State, names.Text(f.Reason), f.OpenedAt)).ToList();
        var status = flags.Any(f => f.Severity == "broken") ? "broken" : flags.Count > 0 ? "degraded" : "healthy";
        return new PluginHealth(tool ?? "", plugin, status, flags);
    }
}
