using System.Globalization;

namespace UsageDashboard.Insights;

/// <summary>Number formatting for people: invariant culture, thin and consistent.</summary>
public static class Format
{
    private static readonly CultureInfo s_inv = CultureInfo.InvariantCulture;

    public static string Count(long value) => value.ToString("#,0", s_inv);

    public static string Percent(double? value, int decimals = 1) =>
        value is null ? "–" : (value.Value * 100).ToString("F" + decimals.ToString(s_inv), s_inv) + "%";

    public static string Interval((double Low, double High)? interval) =>
        interval is null ? "" : $"{Percent(interval.Value.Low)}–{Percent(interval.Value.High)}";

    /// <summary>A duration for people: "850 ms", "12.3 s", "4.2 min", "1.5 h"; "–" when unknown.</summary>
    public static string Duration(double? ms) => ms switch
    {
        null => "–",
        < 1000 => Math.Round(ms.Value).ToString("0", s_inv) + " ms",
        < 60_000 => (ms.Value / 1000).ToString("0.0", s_inv) + " s",
        < 3_600_000 => (ms.Value / 60_000).ToString("0.0", s_inv) + " min",
        _ => (ms.Value / 3_600_000).ToString("0.0", s_inv) + " h",
    };

    public static string DateTime(DateTime value) => value.ToString("yyyy-MM-dd HH:mm", s_inv) + " UTC";

    public static string Date(DateOnly date) => date.ToString("yyyy-MM-dd", s_inv);

    /// <summary>Relative change as "+12.3%" / "−4.0%", or null when the previous value was zero.</summary>
    public static string? Change(double current, double previous)
    {
        if (previous == 0)
        {
            return null;
        }
        var change = (current - previous) / previous;
        var sign = change > 0 ? "+" : change < 0 ? "−" : "±";
        return sign + Math.Abs(change * 100).ToString("F1", s_inv) + "%";
    }

    /// <summary>Change of a rate in percentage points, e.g. "+1.2 pp".</summary>
    public static string? PointChange(double? current, double? previous)
    {
        if (current is null || previous is null)
        {
            return null;
        }
        var delta = (current.Value - previous.Value) * 100;
        var sign = delta > 0 ? "+" : delta < 0 ? "−" : "±";
        return sign + Math.Abs(delta).ToString("F1", s_inv) + " pp";
    }
}
