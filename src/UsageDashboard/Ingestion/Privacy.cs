using System.Collections.Frozen;
using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Text.RegularExpressions;

namespace UsageDashboard.Ingestion;

/// <summary>
/// What the collector refuses to keep (docs/privacy.md): network addresses, user agents, credentials,
/// identifiers, places (e-mail addresses, URLs, file paths, geolocation) and free text that may quote
/// user data. Applied to extra properties and to quarantined payloads alike, keys and values, at every
/// depth, so the promise holds for every table.
/// </summary>
public static partial class Privacy
{
    // Compared after lower-casing and removing '_', '-', '.', '$' and spaces, so "source_ip", "X-Forwarded-For"
    // and "$ip" all match.
    private static readonly FrozenSet<string> s_exactKeys = new[]
    {
        "ip", "ips", "sourceip", "clientip", "remoteip", "remoteaddr", "remoteaddress", "ipaddress", "ipaddr", "userip",
        "useripaddress", "xforwardedfor", "forwardedfor", "forwarded", "xrealip", "realip", "cfconnectingip", "trueclientip",
        "useragent", "ua", "httpuseragent", "cookie", "cookies", "setcookie", "hashedanonymousid", "mac", "macaddress",
        "fp", "fingerprint", "email", "mail", "emailaddress", "phone", "message", "msg", "errormessage", "exceptionmessage",
        "errormsg", "reason", "detail", "details", "description", "stacktrace", "stack", "traceback", "trace", "str", "repr",
        "strhash", "reprhash", "hostname", "host", "username", "login", "path", "cwd", "home", "url", "refr", "referrer",
        // Identifiers: the mapped event keeps the one it needs (hashed when personal); copies elsewhere are dropped.
        "userid", "uid", "duid", "nuid", "tnuid", "distinctid", "anonymousid", "installationid", "clientuuid", "clientid",
        "deviceid", "machineid", "personid", "groupid",
    }.ToFrozenSet(StringComparer.Ordinal);

    // Words of a key (split at '_', '-', '.', '$', spaces and camelCase humps) that name a place, an address or
    // a contact: "user_email", "pageUrl", "project_dir", "config_file", "source_ip", "geo_city", "country_code".
    private static readonly FrozenSet<string> s_personalWords = new[]
    {
        "email", "mail", "url", "uri", "href", "referer", "referrer", "refr", "path", "dir", "directory", "folder", "file", "cwd",
        "home", "ip", "ipv4", "ipv6", "addr", "address", "host", "hostname", "geo", "geoip", "geolocation", "geopoint", "lat",
        "latitude", "lon", "lng", "longitude", "coordinates", "coords", "city", "country", "location", "postal", "postcode", "zip",
        "zipcode", "street", "phone",
    }.ToFrozenSet(StringComparer.Ordinal);

    private static readonly FrozenSet<string> s_quantityWords = new[]
    {
        "count", "counts", "num", "number", "total", "length", "len", "size", "depth", "is", "has", "enabled", "disabled",
    }.ToFrozenSet(StringComparer.Ordinal);

    // The same things inside keys written without separators ("useremail", "baseurl", "filepath").
    private static readonly string[] s_personalParts = ["email", "referer", "referrer", "latitude", "longitude", "geoip", "geoloc", "geopoint", "hostname", "ipaddr", "ipv4", "ipv6", "filepath", "filename", "dirname", "directory", "homedir", "workdir", "url", "path"];

    // Any key containing one of these is a credential whatever its prefix ("github_token", "x-api-key").
    private static readonly string[] s_credentialParts = ["token", "apikey", "password", "passwd", "secret", "authorization", "credential", "writekey", "privatekey", "sessionid"];

    // One-way digests that name no place, kept although their words would match: Meltano's pip_url_hash
    // is the only fingerprint of what a plugin installed (docs/privacy.md); a clear pip_url is still dropped.
    private static readonly FrozenSet<string> s_keptDigestKeys = new[] { "pipurlhash" }.ToFrozenSet(StringComparer.Ordinal);

