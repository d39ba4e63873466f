using System.Security.Cryptography;
using System.Text;
using Microsoft.Extensions.Options;

namespace UsageDashboard.Hub;

/// <summary>
/// Public plugin names from <see cref="HubOptions.PluginCatalogPath"/>. Meltano sends plugin names as
/// the SHA-256 hex digest of the UTF-8 name; hashing the public catalog is what turns a digest back
/// into a name. A digest that matches nothing is a private plugin and is never published. With no
/// catalog file, nothing hashed is published.
/// </summary>
public sealed class PluginCatalog
{
    private readonly Dictionary<string, string> _byHash;
    private readonly HashSet<string> _names;

    /// <summary>The catalog configured in <see cref="HubOptions.PluginCatalogPath"/> (relative to the content root).</summary>
    public static PluginCatalog FromOptions(IOptions<HubOptions> options, IHostEnvironment environment, ILogger<PluginCatalog> logger) =>
        new(Load(options.Value.PluginCatalogPath, environment.ContentRootPath, logger));

    public PluginCatalog(IEnumerable<string> names)
    {
        _names = new HashSet<string>(names.Where(n => n.Length > 0), StringComparer.Ordinal);
        _byHash = _names.ToDictionary(Sha256Hex, n => n, StringComparer.Ordinal);
    }

    public int Count => _names.Count;

    /// <summary>True for a 64-character lowercase hex string: a name that arrived hashed.</summary>
    public static bool LooksHashed(string name) => name.Length == 64 && name.All(c => c is (>= '0' and <= '9') or (>= 'a' and <= 'f'));

    public static string Sha256Hex(string value) => Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(value)));

    public bool Contains(string name) => _names.Contains(name);

    /// <summary>The public name for a stored name: itself when in clear text, the catalog's name for a known digest, else null.</summary>
    public string? Resolve(string stored) => LooksHashed(stored) ? _byHash.GetValueOrDefault(stored) : stored;

    /// <summary>Digest → name pairs, for resolving in SQL.</summary>
    public (string[] Hashes, string[] Names) Pairs() => (_byHash.Keys.ToArray(), _byHash.Values.ToArray());

    private static IEnumerable<string> Load(string? path, string contentRoot, ILogger logger)
    {
        if (string.IsNullOrWhiteSpace(path))
        {
            return [];
        }
        var full = Path.IsPathRooted(path) ? path : Path.Combine(contentRoot, path);
        if (!File.Exists(full))
        {
            logger.LogWarning("Hub:PluginCatalogPath {Path} does not exist: hashed plugin names will not be published.", full);
            return [];
        }
        return ReadNames(File.ReadAllText(full));
    }

    /// <summary>The <c>name</c> column of an RFC 4180 CSV with a header row.</summary>
    public static IReadOnlyList<string> ReadNames(string csv)
    {
        var rows = ParseCsv(csv).ToList();
        if (rows.Count == 0)
        {
            return [];
        }
        var column = rows[0].FindIndex(h => string.Equals(h.Trim(), "name", StringComparison.OrdinalIgnoreCase));
        if (column < 0)
        {
            return [];
        }
        return rows.Skip(1).Where(r => r.Count > column).Select(r => r[column].Trim()).Where(n => n.Length > 0).Distinct(StringComparer.Ordinal).ToList();
    }

    private static IEnumerable<List<string>> ParseCsv(string text)
    {
        var row = new List<string>();
        var field = new StringBuilder();
        var quoted = false;
        for (var i = 0; i < text.Length; i++)
        {
            var c = text[i];
            if (quoted)
            {
                if (c == '"' && i + 1 < text.Length && text[i + 1] == '"')
                {
                    field.Append('"');
                    i++;
                }
                else if (c == '"')
                {
                    quoted = false;
                }
                else
                {
                    field.Append(c);
                }
            }
            else if (c == '"')
            {
                quoted = true;
            }
            else if (c == ',')
            {
                row.Add(field.ToString());
                field.Clear();
            }
            else if (c is '\n' or '\r')
            {
                if (c == '\r' && i + 1 < text.Length && text[i + 1] == '\n')
                {
                    i++;
                }
                row.Add(field.ToString());
                field.Clear();
                yield return row;
                row = [];
            }
            else
            {
                field.Append(c);
            }
        }
        if (field.Length > 0 || row.Count > 0)
        {
            row.Add(field.ToString());
            yield return row;
        }
    }
}
