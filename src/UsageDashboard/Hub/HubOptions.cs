namespace UsageDashboard.Hub;

/// <summary>Settings of the public hub API and badges (section <c>Hub</c>).</summary>
public sealed class HubOptions
{
    /// <summary>
    /// k-anonymity: a version seen by fewer distinct installations is neither listed nor counted in its plugin's
    /// totals; a plugin whose published versions add up to fewer publishes no numbers, only <c>insufficient_data</c>.
    /// </summary>
    public int MinInstallations { get; set; } = 5;
    /// <summary>The period the published figures cover, in whole UTC days ending today (read from the plugin-day rollup).</summary>
    public TimeSpan Window { get; set; } = TimeSpan.FromDays(30);
    /// <summary>How long a computed snapshot of one tool is served before it is recomputed (in the background).</summary>
    public TimeSpan SnapshotTtl { get; set; } = TimeSpan.FromSeconds(60);
    /// <summary>Published figures leave CI runs out, as MeltanoHub's do.</summary>
    public bool ExcludeCi { get; set; } = true;
    /// <summary>max-age of every hub and badge response (shields.io caches endpoint badges 300 s at least).</summary>
    public int CacheSeconds { get; set; } = 300;
}