    /// <summary>True when a property of this name must never be stored.</summary>
    public static bool IsSensitiveKey(string key)
    {
        Span<char> buffer = stackalloc char[Math.Min(key.Length, 128)];
        var n = 0;
        foreach (var c in key)
        {
            if (c is '_' or '-' or '.' or '$' or ' ')
            {
                continue;
            }
            if (n == buffer.Length)
            {
                break;
            }
            buffer[n++] = char.ToLowerInvariant(c);
        }
        var normalized = buffer[..n];
        if (s_keptDigestKeys.GetAlternateLookup<ReadOnlySpan<char>>().Contains(normalized))
        {
            return false;
        }
        if (s_exactKeys.GetAlternateLookup<ReadOnlySpan<char>>().Contains(normalized))
        {
            return true;
        }
        foreach (var part in s_credentialParts)
        {
            if (normalized.Contains(part, StringComparison.Ordinal))
            {
                return true;
            }
        }
        // "path_count", "num_files", "has_email": a quantity or a flag about places, not a place.
        if (!AnyWord(key, s_quantityWords))
        {
            foreach (var part in s_personalParts)
            {
                if (normalized.Contains(part, StringComparison.Ordinal))
                {
                    return true;
                }
            }
            if (AnyWord(key, s_personalWords))
            {
                return true;
            }
        }
        // A key can be data too: {"alice@example.com": 3}, {"/home/alice/x.csv": "ok"}.
        return LooksPersonal(key);
    }

    /// <summary>
    /// Whether a lower-cased word of <paramref name="key"/> is in <paramref name="words"/>: words split at
    /// '_', '-', '.', '$', ' ', ':', '/' and camelCase humps, so "sourceIP_address" is source, ip, address.
    /// </summary>
    private static bool AnyWord(string key, FrozenSet<string> words)
    {
        var lookup = words.GetAlternateLookup<ReadOnlySpan<char>>();
        Span<char> buffer = stackalloc char[32];
        var start = 0;
        for (var i = 0; i <= key.Length; i++)
        {
            var boundary = i == key.Length || key[i] is '_' or '-' or '.' or '$' or ' ' or ':' or '/';
            var hump = !boundary && i > start && char.IsUpper(key[i])
                && (char.IsLower(key[i - 1]) || (i + 1 < key.Length && char.IsLower(key[i + 1]) && char.IsUpper(key[i - 1])));
            if (boundary || hump)
            {
                // No listed word is longer than the buffer, so longer words cannot match.
                if (i > start && i - start <= buffer.Length)
                {
                    var word = buffer[..(i - start)];
                    key.AsSpan(start, i - start).ToLowerInvariant(word);
                    if (lookup.Contains(word))
                    {
                        return true;
                    }
                }
                start = boundary ? i + 1 : i;
            }
        }
        return false;
    }

    private static readonly System.Buffers.SearchValues<char> s_personalMarkers = System.Buffers.SearchValues.Create("@:/\\~.");

    /// <summary>
    /// A value that is or contains personal data whatever its key: an e-mail address, a URL with a host, an
    /// absolute file path (/home/…, C:\…, ~/…, \\server\…), an IPv4 or IPv6 address, a latitude/longitude pair.
    /// Versions (1.2.3), plugin names (tap-postgres), dates, UUIDs and hashes are none of these.
    /// </summary>
    public static bool LooksPersonal(string value)
    {
        // Every pattern below needs one of these characters: digests, versions and names without them
        // (most values, and every Meltano digest) skip the regular expressions.
        if (value.Length < 3 || value.AsSpan().IndexOfAny(s_personalMarkers) < 0)
        {
            return false;
        }
        if (LooksLikeIpAddress(value) || Email().IsMatch(value) || UrlWithHost().IsMatch(value) || FilePath().IsMatch(value)
            || Ipv4Inside().IsMatch(value) || LatLon().IsMatch(value))
        {
            return true;
        }
        if (value.Contains(':', StringComparison.Ordinal))
        {
            // IPv6 inside text ("peer 2001:db8::1 refused"): try each word.
            var text = value.AsSpan();
            foreach (var range in text.SplitAny(" \t\n,;()\"'=<>"))
            {
                var word = text[range];
                if (word.Count(':') >= 2 && LooksLikeIpAddress(word))
                {
                    return true;
                }
            }
        }
        return false;
    }

    [GeneratedRegex(@"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}", RegexOptions.CultureInvariant)]
    private static partial Regex Email();

