namespace UsageDashboard.Insights;

/// <summary>
/// Orders version strings the way people read them: numeric parts as numbers ("1.10" after "1.9"),
/// anything else ordinally. Telemetry versions are free text, so this never throws.
/// </summary>
public sealed class VersionOrder : IComparer<string>
{
    public static readonly VersionOrder Instance = new();

    public int Compare(string? x, string? y)
    {
        if (ReferenceEquals(x, y))
        {
            return 0;
        }
        if (x is null)
        {
            return -1;
        }
        if (y is null)
        {
            return 1;
        }
        var a = Split(x);
        var b = Split(y);
        for (var i = 0; i < Math.Min(a.Length, b.Length); i++)
        {
            var ai = a[i];
            var bi = b[i];
            var aNum = long.TryParse(ai, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var an);
            var bNum = long.TryParse(bi, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var bn);
            var c = aNum && bNum ? an.CompareTo(bn) : aNum ? 1 : bNum ? -1 : string.CompareOrdinal(ai, bi);
            if (c != 0)
            {
                return c;
            }
        }
        // "1.2" < "1.2.1"; but a pre-release suffix ("1.2.0-rc1") sorts before its release ("1.2.0").
        if (a.Length != b.Length)
        {
            var longer = a.Length > b.Length ? a : b;
            var extraIsNumeric = long.TryParse(longer[Math.Min(a.Length, b.Length)], System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out _);
            var sign = a.Length > b.Length ? 1 : -1;
            return extraIsNumeric ? sign : -sign;
        }
        return string.CompareOrdinal(x, y);
    }

    private static string[] Split(string v) => v.TrimStart('v', 'V').Split(['.', '-', '+', '_'], StringSplitOptions.RemoveEmptyEntries);

    /// <summary>The highest of <paramref name="versions"/> ignoring blanks, or null.</summary>
    public static string? Latest(IEnumerable<string> versions) =>
        versions.Where(v => !string.IsNullOrWhiteSpace(v)).OrderDescending(Instance).FirstOrDefault();
}
