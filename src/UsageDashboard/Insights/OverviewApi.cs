using Microsoft.AspNetCore.Http.HttpResults;
using static UsageDashboard.Insights.InsightsApi;

namespace UsageDashboard.Insights;

/// <summary><c>GET /api/insights/overview</c>.</summary>
public static class OverviewApi
{
    public static async Task<Results<Ok<OverviewResponse>, FileContentHttpResult>> GetOverview(
        HttpContext http, OverviewService overviews, FeaturesService features, CancellationToken ct)
    {
        var errors = new List<string>();
        var query = ParseQuery(http.Request.Query, overviews.Today, errors);
        var projecting = features.ProjectsAsync(query, ct);
        var data = await overviews.GetAsync(query, ct);
        var projects = await projecting;
        if (IsCsv(http))
        {
            return Csv("overview-daily.csv", ["day", "active_installations", "runs"],
                data.Daily.Select(d => new[] { Format.Date(d.Day), Inv(d.ActiveInstallations), Inv(d.Runs) }));
        }
        var current = data.Current;
        var previous = data.Previous;
        return TypedResults.Ok(new OverviewResponse(
            InsightQueryEcho.Of(query), errors, current.ActiveInstallations, current.NewInstallations, ProjectsSummary.Of(projects),
            current.Runs, current.SuccessRate.Value, IntervalOf(current.SuccessRate), current.SuccessRate.Total,
            new OverviewPrevious(Format.Date(query.PreviousPeriod.From), Format.Date(query.PreviousPeriod.To), previous.ActiveInstallations,
                previous.NewInstallations, previous.Runs, previous.SuccessRate.Value, previous.SuccessRate.Total),
            [.. data.Daily.Select(d => new OverviewDay(Format.Date(d.Day), d.ActiveInstallations, d.Runs, d.Day == data.Today))],
            [.. data.TopCommands.Select(TopCommandItem.Of)],
            [.. data.ToolComparison.Select(t => new ToolComparisonItem(
                t.Tool, t.ActiveInstallations, t.Current.Runs, t.Current.Failed, t.Current.Aborted, t.Current.Judged,
                t.Current.SuccessRate.Value, IntervalOf(t.Current.SuccessRate), PanicsPerThousand(t.Tool, t.Current),
                new ToolPrevious(t.PreviousActiveInstallations, t.Previous.Runs, t.Previous.SuccessRate.Value)))]));
    }
}

/// <summary>Headline numbers of a period against the previous one, the daily series, top commands and each tool side by side.</summary>
public sealed record OverviewResponse(
    InsightQueryEcho Query,
    IReadOnlyList<string> Warnings,
    long ActiveInstallations,
    long NewInstallations,
    ProjectsSummary Projects,
    long Runs,
    double? SuccessRate,
    double[]? SuccessRateInterval,
    long JudgedRuns,
    OverviewPrevious Previous,
    IReadOnlyList<OverviewDay> Daily,
    IReadOnlyList<TopCommandItem> TopCommands,
    IReadOnlyList<ToolComparisonItem> Tools);

public sealed record OverviewPrevious(
    string From, string To, long ActiveInstallations, long NewInstallations, long Runs, double? SuccessRate, long JudgedRuns);

/// <summary>One day; <c>InProgress</c> for today, whose numbers still grow.</summary>
public sealed record OverviewDay(string Day, long ActiveInstallations, long Runs, bool InProgress);

public sealed record TopCommandItem(
    string Tool, string Command, long Runs, long SucceededRuns, long FailedRuns, long AbortedRuns, long JudgedRuns,
    double? SuccessRate, double[]? SuccessRateInterval, bool SmallSample, long Installations)
{
    public static TopCommandItem Of(CommandRow r) => new(
        r.Tool, r.Command, r.Runs, r.Succeeded, r.Failed, r.Aborted, r.SuccessRate.Total, r.SuccessRate.Value,
        IntervalOf(r.SuccessRate), r.SuccessRate.IsSmallSample, r.Installations);
}

/// <summary>One tool's numbers beside the others' (only when no tool is selected).</summary>
public sealed record ToolComparisonItem(
    string Tool, long ActiveInstallations, long Runs, long FailedRuns, long AbortedRuns, long JudgedRuns, double? SuccessRate,
    double[]? SuccessRateInterval, double? PanicsPerThousand, ToolPrevious Previous);

public sealed record ToolPrevious(long ActiveInstallations, long Runs, double? SuccessRate);
