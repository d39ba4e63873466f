namespace UsageDashboard.Insights;

/// <summary>
/// One plugin (name and type within a tool; for Meltano, name and variant) in the ranking. <c>Name</c> is
/// what people read (catalog-resolved), <c>Key</c> what <c>/plugins/{plugin}</c> takes.
/// </summary>
public sealed record PluginStats(string Tool, string Name, string Type, Outcomes Outcomes, long Installations, string? LatestVersion)
{
    public string Key { get; init; } = Name;
    /// <summary>Meltano's variant (from the catalog), else null.</summary>
    public string? Variant { get; init; }
}

/// <summary>Everything <c>/plugins</c> and <c>/api/insights/plugins</c> show.</summary>
public sealed record PluginsData(InsightQuery Query, DateOnly Today, IReadOnlyList<PluginStats> Plugins, IReadOnlyList<string> Tools);

/// <summary>One version of a plugin: its outcomes in the period and when it was first seen at all.</summary>
public sealed record PluginVersionStats(string Version, Outcomes Outcomes, long Installations, DateTime? FirstSeen);

/// <summary>One cell of the OS × version matrix.</summary>
public sealed record MatrixCell(string Os, string Version, Outcomes Outcomes);

/// <summary>Installations using each version in one bucket.</summary>
public sealed record AdoptionBucket(DateOnly Start, IReadOnlyDictionary<string, long> InstallationsByVersion);

/// <summary>Everything <c>/plugins/{plugin}</c> shows.</summary>
public sealed record PluginDetailData(
    InsightQuery Query,
    DateOnly Today,
    string Plugin,
    Grain Grain,
    Outcomes Current,
    long Installations,
    IReadOnlyList<string> PluginTools,
    IReadOnlyList<string> Types,
    IReadOnlyList<PluginVersionStats> Versions,
    IReadOnlyList<MatrixCell> Matrix,
    IReadOnlyList<ErrorTypeStats> Errors,
    IReadOnlyList<AdoptionBucket> Adoption,
    IReadOnlyList<string> Tools)
{
    /// <summary>What people read when <c>Plugin</c> (the URL key) is a digest: "private extractor · 3f2a9c".</summary>
    public string? DisplayName { get; init; }
}
