using System.Globalization;
using System.Text.RegularExpressions;
using UsageDashboard.Store;

namespace UsageDashboard.Ingestion;

/// <summary>Vocabulary shared by the mappers: OS names, platform strings, error class names, timestamps.</summary>
public static partial class Canon
{
    /// <summary>linux, mac, windows, or the lower-cased name for anything else.</summary>
    public static string? OsName(string? name)
    {
        var n = name?.Trim().ToLowerInvariant();
        return n switch
        {
            null or "" => null,
            "darwin" or "macos" or "mac" or "osx" or "mac os x" or "macosx" => "mac",
            "win32" or "windows" or "win" or "cygwin" or "nt" => "windows",
            _ when n.StartsWith("linux", StringComparison.Ordinal) => "linux",
            _ => n,
        };
    }

    /// <summary>
    /// Python's <c>platform.platform()</c> ("Linux-6.8.0-1012-aws-x86_64-with-glibc2.39",
    /// "macOS-14.5-arm64-arm-64bit", "Windows-10-10.0.19045-SP0") as OS name and version.
    /// </summary>
    public static (string? Name, string? Version) Platform(string? platform)
    {
        if (string.IsNullOrWhiteSpace(platform))
        {
            return (null, null);
        }
        var parts = platform.Split('-', 3);
        return (OsName(parts[0]), parts.Length > 1 && parts[1].Length > 0 ? parts[1] : null);
    }

    /// <summary>
    /// An exception class name ("ValueError", "dbt.exceptions.DbtRuntimeError") is kept; anything else
    /// may be a message quoting user data, so only the fact that there was an error survives.
    /// </summary>
    public static string? ErrorType(string? value)
    {
        var v = value?.Trim();
        if (string.IsNullOrEmpty(v))
        {
            return null;
        }
        return v.Length <= 200 && ClassName().IsMatch(v) ? v : "error";
    }

    [GeneratedRegex(@"^[A-Za-z_][A-Za-z0-9_]*([.:][A-Za-z_][A-Za-z0-9_]*)*$")]
    private static partial Regex ClassName();

    /// <summary>RFC 3339 / ISO 8601 text as UTC; false for anything else (including dates outside 0001-9999).</summary>
    public static bool TryParseTimestamp(string? text, out DateTime utc)
    {
        utc = default;
        if (string.IsNullOrWhiteSpace(text) || text.Length > 64 || !char.IsAsciiDigit(text[0]))
        {
            return false;
        }
        // Firestore and Jetty send nanoseconds (.399191000Z); .NET parses at most 7 fraction digits.
        var trimmed = TrimFraction(text.Trim());
        if (DateTimeOffset.TryParse(trimmed, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal | DateTimeStyles.AdjustToUniversal, out var dto))
        {
            utc = dto.UtcDateTime;
            return true;
        }
        return false;
    }

    private static string TrimFraction(string text)
    {
        var dot = text.IndexOf('.', StringComparison.Ordinal);
        if (dot < 0)
        {
            return text;
        }
        var end = dot + 1;
        while (end < text.Length && char.IsAsciiDigit(text[end]))
        {
            end++;
        }
        return end - dot - 1 > 7 ? string.Concat(text.AsSpan(0, dot + 8), text.AsSpan(end)) : text;
    }

    /// <summary>Milliseconds since the Unix epoch (Snowplow dtm/stm/ttm) as UTC, when in range.</summary>
    public static DateTime? FromUnixMilliseconds(string? text)
    {
        if (long.TryParse(text, NumberStyles.Integer, CultureInfo.InvariantCulture, out var ms) && ms is >= 0 and < 253_402_300_799_000)
        {
            return DateTime.UnixEpoch.AddMilliseconds(ms);
        }
        return null;
    }

    /// <summary>Outcome words every source uses, mapped to <see cref="RunStatus"/>.</summary>
    public static string Status(string? value) => value?.Trim().ToLowerInvariant() switch
    {
        "inflight" or "initialized" => RunStatus.Unknown,
        var v => RunStatus.Normalize(v),
    };
}
