namespace UsageDashboard.Insights;

/// <summary>Run outcome counts; success rate = succeeded ÷ (succeeded + failed + aborted).</summary>
public sealed record Outcomes(long Runs, long Succeeded, long Failed, long Aborted)
{
    public static readonly Outcomes Zero = new(0, 0, 0, 0);
    public long Judged => Succeeded + Failed + Aborted;
    public Rate SuccessRate => new(Succeeded, Judged);
    /// <summary>Aborted ÷ judged runs: interrupted, timed out or killed.</summary>
    public Rate AbortedRate => new(Aborted, Judged);
    /// <summary>Failed and aborted ÷ judged runs.</summary>
    public Rate FailureRate => new(Failed + Aborted, Judged);
}

/// <summary>One command of the ranking, this period against the previous one.</summary>
public sealed record CommandStats(
    string Tool, string Command, Outcomes Current, long Installations, double? P50Ms, double? P95Ms, Outcomes Previous);

/// <summary>Everything <c>/commands</c> and <c>/api/insights/commands</c> show.</summary>
public sealed record CommandsData(
    InsightQuery Query, DateOnly Today, long TotalRuns, IReadOnlyList<CommandStats> Commands, IReadOnlyList<string> Tools);

/// <summary>A slice of one command's runs (a tool version, an OS) with its outcomes.</summary>
public sealed record SliceStats(string Name, Outcomes Outcomes, long Installations);

/// <summary>Runs of one bucket, by outcome and by slice.</summary>
public sealed record CommandBucket(DateOnly Start, Outcomes Outcomes, IReadOnlyDictionary<string, long> ByVersion, IReadOnlyDictionary<string, long> ByOs);

/// <summary>An error type (an exception class name) among failed and aborted runs.</summary>
public sealed record ErrorTypeStats(string ErrorType, long Runs, long Installations, DateTime LastSeen);

/// <summary>Everything <c>/commands/{command}</c> shows.</summary>
public sealed record CommandDetailData(
    InsightQuery Query,
    DateOnly Today,
    string Command,
    Grain Grain,
    Outcomes Current,
    Outcomes Previous,
    long Installations,
    double? P50Ms,
    double? P95Ms,
    IReadOnlyList<CommandBucket> Buckets,
    IReadOnlyList<SliceStats> Versions,
    IReadOnlyList<SliceStats> OperatingSystems,
    IReadOnlyList<ErrorTypeStats> Errors,
    IReadOnlyList<string> Tools)
{
    /// <summary>With "compare with previous period": the previous period's runs, shifted onto these buckets.</summary>
    public IReadOnlyList<long>? PreviousRunsPerBucket { get; init; }
}
