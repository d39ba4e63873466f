
namespace UsageDashboard.Rollups;

public sealed class RollupCacheOptions
{
    /// <summary>How often each app instance brings its in-memory rollup rows up to date in the background.</summary>
    public TimeSpan SyncEvery { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>Months kept warm (a 12-month view spans 13); older months load when a page asks for them.</summary>
    public int WarmMonths { get; set; } = 13;

    /// <summary>
    /// A changed segment is reloaded at most this often. Under continuous ingest the current month changes
    /// at every refresh; with the 10 s refresh and the 5 s sync a new event still shows within about 40 s.
    /// </summary>
    public TimeSpan MaxStaleness { get; set; } = TimeSpan.FromSeconds(20);

    /// <summary>
    /// A reach index (exact distinct counts for one grouping, tool and span of months) is kept, and rebuilt in
    /// the background when its rows change, while pages have read it within this long; then it is dropped.
    /// </summary>
    public TimeSpan KeepIndexesFor { get; set; } = TimeSpan.FromMinutes(10);
}
