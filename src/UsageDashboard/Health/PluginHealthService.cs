using Microsoft.EntityFrameworkCore;
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

public sealed class PluginHealthService(UsageDbContext db)
{
    /// <summary>
    /// The health of <paramref name="plugin"/> in <paramref name="tool"/> (or in any tool, when null):
    /// status and active flags, worst first.
    /// </summary>
    public async Task<PluginHealth> GetStatusAsync(string? tool, string plugin, CancellationToken ct = default)
    {
        var flags = await db.HealthFlags.AsNoTracking()
            .Where(f => (tool == null || f.Tool == tool) && f.Kind == HealthSubject.PluginKind && f.Name == plugin && f.State != FlagStates.Resolved)
            .OrderByDescending(f => f.Severity).ThenByDescending(f => f.OpenedAt)
            .Select(f => new VersionFlag(f.Id, f.Version, f.Severity, f.State, f.Reason, f.OpenedAt))
            .ToListAsync(ct);
        var status = flags.Any(f => f.Severity == "broken") ? "broken" : flags.Count > 0 ? "degraded" : "healthy";
        return new PluginHealth(tool ?? "", plugin, status, flags);
    }
}
