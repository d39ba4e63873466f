using System.Globalization;

namespace UsageDashboard.Insights;

/// <summary>Which runs count as CI: all, only CI, or only non-CI.</summary>
public enum EnvironmentFilter
{
    All,
    Ci,
    NotCi,
}

/// <summary>
/// The view state every page and insights API shares, as parsed from the URL (<c>tool</c>, <c>range</c>,
/// <c>from</c>/<c>to</c>, <c>env</c>, <c>os</c>, <c>version</c>, <c>runtime</c>, <c>runtimeVersion</c>,
/// <c>environment</c>, <c>compare</c>). Dates are whole UTC days; <see cref="To"/> is inclusive.
/// </summary>
public sealed record InsightQuery
{
    public static readonly IReadOnlyList<string> RangePresets = ["7d", "30d", "90d", "12m"];
    public const string DefaultRange = "30d";

    public string? Tool { get; init; }
    /// <summary>The preset, or null when a custom from/to is in force.</summary>
    public string? Range { get; init; } = DefaultRange;
    public required DateOnly From { get; init; }
    public required DateOnly To { get; init; }
    public EnvironmentFilter Environment { get; init; }
    public string? Os { get; init; }
    public string? Version { get; init; }
    /// <summary>The runtime's name as runs report it (<c>python</c>).</summary>
    public string? Runtime { get; init; }
    /// <summary>A runtime version and its sub-versions: <c>3.11</c> matches 3.11 and 3.11.4, not 3.110 (<see cref="RuntimeVersionMatches"/>).</summary>
    public string? RuntimeVersion { get; init; }
    /// <summary>
    /// The tool's own build environment as runs report it (Jetty: <c>prod</c>, <c>dev</c>, <c>test</c>); null for the
    /// default, <see cref="AnyToolEnvironment"/> to lift the default exclusion of Jetty's dev builds (<see cref="ExcludesDevBuilds"/>).
    /// </summary>
    public string? ToolEnvironment { get; init; }
    public bool ComparePrevious { get; init; }

    /// <summary>The <c>environment</c> value that keeps every build, Jetty's dev builds included.</summary>
    public const string AnyToolEnvironment = "all";

    /// <summary>The tool whose dev builds are left out of active installations unless <c>environment</c> says otherwise.</summary>
    public const string DevBuildTool = "jetty";

    /// <summary>The <c>environment</c> value of a Jetty debug build (<c>cfg!(debug_assertions)</c>).</summary>
    public const string DevBuild = "dev";

    /// <summary>
    /// Whether Jetty's dev builds are left out of active installations: the view is Jetty's or every tool's and names
    /// no <c>environment</c>. Developers of Jetty itself are not its users; runs still count them.
    /// </summary>
    public bool ExcludesDevBuilds => ToolEnvironment is null && (Tool is null || Tool == DevBuildTool);

    /// <summary>The build environment rows must have, or null for any.</summary>
    public string? ToolEnvironmentFilter => ToolEnvironment is null or AnyToolEnvironment ? null : ToolEnvironment;

    /// <summary>Whether a runtime, runtime version or build environment filter is set: dimensions only some rollups hold.</summary>
    public bool HasPlatformFilter => Runtime is not null || RuntimeVersion is not null || ToolEnvironmentFilter is not null;

    /// <summary>
    /// Whether <paramref name="version"/> is <paramref name="prefix"/> or one of its sub-versions (a '.' follows the
    /// prefix): what <c>runtimeVersion</c> selects, in SQL as <c>v = p OR starts_with(v, p || '.')</c>.
    /// </summary>
    public static bool RuntimeVersionMatches(string? version, string prefix) =>
        version is not null && (version == prefix || (version.Length > prefix.Length && version[prefix.Length] == '.' && version.StartsWith(prefix, StringComparison.Ordinal)));

    public int Days => To.DayNumber - From.DayNumber + 1;

    public DateTime FromUtc => From.ToDateTime(TimeOnly.MinValue, DateTimeKind.Utc);
    /// <summary>Exclusive upper bound.</summary>
    public DateTime ToUtcExclusive => To.AddDays(1).ToDateTime(TimeOnly.MinValue, DateTimeKind.Utc);

    /// <summary>The period of the same length just before this one.</summary>
    public (DateOnly From, DateOnly To) PreviousPeriod => (From.AddDays(-Days), From.AddDays(-1));

