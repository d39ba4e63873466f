using System.Collections.Frozen;
using System.Security.Cryptography;
using System.Text;
using Microsoft.Extensions.Options;

namespace UsageDashboard.Catalog;

/// <summary>One row of a plugin catalog: a plugin variant as Meltano Hub lists it.</summary>
public sealed record CatalogEntry(string Category, string Name, string Variant, string Namespace, string PipUrl);

/// <summary>
/// Public plugin names, variants, namespaces and pip_urls: the Meltano Hub catalog embedded in the app
/// (Catalog/README.md says which export) plus any <see cref="PluginCatalogOptions.ExtraCatalogs"/>. Meltano sends
/// each of those as the SHA-256 hex digest of the UTF-8 string; hashing the catalog is what turns a
/// digest back into a name. A digest that matches nothing is a private plugin: it is shown as such inside
/// the dashboard and never published (<see cref="PluginNames"/>).
/// </summary>
public sealed class PluginCatalog
{
    public const string EmbeddedName = "UsageDashboard.Catalog.meltano-hub-plugins.csv";

    private readonly FrozenDictionary<string, string> _names;
    private readonly FrozenDictionary<string, string> _variants;
    private readonly FrozenDictionary<string, string> _namespaces;
    private readonly FrozenDictionary<string, string> _pipUrls;
    // (name digest, variant digest) → the digest of that variant's default pip_url.
    private readonly FrozenDictionary<(string Name, string Variant), string> _defaultPipUrls;
    private readonly FrozenSet<string> _clearNames;

    public PluginCatalog(IEnumerable<CatalogEntry> entries)
    {
        var list = entries.Where(e => e.Name.Length > 0).ToList();
        Entries = list;
        _clearNames = list.Select(e => e.Name).ToFrozenSet(StringComparer.Ordinal);
        _names = ByDigest(list.Select(e => e.Name));
        _variants = ByDigest(list.Select(e => e.Variant));
        _namespaces = ByDigest(list.Select(e => e.Namespace));
        _pipUrls = ByDigest(list.Select(e => e.PipUrl));
        var defaults = new Dictionary<(string, string), string>();
        foreach (var e in list.Where(e => e.Variant.Length > 0 && e.PipUrl.Length > 0))
        {
            // The first catalog to name a variant wins: the embedded hub catalog before extra ones.
            defaults.TryAdd((Sha256Hex(e.Name), Sha256Hex(e.Variant)), Sha256Hex(e.PipUrl));
        }
        _defaultPipUrls = defaults.ToFrozenDictionary();
    }

    /// <summary>Names only (a catalog without variants).</summary>
    public PluginCatalog(IEnumerable<string> names)
        : this(names.Select(n => new CatalogEntry("", n, "", "", "")))
    {
    }

    /// <summary>The embedded Meltano Hub catalog and every <see cref="PluginCatalogOptions.ExtraCatalogs"/> file (relative to the content root).</summary>
    public static PluginCatalog FromOptions(IOptions<PluginCatalogOptions> options, IHostEnvironment environment, ILogger<PluginCatalog> logger)
    {
        var entries = new List<CatalogEntry>(Embedded());
        foreach (var path in options.Value.ExtraCatalogs.Where(p => !string.IsNullOrWhiteSpace(p)))
        {
            var full = Path.IsPathRooted(path) ? path : Path.Combine(environment.ContentRootPath, path);
            if (!File.Exists(full))
            {
                logger.LogWarning("Plugins:ExtraCatalogs: {Path} does not exist; its plugins stay private.", full);
                continue;
            }
            entries.AddRange(ReadEntries(File.ReadAllText(full)));
        }
        return new PluginCatalog(entries);
    }

    /// <summary>The Meltano Hub catalog shipped in the app.</summary>
    public static IReadOnlyList<CatalogEntry> Embedded()
    {
        using var stream = typeof(PluginCatalog).Assembly.GetManifestResourceStream(EmbeddedName)
            ?? throw new InvalidOperationException($"embedded resource {EmbeddedName} is missing");
        using var reader = new StreamReader(stream, Encoding.UTF8);
        return ReadEntries(reader.ReadToEnd());
    }

    public IReadOnlyList<CatalogEntry> Entries { get; }

    public int Count => _clearNames.Count;

    /// <summary>True for a 64-character lowercase hex string: a value that arrived hashed.</summary>
    public static bool LooksHashed(string name) => name.Length == 64 && name.All(c => c is (>= '0' and <= '9') or (>= 'a' and <= 'f'));

    public static string Sha256Hex(string value) => Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(value)));

    /// <summary>A plugin name in clear text that the catalog lists.</summary>
    public bool Contains(string name) => _clearNames.Contains(name);

    /// <summary>The public name for a stored name: itself when in clear text, the catalog's name for a known digest, else null.</summary>
    public string? Resolve(string stored) => LooksHashed(stored) ? _names.GetValueOrDefault(stored) : stored;

    public string? Name(string digest) => _names.GetValueOrDefault(digest);
    public string? Variant(string digest) => _variants.GetValueOrDefault(digest);
    public string? Namespace(string digest) => _namespaces.GetValueOrDefault(digest);
    public string? PipUrl(string digest) => _pipUrls.GetValueOrDefault(digest);

    /// <summary>The digest of the hub's default pip_url of a (name, variant), both given as digests.</summary>
    public string? DefaultPipUrl(string nameDigest, string variantDigest) => _defaultPipUrls.GetValueOrDefault((nameDigest, variantDigest));

    private static FrozenDictionary<string, string> ByDigest(IEnumerable<string> values)
    {
        var map = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var v in values.Where(v => v.Length > 0))
        {
            map.TryAdd(Sha256Hex(v), v);
        }
        return map.ToFrozenDictionary(StringComparer.Ordinal);
    }

    /// <summary>The <c>name</c> column of an RFC 4180 CSV with a header row.</summary>
    public static IReadOnlyList<string> ReadNames(string csv) => ReadEntries(csv).Select(e => e.Name).Distinct(StringComparer.Ordinal).ToList();

    /// <summary>Rows of a catalog CSV (header row; columns found by name, only <c>name</c> required).</summary>
    public static IReadOnlyList<CatalogEntry> ReadEntries(string csv)
    {
        var rows = ParseCsv(csv).ToList();
        if (rows.Count == 0)
        {
            return [];
        }
        int Column(string name) => rows[0].FindIndex(h => string.Equals(h.Trim(), name, StringComparison.OrdinalIgnoreCase));
        var (category, name, variant, ns, pipUrl) = (Column("category"), Column("name"), Column("variant"), Column("namespace"), Column("pip_url"));
        if (name < 0)
        {
            return [];
        }
        string Cell(List<string> r, int i) => i >= 0 && i < r.Count ? r[i].Trim() : "";
        return rows.Skip(1)
            .Select(r => new CatalogEntry(Cell(r, category), Cell(r, name), Cell(r, variant), Cell(r, ns), Cell(r, pipUrl)))
            .Where(e => e.Name.Length > 0)
            .ToList();
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
