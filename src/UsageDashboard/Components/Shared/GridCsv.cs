using System.Text;
using UsageDashboard.Insights;

namespace UsageDashboard.Components.Shared;

/// <summary>The rows a table shows, as RFC 4180 CSV with the same formula-injection guard as the CSV API.</summary>
public static class GridCsv
{
    public static string Build<T>(IReadOnlyList<GridColumn<T>> columns, IEnumerable<T> rows)
    {
        var sb = new StringBuilder();
        sb.AppendJoin(',', columns.Select(c => InsightsApi.CsvField(c.Title))).Append("\r\n");
        foreach (var row in rows)
        {
            sb.AppendJoin(',', columns.Select(c => InsightsApi.CsvField(c.Text(row)))).Append("\r\n");
        }
        return sb.ToString();
    }

    /// <summary>True when any column's text contains the search (case-insensitive); an empty search matches everything.</summary>
    public static bool Matches<T>(IReadOnlyList<GridColumn<T>> columns, T row, string? search) =>
        string.IsNullOrWhiteSpace(search) || columns.Any(c => c.Text(row).Contains(search.Trim(), StringComparison.OrdinalIgnoreCase));
}
