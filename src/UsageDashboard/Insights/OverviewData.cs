namespace UsageDashboard.Insights;

/// <summary>Headline numbers of one period.</summary>
public sealed record PeriodTotals(long ActiveInstallations, long NewInstallations, long Runs, long Succeeded, long Failed, long Aborted)
{
    public static readonly PeriodTotals Zero = new(0, 0, 0, 0, 0, 0);

    /// <summary>Success rate = succeeded / (succeeded + failed + aborted); skipped, running and unknown runs are not judged.</summary>
    public Rate SuccessRate => new(Succeeded, Succeeded + Failed + Aborted);
}

public sealed record DailyPoint(DateOnly Day, long ActiveInstallations, long Runs);

public sealed record CommandRow(string Tool, string Command, long Runs, long Succeeded, long Failed, long Aborted, long Installations)
{
    public Rate SuccessRate => new(Succeeded, Succeeded + Failed + Aborted);
}

/// <summary>One tool's headline numbers, this period and the previous one, for the side-by-side comparison.</summary>
public sealed record ToolComparison(string Tool, long ActiveInstallations, Outcomes Current, long PreviousActiveInstallations, Outcomes Previous);

/// <summary>Everything the overview page and <c>/api/insights/overview</c> show.</summary>
public sealed record OverviewData(
    InsightQuery Query,
    DateOnly Today,
    PeriodTotals Current,
    PeriodTotals Previous,
    IReadOnlyList<DailyPoint> Daily,
    IReadOnlyList<CommandRow> TopCommands,
    IReadOnlyList<string> Tools)
{
    /// <summary>The previous period's daily series, aligned day by day; only when compare=previous.</summary>
    public IReadOnlyList<DailyPoint> PreviousDaily { get; init; } = [];
    /// <summary>Every tool side by side; empty when one tool is selected.</summary>
    public IReadOnlyList<ToolComparison> ToolComparison { get; init; } = [];
}