    /// <summary>
    /// Parses URL values leniently: a dashboard link with a typo still opens, on the defaults, and
    /// <paramref name="errors"/> says what was ignored so the page can show it.
    /// </summary>
    public static InsightQuery Parse(
        string? tool, string? range, string? from, string? to, string? env, string? os, string? version, string? compare,
        DateOnly today, List<string>? errors = null, string? runtime = null, string? runtimeVersion = null, string? environment = null)
    {
        var (start, end, effectiveRange) = ResolvePeriod(range, from, to, today, errors);
        if (PeriodProblem(start, end, today) is { } problem)
        {
            // The edge (InsightPeriodCheck) answers 400 before a page or API gets here; this keeps any
            // other caller from asking for a 9,000-year chart all the same.
            errors?.Add(problem + $" Showing {DefaultRange}.");
            (start, end) = PresetBounds(DefaultRange, today);
            effectiveRange = DefaultRange;
        }

        var envFilter = env?.Trim().ToLowerInvariant() switch
        {
            null or "" or "all" => EnvironmentFilter.All,
            "ci" => EnvironmentFilter.Ci,
            "notci" or "not-ci" or "interactive" => EnvironmentFilter.NotCi,
            _ => Invalid(errors, $"Unknown env '{env}'; use all, ci or notci."),
        };

        return new InsightQuery
        {
            Tool = Clean(tool),
            Range = effectiveRange,
            From = start,
            To = end,
            Environment = envFilter,
            Os = Clean(os),
            Version = Clean(version),
            Runtime = Clean(runtime),
            RuntimeVersion = Clean(runtimeVersion)?.TrimEnd('.') is { Length: > 0 } rv ? rv : null,
            ToolEnvironment = Clean(environment) is { } e && string.Equals(e, AnyToolEnvironment, StringComparison.OrdinalIgnoreCase) ? AnyToolEnvironment : Clean(environment),
            ComparePrevious = string.Equals(compare, "previous", StringComparison.OrdinalIgnoreCase),
        };
    }

    /// <summary>The earliest day a period may start on.</summary>
    public static readonly DateOnly EarliestDay = new(2000, 1, 1);

    /// <summary>The longest period, in years.</summary>
    public const int MaxYears = 5;

    /// <summary>
    /// Why the period that <c>range</c>/<c>from</c>/<c>to</c> describe cannot be shown (it starts before
    /// <see cref="EarliestDay"/>, ends after tomorrow, or is longer than <see cref="MaxYears"/> years),
    /// or null when it can. Dates that do not parse are not a problem here: <see cref="Parse"/> ignores them.
    /// </summary>
    public static string? PeriodProblem(string? range, string? from, string? to, DateOnly today)
    {
        var (start, end, _) = ResolvePeriod(range, from, to, today, errors: null);
        return PeriodProblem(start, end, today);
    }

    private static string? PeriodProblem(DateOnly start, DateOnly end, DateOnly today)
    {
        var latest = today.AddDays(1);
        if (start >= EarliestDay && end <= latest && end < start.AddYears(MaxYears))
        {
            return null;
        }
        return string.Create(CultureInfo.InvariantCulture,
            $"The period {start:yyyy-MM-dd} to {end:yyyy-MM-dd} is out of bounds: 'from' and 'to' must lie between {EarliestDay:yyyy-MM-dd} and {latest:yyyy-MM-dd} (tomorrow, UTC) and span at most {MaxYears} years.");
    }

    /// <summary>The preset's days, overridden by from/to (a missing side keeps the preset's; swapped sides are put in order).</summary>
    private static (DateOnly Start, DateOnly End, string? Range) ResolvePeriod(string? range, string? from, string? to, DateOnly today, List<string>? errors)
    {
        var preset = string.IsNullOrWhiteSpace(range) ? DefaultRange : range.Trim().ToLowerInvariant();
        if (!RangePresets.Contains(preset))
        {
            errors?.Add($"Unknown range '{range}'; showing {DefaultRange}. Use one of {string.Join(", ", RangePresets)}.");
            preset = DefaultRange;
        }
        var (start, end) = PresetBounds(preset, today);
        string? effectiveRange = preset;

        var fromDate = ParseDate(from, "from", errors);
        var toDate = ParseDate(to, "to", errors);
        if (fromDate is not null || toDate is not null)
        {
            start = fromDate ?? start;
            end = toDate ?? end;
            effectiveRange = null;
            if (start > end)
            {
                errors?.Add("'from' is after 'to'; the two were swapped.");
                (start, end) = (end, start);
            }
        }
        return (start, end, effectiveRange);
    }

    public static (DateOnly From, DateOnly To) PresetBounds(string preset, DateOnly today) => preset switch
    {
        "7d" => (today.AddDays(-6), today),
        "90d" => (today.AddDays(-89), today),
        "12m" => (today.AddMonths(-12).AddDays(1), today),
        _ => (today.AddDays(-29), today),
    };

    public static string EnvironmentToken(EnvironmentFilter env) => env switch
    {
        EnvironmentFilter.Ci => "ci",
        EnvironmentFilter.NotCi => "notci",
        _ => "all",
    };

    private static EnvironmentFilter Invalid(List<string>? errors, string message)
    {
        errors?.Add(message);
        return EnvironmentFilter.All;
    }

    private static string? Clean(string? value) => string.IsNullOrWhiteSpace(value) ? null : value.Trim();

    private static DateOnly? ParseDate(string? value, string name, List<string>? errors)
    {
        if (string.IsNullOrWhiteSpace(value))
        {
            return null;
        }
        if (DateOnly.TryParseExact(value.Trim(), "yyyy-MM-dd", CultureInfo.InvariantCulture, DateTimeStyles.None, out var date))
        {
            return date;
        }
        errors?.Add($"'{name}' must be a date as yyyy-MM-dd; '{value}' was ignored.");
        return null;
    }
}
