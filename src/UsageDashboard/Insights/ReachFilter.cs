using UsageDashboard.Rollups;

namespace UsageDashboard.Insights;

/// <summary>
/// The dimension filters of an <see cref="InsightQuery"/> (env, OS, tool version) as a test on in-memory
/// rollup rows: the same conditions <see cref="RunFilterSql.Dimensions"/> writes in SQL. The tool is
/// not here: segments are per tool, and the cache is asked for the tool's segments only.
/// </summary>
public readonly struct ReachFilter
{
    private readonly bool? _ci;
    private readonly int _os;
    private readonly int _version;

    private ReachFilter(bool? ci, int os, int version, bool none)
    {
        _ci = ci;
        _os = os;
        _version = version;
        None = none;
    }

    /// <summary>A filter value no row has (its text was never interned): nothing matches.</summary>
    public bool None { get; }

    /// <summary>No dimension filter: every row matches.</summary>
    public static ReachFilter All => new(null, -1, -1, false);

    public static ReachFilter For(InsightQuery query, StringCodes codes)
    {
        var os = query.Os is null ? -1 : codes.Find(query.Os);
        var version = query.Version is null ? -1 : codes.Find(query.Version);
        bool? ci = query.Environment switch
        {
            EnvironmentFilter.Ci => true,
            EnvironmentFilter.NotCi => false,
            _ => null,
        };
        // Find returns 0 only for NULL, which the query never asks for; -1 is "no such value".
        var none = (query.Os is not null && os <= 0) || (query.Version is not null && version <= 0);
        return new ReachFilter(ci, os, version, none);
    }

    /// <summary>
    /// The <see cref="ReachIndex"/> stream that answers this filter (0 = every row, 1 = CI only, 2 = outside CI),
    /// from an index built over <see cref="IndexRows"/>; null when nothing can match (then the walk answers, with nothing).
    /// </summary>
    public int? IndexStream => None ? null : _ci switch
    {
        null => 0,
        true => 1,
        false => 2,
    };

    /// <summary>Whether an OS filter is set (with a value some row has).</summary>
    public bool ByOs => _os >= 0;

    /// <summary>Whether a tool-version filter is set (with a value some row has).</summary>
    public bool ByVersion => _version >= 0;

    /// <summary>Whether an OS or tool-version filter narrows the rows an index must be built over (<see cref="KeepsRow"/>).</summary>
    public bool NarrowsRows => ByOs || ByVersion;

    /// <summary>
    /// Names the rows an index for this filter holds, as a suffix of the index's name: empty for every row, else the
    /// OS and version codes. An index over one OS's rows answers that OS exactly (an installation's gap is then
    /// the days since its last active day on that OS), where one over every row cannot: distinct counts do not add up.
    /// </summary>
    public string IndexRows => NarrowsRows ? $"|os={_os}|version={_version}" : "";

    /// <summary>The OS and tool-version part of <see cref="Matches"/> (the environment is the index's stream).</summary>
    public bool KeepsRow(int os, int toolVersion) => (_os < 0 || _os == os) && (_version < 0 || _version == toolVersion);

    /// <summary>An index's <paramref name="group"/> for the rows this filter keeps (<see cref="KeepsRow"/>), none (-1) for the others.</summary>
    public Func<T, long> Narrow<T>(Func<T, long> group) where T : IMonthRow
    {
        if (!NarrowsRows)
        {
            return group;
        }
        var filter = this;
        return r => filter.KeepsRow(r.OsName, r.ToolVersion) ? group(r) : -1;
    }

    public bool Matches(bool isCi, int os, int toolVersion) =>
        !None && (_ci is not { } ci || ci == isCi) && (_os < 0 || _os == os) && (_version < 0 || _version == toolVersion);
}

/// <summary>Masks of a month's days (bit 0 = the 1st) within a day range: what <c>rollup_day_mask</c> computes in SQL.</summary>
public static class MonthMask
{
    public static int For(DateOnly month, DateOnly from, DateOnly to)
    {
        var last = month.AddMonths(1).AddDays(-1);
        if (to < month || from > last)
        {
            return 0;
        }
        var firstBit = Math.Max(from.DayNumber - month.DayNumber, 0);
        var lastBit = (to < last ? to : last).DayNumber - month.DayNumber;
        return (int)((2L << lastBit) - (1L << firstBit));
    }
}
