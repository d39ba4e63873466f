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

    public static string Overview(InsightQuery query) => OverviewPath + QueryString(query);

    public static string OverviewApi(InsightQuery query, string? format = null) => OverviewApiPath + QueryString(query, ("format", format));

    public static string CommandsApi(InsightQuery query, string? format = null) => CommandsApiPath + QueryString(query, ("format", format));

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
