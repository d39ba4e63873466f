using System.Text.RegularExpressions;

namespace UsageDashboard.Catalog;

/// <summary>How a stored plugin reads: its public name and variant, or that it is private.</summary>
public sealed record PluginName(string Stored, string? Name, string? Variant, string Display, string? HubKey)
{
    /// <summary>True when the name arrived as a digest that no catalog knows.</summary>
    public bool IsPrivate => Name is null;

    /// <summary>The <c>/plugins/{plugin}</c> key: the public name (variants side by side), or the stored digest.</summary>
    public string PageKey => Name ?? Stored;
}

/// <summary>
/// The one place stored plugin names and versions become words, at read time, for every surface (pages,
/// CSV and JSON APIs, flag titles and reasons, webhooks, hub API, badges). Meltano plugins are stored as
/// sent (Ingestion/SnowplowMapper): the name digest, a dot and the variant digest as the name, the pip_url
/// digest as the version; so a catalog update re-resolves all history. A digest that resolves to nothing
/// is a private plugin (<c>private extractor · 3f2a9c</c>) and its <see cref="PluginName.HubKey"/> is null.
/// </summary>
public sealed partial class PluginNames(PluginCatalog catalog)
{
    public const string DefaultPipUrl = "default pip_url";

    public PluginCatalog Catalog => catalog;

    /// <summary>The stored name of a Meltano plugin: name digest, '.', variant digest (or the name digest alone).</summary>
    public static string StoredName(string nameDigest, string? variantDigest) =>
        variantDigest is { Length: > 0 } ? nameDigest + "." + variantDigest : nameDigest;

    /// <summary>Splits a stored name into its digests, or returns false for a name that arrived in clear text.</summary>
    public static bool TrySplit(string stored, out string nameDigest, out string? variantDigest)
    {
        nameDigest = stored;
        variantDigest = null;
        if (PluginCatalog.LooksHashed(stored))
        {
            return true;
        }
        if (stored.Length == 129 && stored[64] == '.' && PluginCatalog.LooksHashed(stored[..64]) && PluginCatalog.LooksHashed(stored[65..]))
        {
            nameDigest = stored[..64];
            variantDigest = stored[65..];
            return true;
        }
        return false;
    }

    public PluginName Resolve(string stored, string? type = null)
    {
        if (!TrySplit(stored, out var nameDigest, out var variantDigest))
        {
            return new PluginName(stored, stored, null, stored, stored);
        }
        var name = catalog.Name(nameDigest);
        if (name is null)
        {
            return new PluginName(stored, null, null, $"private {Singular(type)} · {nameDigest[..6]}", null);
        }
        if (variantDigest is null)
        {
            return new PluginName(stored, name, null, name, name);
        }
        var variant = catalog.Variant(variantDigest);
        // A public name with a variant nobody published (a fork) is shown, never published.
        return variant is null
            ? new PluginName(stored, name, null, $"{name} (private variant · {variantDigest[..6]})", null)
            : new PluginName(stored, name, variant, $"{name} ({variant})", name + "--" + variant);
    }

    /// <summary>"default pip_url" or "custom pip_url · ab12cd" for a pip_url digest; any other version as it is.</summary>
    public string VersionLabel(string stored, string version)
    {
        if (!PluginCatalog.LooksHashed(version))
        {
            return version;
        }
        return IsDefaultPipUrl(stored, version) ? DefaultPipUrl : $"custom pip_url · {version[..6]}";
    }

    /// <summary>The version a hub may publish: a clear version, "default pip_url", or null for a custom pip_url.</summary>
    public string? PublicVersion(string stored, string version) =>
        !PluginCatalog.LooksHashed(version) ? version : IsDefaultPipUrl(stored, version) ? DefaultPipUrl : null;

    private bool IsDefaultPipUrl(string stored, string pipUrlDigest) =>
        TrySplit(stored, out var n, out var v) && v is not null && catalog.DefaultPipUrl(n, v) == pipUrlDigest;

    /// <summary>"tap-github (meltanolabs, default pip_url)": a plugin and its version in one phrase.</summary>
    public string Label(string stored, string version, string? type = null)
    {
        var name = Resolve(stored, type);
        if (version.Length == 0)
        {
            return name.Display;
        }
        var label = VersionLabel(stored, version);
        if (!ReferenceEquals(label, version) || PluginCatalog.LooksHashed(version))
        {
            // Meltano: the variant and the pip_url label side by side inside the brackets.
            return name.Variant is not null ? $"{name.Name} ({name.Variant}, {label})" : $"{name.Display} ({label})";
        }
        return $"{name.Display} {version}";
    }

    /// <summary>
    /// Free text written with stored names (flag reasons, titles): every "stored-name version" phrase and
    /// every stray digest becomes its label, so text stored before a catalog update reads right after it.
    /// </summary>
    public string Text(string text)
    {
        if (text.Length < 64)
        {
            return text;
        }
        return StoredPhrase().Replace(text, m =>
        {
            var stored = m.Groups["name"].Value + (m.Groups["variant"].Success ? "." + m.Groups["variant"].Value : "");
            return m.Groups["version"].Success ? Label(stored, m.Groups["version"].Value) : Resolve(stored).Display;
        });
    }

    private static string Singular(string? type) => type switch
    {
        "extractors" => "extractor",
        "loaders" => "loader",
        "transformers" => "transformer",
        "utilities" => "utility",
        "orchestrators" => "orchestrator",
        "mappers" => "mapper",
        "files" => "file bundle",
        null or "" => "plugin",
        _ => type.TrimEnd('s'),
    };

    [GeneratedRegex(@"\b(?<name>[0-9a-f]{64})(?:\.(?<variant>[0-9a-f]{64}))?(?: (?<version>[0-9a-f]{64}))?\b", RegexOptions.CultureInvariant)]
    private static partial Regex StoredPhrase();
}
