using System.Collections.Frozen;
using System.Net;
using System.Net.Sockets;
using System.Text;

namespace UsageDashboard.Ingestion;

/// <summary>
/// What the collector refuses to keep (docs/privacy.md): network addresses, user agents, credentials and
/// free text that may quote user data. Applied to extra properties and to quarantined payloads alike,
/// so the promise holds for every table.
/// </summary>
public static class Privacy
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
    }.ToFrozenSet(StringComparer.Ordinal);

    // Any key containing one of these is a credential whatever its prefix ("github_token", "x-api-key").
    private static readonly string[] s_credentialParts = ["token", "apikey", "password", "passwd", "secret", "authorization", "credential", "writekey", "privatekey", "sessionid"];

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
        return false;
    }

    /// <summary>A whole value that is an IPv4 or IPv6 address (with or without a port) is an address, whatever its key.</summary>
    public static bool LooksLikeIpAddress(string value)
    {
        var s = value.AsSpan().Trim();
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
