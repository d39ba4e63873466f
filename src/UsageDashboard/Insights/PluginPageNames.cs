using System.Collections.Concurrent;
using UsageDashboard.Catalog;
using UsageDashboard.Rollups;

namespace UsageDashboard.Insights;

/// <summary>
/// The stored plugin names one <c>/plugins/{plugin}</c> page stands for, tested on in-memory rollup rows: the rows
/// <c>PluginsService</c>'s SQL selects with its name match. A page key is itself; a public Meltano name also stands
/// for its digest alone and every "digest.variant digest" (its variants). Meltano's digests are grouped into
/// families (one per public name) so a reach index can count a plugin's installations over all its variants at
/// once: summing per variant would count an installation that uses two variants twice.
/// </summary>
public sealed class PluginPageNames(string plugin, string? digest, StringCodes codes)
{
    // Per code: 0 not yet known, 1 a member, 2 not (an array: the page tests every plugin-day row of the tool).
    private byte[] _members = new byte[256];

    /// <summary>The name digest of a public Meltano name's page, else null (the page is its one stored name).</summary>
    public string? Digest => digest;

    /// <summary>The page key.</summary>
    public string Plugin => plugin;

    /// <summary>Whether the stored name with this code is one the page stands for.</summary>
    public bool Contains(int code)
    {
        if (code <= 0)
        {
            return false;
        }
        var members = _members;
        if (code >= members.Length)
        {
            Array.Resize(ref members, Math.Max(code + 1, members.Length * 2));
            _members = members;
        }
        if (members[code] == 0)
        {
            members[code] = Matches(codes.Text(code)!) ? (byte)1 : (byte)2;
        }
        return members[code] == 1;
    }

    private bool Matches(string name) =>
        name == plugin || (digest is not null && name.StartsWith(digest, StringComparison.Ordinal) && (name.Length == digest.Length || name[digest.Length] == '.'));

    /// <summary>
    /// The family code of <see cref="Digest"/> (the group a family reach index counts it under), or -1 when no row
    /// has it: call after the index is built, which adds the code.
    /// </summary>
    public int FamilyCode => digest is null ? -1 : codes.Find(digest);

    /// <summary>Whether a stored name starts with a SHA-256 digest (Meltano's): its versions are keyed by name too.</summary>
    public static bool HasDigestPrefix(string name) => name.Length >= 64 && PluginCatalog.LooksHashed(name[..64]);

    /// <summary>A version's key on the page: for Meltano's stored names "stored-name version", so variants stay apart.</summary>
    public static string VersionKey(string name, string version) => HasDigestPrefix(name) ? name + " " + version : version;

    /// <summary>
    /// The family of each stored name code, for the family reach indexes: the code of the name digest for a digest
    /// or "digest.anything", the code of the digest of a clear name the catalog lists (its page matches it too);
    /// -1 (left out) for every other name. Memoised per code: codes never change their text.
    /// </summary>
    public static Func<int, long> Families(StringCodes codes, PluginCatalog catalog)
    {
        var families = new ConcurrentDictionary<int, long>();
        return code => code <= 0 ? -1 : families.GetOrAdd(code, c =>
        {
            var name = codes.Text(c)!;
            if (HasDigestPrefix(name) && (name.Length == 64 || name[64] == '.'))
            {
                return codes.Code(name[..64]);
            }
            return !PluginCatalog.LooksHashed(name) && catalog.Contains(name) ? codes.Code(PluginCatalog.Sha256Hex(name)) : -1;
        });
    }
}
