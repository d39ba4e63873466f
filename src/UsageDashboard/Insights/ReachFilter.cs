using UsageDashboard.Rollups;

namespace UsageDashboard.Insights;

/// <summary>
/// The dimension filters of an <see cref="InsightQuery"/> (env, OS, tool version; runtime, runtime version and
/// build environment) as a test on in-memory rollup rows: the same conditions <see cref="RunFilterSql.Dimensions"/>
/// writes in SQL. The tool is not here: segments are per tool, and the cache is asked for the tool's segments only.
/// Runtime, runtime version and build environment (the platform) are columns of every rollup; Jetty's dev builds are
/// left out of installation-month rows only (active installations), where the view leaves them out.
/// </summary>
public readonly struct ReachFilter
{
    private readonly bool? _ci;
    private readonly int _os;
    private readonly int _version;
    private readonly Platform? _platform;

    private ReachFilter(bool? ci, int os, int version, bool none, Platform? platform)
    {
        _ci = ci;
        _os = os;
        _version = version;
        None = none;
        _platform = platform;
    }

    /// <summary>A filter value no row has (its text was never interned): nothing matches.</summary>
    public bool None { get; }

    /// <summary>No dimension filter: every row matches.</summary>
    public static ReachFilter All => new(null, -1, -1, false, null);

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
        var platform = query.HasPlatformFilter || query.ExcludesDevBuilds ? new Platform(query, codes) : null;
        return new ReachFilter(ci, os, version, none, platform);
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

    /// <summary>Whether a runtime, runtime version or build environment filter is set (sums over run-day rows must keep those columns).</summary>
    public bool ByPlatform => _platform is { Filters: true };

    /// <summary>Whether a filter narrows the rows an index must be built over (<see cref="KeepsRow(int, int)"/>; the platform for installation rows).</summary>
    public bool NarrowsRows => ByOs || ByVersion || _platform is not null;

    /// <summary>
    /// Names the rows an index for this filter holds, as a suffix of the index's name: empty for every row, else the
    /// OS and version codes (and the platform). An index over one OS's rows answers that OS exactly (an installation's gap is then
    /// the days since its last active day on that OS), where one over every row cannot: distinct counts do not add up.
    /// </summary>
    public string IndexRows => NarrowsRows ? $"|os={_os}|version={_version}{_platform?.Name}" : "";

    /// <summary>The OS and tool-version part of <see cref="Matches(bool, int, int)"/> (the environment is the index's stream).</summary>
    public bool KeepsRow(int os, int toolVersion) => (_os < 0 || _os == os) && (_version < 0 || _version == toolVersion);

    /// <summary><see cref="KeepsRow(int, int)"/> for a month row, its platform included (and Jetty's dev builds, for installation rows).</summary>
    public bool KeepsRow<T>(in T row) where T : IMonthRow =>
        KeepsRow(row.OsName, row.ToolVersion) && KeepsPlatform(row);

    /// <summary>An index's <paramref name="group"/> for the rows this filter keeps (<see cref="KeepsRow(int, int)"/>), none (-1) for the others.</summary>
    public Func<T, long> Narrow<T>(Func<T, long> group) where T : IMonthRow
    {
        if (!NarrowsRows)
        {
            return group;
        }
        var filter = this;
        return r => filter.KeepsRow(r) ? group(r) : -1;
    }

    public bool Matches(bool isCi, int os, int toolVersion) =>
        !None && (_ci is not { } ci || ci == isCi) && (_os < 0 || _os == os) && (_version < 0 || _version == toolVersion);

    /// <summary>
    /// Whether a month row matches, its runtime, runtime version and build environment included, and for installation
    /// rows without Jetty's dev builds where the view leaves them out (<see cref="InsightQuery.ExcludesDevBuilds"/>).
    /// </summary>
    public bool Matches<T>(in T row) where T : struct, IMonthRow => Matches(row.IsCi, row.OsName, row.ToolVersion) && KeepsPlatform(row);

    /// <summary>Whether a run-day row matches, its runtime, runtime version and build environment included.</summary>
    public bool Matches(in RunDayRow row) => Matches(row.IsCi, row.OsName, row.ToolVersion) && RunsOn(row.RuntimeName, row.RuntimeVersion, row.Environment);

    /// <inheritdoc cref="Matches(in RunDayRow)"/>
    public bool Matches(in CommandDayRow row) => Matches(row.IsCi, row.OsName, row.ToolVersion) && RunsOn(row.RuntimeName, row.RuntimeVersion, row.Environment);

    /// <inheritdoc cref="Matches(in RunDayRow)"/>
    public bool Matches(in PluginDayRow row) => Matches(row.IsCi, row.OsName, row.ToolVersion) && RunsOn(row.RuntimeName, row.RuntimeVersion, row.Environment);

    /// <inheritdoc cref="Matches(in RunDayRow)"/>
    public bool Matches(in ErrorDayRow row) => Matches(row.IsCi, row.OsName, row.ToolVersion) && RunsOn(row.RuntimeName, row.RuntimeVersion, row.Environment);

    /// <inheritdoc cref="Matches(in RunDayRow)"/>
    public bool Matches(in CommandDurationRow row) =>
        Matches(row.IsCi, row.OsName, row.ToolVersion) && RunsOn(row.RuntimeName, row.RuntimeVersion, row.Environment);

    private bool RunsOn(int runtime, int runtimeVersion, int environment) => _platform is null || _platform.Runs(runtime, runtimeVersion, environment);

    /// <summary>The platform test of a month row; the type test is resolved when the method is compiled for <typeparamref name="T"/>.</summary>
    private bool KeepsPlatform<T>(in T row) where T : IMonthRow =>
        _platform is null || (typeof(T) == typeof(InstallationMonthRow)
            ? _platform.Installation(row.RuntimeName, row.RuntimeVersion, row.Environment)
            : _platform.Runs(row.RuntimeName, row.RuntimeVersion, row.Environment));

    /// <summary>
    /// The platform part of a filter. Values are compared by text, memoized per code: a filter may be made before the
    /// rows it tests are loaded (their codes do not exist yet), and a runtime version matches by prefix.
    /// </summary>
    private sealed class Platform
    {
        private readonly CodeTest? _runtime;
        private readonly CodeTest? _runtimeVersion;
        private readonly CodeTest? _environment;
        private readonly CodeTest? _excluded;

        public Platform(InsightQuery query, StringCodes codes)
        {
            _runtime = query.Runtime is { } runtime ? new CodeTest(codes, t => t == runtime) : null;
            _runtimeVersion = query.RuntimeVersion is { } version ? new CodeTest(codes, t => InsightQuery.RuntimeVersionMatches(t, version)) : null;
            _environment = query.ToolEnvironmentFilter is { } environment ? new CodeTest(codes, t => t == environment) : null;
            // On the all-tools view the cache leaves Jetty's dev rows out of its segments instead
            // (RollupCache.InstallationMonthsOfViewAsync): another tool's "dev" environment counts.
            _excluded = query.ExcludesDevBuilds && query.Tool == InsightQuery.DevBuildTool ? new CodeTest(codes, t => t == InsightQuery.DevBuild) : null;
            Filters = query.HasPlatformFilter;
            Name = $"|runtime={query.Runtime}|runtimeVersion={query.RuntimeVersion}|environment={query.ToolEnvironmentFilter}|devBuilds={!query.ExcludesDevBuilds}";
        }

        public bool Filters { get; }

        public string Name { get; }

        public bool Runs(int runtime, int runtimeVersion, int environment) =>
            (_runtime is null || _runtime.Holds(runtime)) && (_runtimeVersion is null || _runtimeVersion.Holds(runtimeVersion))
            && (_environment is null || _environment.Holds(environment));

        public bool Installation(int runtime, int runtimeVersion, int environment) =>
            Runs(runtime, runtimeVersion, environment) && (_excluded is null || !_excluded.Holds(environment));
    }

    /// <summary>A test on the text of a <see cref="StringCodes"/> code (NULL never passes), memoized per code.</summary>
    private sealed class CodeTest(StringCodes codes, Func<string, bool> test)
    {
        // Per code: 0 not yet known, 1 passes, 2 does not. A race only computes an answer twice.
        private byte[] _answers = new byte[64];

        public bool Holds(int code)
        {
            if (code <= 0)
            {
                return false;
            }
            var answers = _answers;
            if (code >= answers.Length)
            {
                Array.Resize(ref answers, Math.Max(code + 1, answers.Length * 2));
                _answers = answers;
            }
            if (answers[code] == 0)
            {
                answers[code] = codes.Text(code) is { } text && test(text) ? (byte)1 : (byte)2;
            }
            return answers[code] == 1;
        }
    }
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
