using System.Security.Cryptography;
using System.Text;

namespace UsageDashboard.Ingestion;

/// <summary>
/// Turns identifiers that may name a person into keyed hashes (HMAC-SHA256 with the server's secret, see
/// <see cref="IdentifierKeys"/>): the same raw id always gives the same stored value, so installations and
/// runs derive as before, but nobody without the key can test a guess ("alice@example.com") against it.
/// docs/privacy.md lists which field gets which treatment.
/// </summary>
public sealed class IdentifierHasher
{
    /// <summary>Marks a stored value as a keyed hash, so a reader never mistakes it for an id a tool sent.</summary>
    public const string Prefix = "h:";

    private readonly byte[] _key;

    public IdentifierHasher(byte[] key)
    {
        if (key.Length == 0)
        {
            throw new ArgumentException("the identifier key is empty", nameof(key));
        }
        _key = key;
    }

    /// <summary>
    /// For ids chosen by the sender that may be personal (a user id, PostHog's distinct_id, Snowplow's
    /// uid/duid/nuid): always the keyed hash of the trimmed text.
    /// </summary>
    public string Personal(string raw)
    {
        var text = raw.Trim();
        var bytes = Encoding.UTF8.GetBytes(text);
        Span<byte> mac = stackalloc byte[32];
        HMACSHA256.HashData(_key, bytes, mac);
        // 128 bits: collisions among even billions of ids are out of reach, and the column stays short.
        return Prefix + Convert.ToHexStringLower(mac[..16]);
    }

    /// <summary>
    /// For installation ids: a random UUID (version 4 or 7), which is what every seeded tool generates for
    /// this purpose, is kept as sent; anything else (a host name, an e-mail, a name-based UUID v3/v5 that a
    /// dictionary reverses, a v1/v6 UUID that embeds a MAC address) is hashed as <see cref="Personal"/>.
    /// </summary>
    public string Installation(string raw) => IsRandomUuid(raw) ? raw.Trim() : Personal(raw);

    public static bool IsRandomUuid(string value)
    {
        var s = value.AsSpan().Trim();
        if (s.Length != 36 || !Guid.TryParseExact(s, "D", out _))
        {
            return false;
        }
        // "xxxxxxxx-xxxx-Vxxx-Nxxx-...": V is the version, N's top bits the RFC 4122/9562 variant (10xx).
        var version = s[14];
        var variant = char.ToLowerInvariant(s[19]);
        return version is '4' or '7' && variant is '8' or '9' or 'a' or 'b';
    }
}
