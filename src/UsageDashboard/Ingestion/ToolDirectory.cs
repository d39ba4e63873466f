using System.Collections.Frozen;
using Microsoft.Extensions.Options;

namespace UsageDashboard.Ingestion;

/// <summary>Which tool a write key or Snowplow app id belongs to, from <c>Tools</c> in configuration.</summary>
public sealed class ToolDirectory
{
    private readonly FrozenDictionary<string, string[]> _toolsByKey;
    private readonly FrozenDictionary<string, string> _toolByAppId;

    public ToolDirectory(IOptions<Dictionary<string, ToolOptions>> tools)
        : this(tools.Value)
    {
    }

    public ToolDirectory(IReadOnlyDictionary<string, ToolOptions> tools)
    {
        Tools = tools.Keys.Select(t => t.Trim().ToLowerInvariant()).Where(t => t.Length > 0).Distinct().Order(StringComparer.Ordinal).ToFrozenSet();
        var byKey = new Dictionary<string, SortedSet<string>>(StringComparer.Ordinal);
        var byApp = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var (name, options) in tools)
        {
            var tool = name.Trim().ToLowerInvariant();
            // Empty entries appear when an environment variable overrides a list with a blank value.
            foreach (var key in options.WriteKeys.Where(k => !string.IsNullOrWhiteSpace(k)))
            {
                if (!byKey.TryGetValue(key, out var set))
                {
                    byKey[key] = set = new SortedSet<string>(StringComparer.Ordinal);
                }
                set.Add(tool);
            }
            foreach (var appId in options.SnowplowAppIds.Where(a => !string.IsNullOrWhiteSpace(a)))
            {
                byApp.TryAdd(appId, tool);
            }
        }
        _toolsByKey = byKey.ToFrozenDictionary(kv => kv.Key, kv => kv.Value.ToArray(), StringComparer.Ordinal);
        _toolByAppId = byApp.ToFrozenDictionary(StringComparer.Ordinal);
    }

    public FrozenSet<string> Tools { get; }

    /// <summary>The tools a write key may send for; empty when the key is unknown.</summary>
    public IReadOnlyList<string> ToolsForKey(string? key) =>
        key is not null && _toolsByKey.TryGetValue(key, out var tools) ? tools : [];

    /// <summary>A configured write key (the first in ordinal order), for the collector's own warm-up requests.</summary>
    internal string? FirstWriteKey() => _toolsByKey.Keys.Order(StringComparer.Ordinal).FirstOrDefault();

    public string? ToolForAppId(string? appId) => appId is not null && _toolByAppId.TryGetValue(appId, out var tool) ? tool : null;

    public bool IsTool(string? name) => name is not null && Tools.Contains(name);
}