    [GeneratedRegex(@"\b[A-Za-z][A-Za-z0-9+.-]*://[^\s/?#]+", RegexOptions.CultureInvariant)]
    private static partial Regex UrlWithHost();

    // An absolute path of two segments or more, a home-relative path, a drive letter or a UNC share, at the
    // start of the value or after a separator (so "application/json" and "1/2" are not paths).
    [GeneratedRegex(@"(^|[\s""'=(,:])(/[^\s/]+/[^\s]*|~[\w.-]*[/\\]|[A-Za-z]:[\\/][^\s]|\\\\[\w.$-]+\\)", RegexOptions.CultureInvariant)]
    private static partial Regex FilePath();

    [GeneratedRegex(@"(?<![\d.])((25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)\.){3}(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(?![\d.])", RegexOptions.CultureInvariant)]
    private static partial Regex Ipv4Inside();

    [GeneratedRegex(@"^\s*[(\[]?\s*-?\d{1,2}\.\d{3,}\s*,\s*-?\d{1,3}\.\d{3,}\s*[)\]]?\s*$", RegexOptions.CultureInvariant)]
    private static partial Regex LatLon();

    /// <summary>A whole value that is an IPv4 or IPv6 address (with or without a port) is an address, whatever its key.</summary>
    public static bool LooksLikeIpAddress(string value) => LooksLikeIpAddress(value.AsSpan());

    private static bool LooksLikeIpAddress(ReadOnlySpan<char> value)
    {
        var s = value.Trim();
        if (s.Length is < 7 or > 64)
        {
            return false;
        }
        var dots = s.Count('.');
        var colons = s.Count(':');
        if (dots == 3 && colons <= 1)
        {
            var host = colons == 1 ? s[..s.IndexOf(':')] : s;
            Span<Range> parts = stackalloc Range[5];
            if (host.Split(parts, '.') != 4)
            {
                return false;
            }
            foreach (var part in parts[..4])
            {
                var octet = host[part];
                if (octet.Length is 0 or > 3 || !int.TryParse(octet, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var v) || v > 255)
                {
                    return false;
                }
            }
            return true;
        }
        if (colons >= 2)
        {
            var host = s.Trim('[').TrimEnd(']');
            var bracket = s.IndexOf("]:", StringComparison.Ordinal);
            if (bracket > 0)
            {
                host = s[1..bracket];
            }
            return IPAddress.TryParse(host, out var address) && address.AddressFamily == AddressFamily.InterNetworkV6;
        }
        return false;
    }

    /// <summary>
    /// Text safe for PostgreSQL and for display: no NUL (text and jsonb reject it), no lone surrogate
    /// (invalid UTF-8), at most <paramref name="maxLength"/> characters without splitting a pair.
    /// </summary>
    public static string Clean(string value, int maxLength)
    {
        if (value.Length <= maxLength && !NeedsCleaning(value))
        {
            return value;
        }
        var sb = new StringBuilder(Math.Min(value.Length, maxLength));
        for (var i = 0; i < value.Length && sb.Length < maxLength; i++)
        {
            var c = value[i];
            if (c == '\0')
            {
                continue;
            }
            if (char.IsHighSurrogate(c))
            {
                if (i + 1 < value.Length && char.IsLowSurrogate(value[i + 1]))
                {
                    if (sb.Length + 2 > maxLength)
                    {
                        break;
                    }
                    sb.Append(c).Append(value[++i]);
                }
                else
                {
                    sb.Append('\uFFFD');
                }
                continue;
            }
            sb.Append(char.IsLowSurrogate(c) ? '\uFFFD' : c);
        }
        return sb.ToString();
    }

    /// <summary><see cref="Clean"/> for optional fields: blank becomes null.</summary>
    public static string? CleanOptional(string? value, int maxLength)
    {
        if (value is null)
        {
            return null;
        }
        var trimmed = value.Trim();
        return trimmed.Length == 0 ? null : Clean(trimmed, maxLength);
    }

    private static bool NeedsCleaning(string value)
    {
        foreach (var c in value)
        {
            if (c == '\0' || char.IsSurrogate(c))
            {
                return true;
            }
        }
        return false;
    }
}
