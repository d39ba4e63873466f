namespace UsageDashboard.Insights;

// The parts several /api/insights responses share. Property order is the JSON's order: these replaced
// anonymous objects, and clients read the same names and values as before.

/// <summary>The query a response answers, as parsed (defaults filled in, dates as yyyy-MM-dd).</summary>
public sealed record InsightQueryEcho(
    string? Tool, string? Range, string From, string To, string Env, string? Os, string? Version, string? Runtime,
    string? RuntimeVersion, string? Environment, bool ExcludesDevBuilds, string? Compare)
{
    public static InsightQueryEcho Of(InsightQuery q) => new(
        q.Tool, q.Range, Format.Date(q.From), Format.Date(q.To), InsightQuery.EnvironmentToken(q.Environment), q.Os, q.Version,
        q.Runtime, q.RuntimeVersion, q.ToolEnvironment, q.ExcludesDevBuilds, q.ComparePrevious ? "previous" : null);
}

/// <summary>Distinct projects and organisations (null where no selected tool has them) and the runs left out of them.</summary>
public sealed record ProjectsSummary(long? Projects, long? Organisations, long ExcludedRuns, double? ExcludedShare, string? ExcludedReason)
{
    public static ProjectsSummary Of(ProjectCounts p) => new(
        p.Projects, p.Organisations, p.ExcludedRuns, p.ExcludedShare,
        p.ExcludedRuns > 0 ? "Meltano runs with a random project id (project_uuid_source = random) are not counted as projects" : null);
}

/// <summary>A slice of one command's runs (a tool version, an OS).</summary>
public sealed record SliceItem(
    string Name, long Runs, long FailedRuns, long AbortedRuns, long JudgedRuns, double? SuccessRate, double[]? SuccessRateInterval,
    bool SmallSample, long Installations)
{
    public static SliceItem Of(SliceStats s) => new(
        s.Name, s.Outcomes.Runs, s.Outcomes.Failed, s.Outcomes.Aborted, s.Outcomes.Judged, s.Outcomes.SuccessRate.Value,
        InsightsApi.IntervalOf(s.Outcomes.SuccessRate), s.Outcomes.SuccessRate.IsSmallSample, s.Installations);
}

/// <summary>An exception class name among failed and aborted runs.</summary>
public sealed record ErrorTypeItem(string ErrorType, long Runs, long Installations, DateTime LastSeen)
{
    public static ErrorTypeItem Of(ErrorTypeStats e) => new(e.ErrorType, e.Runs, e.Installations, e.LastSeen);
}

/// <summary>Runs of a period before this one, for the trend.</summary>
public sealed record PreviousRuns(long Runs, double? SuccessRate, long JudgedRuns)
{
    public static PreviousRuns Of(Outcomes o) => new(o.Runs, o.SuccessRate.Value, o.Judged);
}
