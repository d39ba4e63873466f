using System.Globalization;

namespace UsageDashboard.Components.Shared;

/// <summary>
/// Sort keys for the formatted cells of the view models ("1,234", "45.2%", "850 ms", "1.2 s", "–"):
/// sorting their text would put "9" after "10,000".
/// </summary>
public static class SortKey
{
    /// <summary>The number a cell shows, scaled by its unit; cells without a number sort first.</summary>
    public static double Number(string? text)
    {
        if (string.IsNullOrWhiteSpace(text))
        {
            return double.NegativeInfinity;
        }
        var s = text.Trim().Replace(",", "", StringComparison.Ordinal).Replace('−', '-');
        var end = 0;
        while (end < s.Length && (char.IsDigit(s[end]) || s[end] is '.' or '-' or '+'))
        {
            end++;
        }
        if (!double.TryParse(s.AsSpan(0, end), NumberStyles.Float, CultureInfo.InvariantCulture, out var value))
        {
            return double.NegativeInfinity;
        }
        var unit = s[end..].Trim();
        return unit switch
        {
            _ when unit.StartsWith("ms", StringComparison.Ordinal) => value,
            _ when unit.StartsWith("min", StringComparison.Ordinal) => value * 60_000,
            _ when unit.StartsWith('s') => value * 1_000,
            _ when unit.StartsWith('h') => value * 3_600_000,
            _ => value,
        };
    }
}
