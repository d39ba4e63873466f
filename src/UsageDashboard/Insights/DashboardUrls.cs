using System.Globalization;
using System.Text;

namespace UsageDashboard.Insights;

/// <summary>
/// Builds every dashboard route and query string, so a link always reproduces the view it came from.
/// The inverse of <see cref="InsightQuery.Parse"/>: parsing what this builds gives the same query.
/// </summary>
public static class DashboardUrls
{
    public const string OverviewPath = "/";
    public const string OverviewApiPath = "/api/insights/overview";
    public const string CommandsApiPath = "/api/insights/commands";
    public const string InstallationsPath = "/installations";
    public const string CommandsPath = "/commands";
    public const string PluginsPath = "/plugins";
    public const string EnvironmentsPath = "/environments";
    public const string InstallationsApiPath = "/api/insights/installations";
    public const string PluginsApiPath = "/api/insights/plugins";
    public const string EnvironmentsApiPath = "/api/insights/environments";
    public const string FeaturesPath = "/features";
    public const string PropertiesApiPath = "/api/insights/properties";

    public static string Overview(InsightQuery query) => OverviewPath + QueryString(query);

    public static string OverviewApi(InsightQuery query, string? format = null) => OverviewApiPath + QueryString(query, ("format", format));

    public static string Installations(InsightQuery query, string? active = null) =>
        InstallationsPath + QueryString(query, ("active", ActiveToken(active)));

    public static string InstallationsApi(InsightQuery query, string? active = null, string? format = null) =>
        InstallationsApiPath + QueryString(query, ("active", ActiveToken(active)), ("format", format));

    public static string Commands(InsightQuery query) => CommandsPath + QueryString(query);

    public static string CommandsApi(InsightQuery query, string? format = null) => CommandsApiPath + QueryString(query, ("format", format));

    /// <summary>The path of one command's page, the name (untrusted telemetry text) escaped as one segment.</summary>
    public static string CommandPath(string command) => CommandsPath + "/" + Segment(command);

    public static string Command(InsightQuery query, string command) => CommandPath(command) + QueryString(query);

    public static string CommandApi(InsightQuery query, string command, string? format = null) =>
        CommandsApiPath + "/" + Segment(command) + QueryString(query, ("format", format));

    public static string Plugins(InsightQuery query) => PluginsPath + QueryString(query);

    public static string PluginsApi(InsightQuery query, string? format = null) => PluginsApiPath + QueryString(query, ("format", format));

    public static string PluginPath(string plugin) => PluginsPath + "/" + Segment(plugin);

    public static string Plugin(InsightQuery query, string plugin) => PluginPath(plugin) + QueryString(query);

    public static string PluginApi(InsightQuery query, string plugin, string? format = null) =>
        PluginsApiPath + "/" + Segment(plugin) + QueryString(query, ("format", format));

    public static string Environments(InsightQuery query) => EnvironmentsPath + QueryString(query);

    public static string EnvironmentsApi(InsightQuery query, string? format = null) => EnvironmentsApiPath + QueryString(query, ("format", format));

    public static string Features(InsightQuery query) => FeaturesPath + QueryString(query);

    public static string PropertiesApi(InsightQuery query, string key, string? format = null) =>
        PropertiesApiPath + QueryString(query, ("key", key), ("format", format));

    /// <summary>Whether a request to <paramref name="path"/> reads an <see cref="InsightQuery"/> from its query string (every page and insights API).</summary>
    public static bool TakesInsightQuery(PathString path) => !IsCompare(path) && (
        path == OverviewPath || path.StartsWithSegments(InstallationsPath) || path.StartsWithSegments(CommandsPath)
        || path.StartsWithSegments(PluginsPath) || path.StartsWithSegments(EnvironmentsPath) || path.StartsWithSegments("/api/insights")
        || path.StartsWithSegments(FeaturesPath));

    /// <summary>Plugin comparisons take two versions (or periods) as from/to, not an insight period.</summary>
    private static bool IsCompare(PathString path) => path.Value?.EndsWith("/compare", StringComparison.Ordinal) == true;

    /// <summary>
    /// Reads a name back from a route segment. The server decodes a path except '%2F' (so a '/' in a
    /// name cannot split the route); that one escape is undone here.
    /// </summary>
    public static string FromSegment(string segment) => segment.Replace("%2F", "/", StringComparison.OrdinalIgnoreCase);

    private static string Segment(string name) => Uri.EscapeDataString(name);

    private static string? ActiveToken(string? active) => active is null || active == ActiveRule.DefaultToken ? null : active;

    /// <summary>The query string of <paramref name="query"/> (leading '?', or empty), defaults left out.</summary>
    public static string QueryString(InsightQuery query, params (string Key, string? Value)[] extra)
    {
        var pairs = new List<(string, string)>();
        Add(pairs, "tool", query.Tool);
        if (query.Range is null)
        {
            Add(pairs, "from", query.From.ToString("yyyy-MM-dd", CultureInfo.InvariantCulture));
            Add(pairs, "to", query.To.ToString("yyyy-MM-dd", CultureInfo.InvariantCulture));
        }
        else if (query.Range != InsightQuery.DefaultRange)
        {
            Add(pairs, "range", query.Range);
        }
        if (query.Environment != EnvironmentFilter.All)
        {
            Add(pairs, "env", InsightQuery.EnvironmentToken(query.Environment));
        }
        Add(pairs, "os", query.Os);
        Add(pairs, "version", query.Version);
        Add(pairs, "runtime", query.Runtime);
        Add(pairs, "runtimeVersion", query.RuntimeVersion);
        Add(pairs, "environment", query.ToolEnvironment);
        if (query.ComparePrevious)
        {
            Add(pairs, "compare", "previous");
        }
        foreach (var (key, value) in extra)
        {
            Add(pairs, key, value);
        }
        if (pairs.Count == 0)
        {
            return "";
        }
        var sb = new StringBuilder("?");
        for (var i = 0; i < pairs.Count; i++)
        {
            if (i > 0)
            {
                sb.Append('&');
            }
            sb.Append(Uri.EscapeDataString(pairs[i].Item1)).Append('=').Append(Uri.EscapeDataString(pairs[i].Item2));
        }
        return sb.ToString();
    }

    private static void Add(List<(string, string)> pairs, string key, string? value)
    {
        if (!string.IsNullOrEmpty(value))
        {
            pairs.Add((key, value));
        }
    }
}
