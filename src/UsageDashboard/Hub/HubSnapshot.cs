using System.Security.Cryptography;
using System.Text.Json;
using UsageDashboard.Insights;

namespace UsageDashboard.Hub;

/// <summary>Published statuses.</summary>
public static class HubStatus
{
    public const string Healthy = "healthy";
    public const string Degraded = "degraded";
    public const string Broken = "broken";
    public const string InsufficientData = "insufficient_data";
}

/// <summary>
/// One published version of a plugin over the hub window. A version under the k-anonymity threshold has
/// no <see cref="HubVersion"/> at all: it is neither listed nor counted in its plugin's totals.
/// </summary>
public sealed record HubVersion(string Version, long Installations, long Runs, Rate SuccessRate, string Status);

public sealed record HubPlugin(
    string Name, string Type, string? LatestVersion, long Installations, long Runs, Rate SuccessRate, string Status,
    IReadOnlyList<string> BrokenVersions, IReadOnlyList<HubVersion> Versions, bool Publishable);

/// <summary>A serialized response with its strong ETag, computed once per snapshot.</summary>
public sealed record HubBody(byte[] Bytes, string ETag)
{
    public static HubBody Of(byte[] bytes) => new(bytes, "\"" + Convert.ToHexStringLower(SHA256.HashData(bytes).AsSpan(0, 16)) + "\"");
}

/// <summary>
/// Everything the hub publishes for one tool at one moment, with its JSON already serialized: the
/// endpoints only copy bytes, which is what keeps them in the sub-millisecond range.
/// </summary>
public sealed class HubSnapshot
{
    private static readonly JsonSerializerOptions s_json = new(JsonSerializerDefaults.Web);

    public string Tool { get; }
    public DateTime UpdatedAt { get; }
    public IReadOnlyList<HubPlugin> Plugins { get; }
    public HubBody List { get; }
    private readonly Dictionary<string, (HubPlugin Plugin, HubBody Body)> _byName;

    public HubSnapshot(string tool, DateTime updatedAt, IReadOnlyList<HubPlugin> plugins)
    {
        Tool = tool;
        UpdatedAt = updatedAt;
        Plugins = plugins;
        List = HubBody.Of(JsonSerializer.SerializeToUtf8Bytes(new { items = plugins.Select(p => Item(p, updatedAt, versions: false)) }, s_json));
        _byName = plugins.ToDictionary(p => p.Name, p => (p, HubBody.Of(JsonSerializer.SerializeToUtf8Bytes(Item(p, updatedAt, versions: true), s_json))), StringComparer.Ordinal);
    }

    public bool TryGet(string name, out HubPlugin plugin, out HubBody body)
    {
        if (_byName.TryGetValue(name, out var entry))
        {
            (plugin, body) = entry;
            return true;
        }
        (plugin, body) = (null!, null!);
        return false;
    }

    /// <summary>The wire shape. Under the k-anonymity threshold every count is null: the status says why.</summary>
    private static Dictionary<string, object?> Item(HubPlugin p, DateTime updatedAt, bool versions)
    {
        var item = new Dictionary<string, object?>
        {
            ["name"] = p.Name,
            ["type"] = p.Type,
            ["latestVersion"] = p.LatestVersion,
            ["installations30d"] = p.Publishable ? p.Installations : null,
            ["runs30d"] = p.Publishable ? p.Runs : null,
            ["successRate30d"] = p.Publishable ? Round(p.SuccessRate.Value) : null,
            ["successRateInterval"] = p.Publishable ? Interval(p.SuccessRate) : null,
            ["status"] = p.Status,
            ["brokenVersions"] = p.BrokenVersions,
            ["updatedAt"] = updatedAt,
        };
        if (versions)
        {
            item["versions"] = p.Versions.Select(v => new Dictionary<string, object?>
            {
                ["version"] = v.Version,
                ["installations30d"] = v.Installations,
                ["runs30d"] = v.Runs,
                ["successRate30d"] = Round(v.SuccessRate.Value),
                ["successRateInterval"] = Interval(v.SuccessRate),
                ["status"] = v.Status,
            }).ToList();
        }
        return item;
    }

    private static double? Round(double? value) => value is null ? null : Math.Round(value.Value, 6);

    private static double[]? Interval(Rate rate) => rate.Interval is { } i ? [Math.Round(i.Low, 6), Math.Round(i.High, 6)] : null;
}

/// <summary>Orders versions the way people read them: numeric parts numerically (1.10 after 1.9), then text.</summary>
public sealed class VersionComparer : IComparer<string>
{
    public static readonly VersionComparer Instance = new();

    public int Compare(string? x, string? y)
    {
        var a = (x ?? "").TrimStart('v', 'V').Split('.', '-', '+', '_');
        var b = (y ?? "").TrimStart('v', 'V').Split('.', '-', '+', '_');
        for (var i = 0; i < Math.Max(a.Length, b.Length); i++)
        {
            if (i >= a.Length)
            {
                // 1.0 < 1.0.1, but a pre-release suffix (1.0-rc1) sorts before the release (1.0).
                return IsNumber(b[i]) ? -1 : 1;
            }
            if (i >= b.Length)
            {
                return IsNumber(a[i]) ? 1 : -1;
            }
            var numA = TryNumber(a[i], out var na);
            var numB = TryNumber(b[i], out var nb);
            var c = numA && numB ? na.CompareTo(nb) : numA ? 1 : numB ? -1 : string.CompareOrdinal(a[i], b[i]);
            if (c != 0)
            {
                return c;
            }
        }
        return 0;
    }

    private static bool IsNumber(string s) => TryNumber(s, out _);

    private static bool TryNumber(string s, out long value) =>
        long.TryParse(s, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out value);
}
