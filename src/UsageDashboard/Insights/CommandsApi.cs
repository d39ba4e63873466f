using Microsoft.AspNetCore.Http.HttpResults;
using static UsageDashboard.Insights.InsightsApi;

namespace UsageDashboard.Insights;

/// <summary><c>GET /api/insights/commands</c> and <c>/commands/{command}</c>.</summary>
public static class CommandsApi
{
    public static async Task<Results<Ok<CommandsResponse>, FileContentHttpResult>> GetCommands(
        HttpContext http, CommandsService commands, CancellationToken ct)
    {
        var errors = new List<string>();
        var query = ParseQuery(http.Request.Query, commands.Today, errors);
        var data = await commands.GetAsync(query, CommandsService.ApiLimit, ct);
        if (IsCsv(http))
        {
            return Csv("commands.csv",
                ["tool", "command", "runs", "failed_runs", "aborted_runs", "success_rate", "ci_low", "ci_high", "judged_runs", "installations",
                 "p50_ms", "p95_ms", "previous_runs", "previous_success_rate"],
                data.Commands.Select(c => new[]
                {
                    c.Tool, c.Command, Inv(c.Current.Runs), Inv(c.Current.Failed), Inv(c.Current.Aborted), Ratio(c.Current.SuccessRate.Value),
                    Ratio(c.Current.SuccessRate.Interval?.Low), Ratio(c.Current.SuccessRate.Interval?.High), Inv(c.Current.Judged),
                    Inv(c.Installations), Ratio(c.P50Ms), Ratio(c.P95Ms), Inv(c.Previous.Runs), Ratio(c.Previous.SuccessRate.Value),
                }));
        }
        return TypedResults.Ok(new CommandsResponse(InsightQueryEcho.Of(query), errors, data.TotalRuns,
            [.. data.Commands.Select(c => new CommandItem(
                c.Tool, c.Command, c.Current.Runs, c.Current.Succeeded, c.Current.Failed, c.Current.Aborted, c.Current.Judged,
                c.Current.SuccessRate.Value, IntervalOf(c.Current.SuccessRate), c.Current.SuccessRate.IsSmallSample,
                PanicsPerThousand(c.Tool, c.Current), c.Installations, c.P50Ms, c.P95Ms, PreviousRuns.Of(c.Previous)))]));
    }

    public static async Task<Results<Ok<CommandResponse>, FileContentHttpResult>> GetCommand(
        string command, HttpContext http, CommandsService commands, CancellationToken ct)
    {
        var errors = new List<string>();
        var query = ParseQuery(http.Request.Query, commands.Today, errors);
        var data = await commands.GetCommandAsync(query, DashboardUrls.FromSegment(command), ct);
        if (IsCsv(http))
        {
            return Csv("command-versions.csv", ["command", "tool_version", "runs", "failed_runs", "aborted_runs", "success_rate", "ci_low", "ci_high", "judged_runs", "installations"],
                data.Versions.Select(v => SliceCsv(data.Command, v)));
        }
        var buckets = TimeBuckets.For(query, data.Grain, data.Today);
        var versions = data.Versions.Select(SliceItem.Of).ToArray();
        return TypedResults.Ok(new CommandResponse(
            InsightQueryEcho.Of(query), errors, data.Command, data.Current.Runs, data.Current.Failed, data.Current.Aborted,
            data.Current.SuccessRate.Value, IntervalOf(data.Current.SuccessRate), data.Current.Judged, data.Installations,
            data.P50Ms, data.P95Ms, PreviousRuns.Of(data.Previous), TimeBuckets.Noun(data.Grain),
            [.. data.Buckets.Select((b, i) => new CommandBucketItem(
                Format.Date(b.Start), buckets[i].InProgress, buckets[i].Partial, b.Outcomes.Runs, b.Outcomes.Failed, b.Outcomes.Aborted,
                b.ByVersion, b.ByOs))],
            versions, versions, [.. data.OperatingSystems.Select(SliceItem.Of)], [.. data.Errors.Select(ErrorTypeItem.Of)]));
    }

    private static string[] SliceCsv(string owner, SliceStats s) =>
    [
        owner, s.Name, Inv(s.Outcomes.Runs), Inv(s.Outcomes.Failed), Inv(s.Outcomes.Aborted), Ratio(s.Outcomes.SuccessRate.Value),
        Ratio(s.Outcomes.SuccessRate.Interval?.Low), Ratio(s.Outcomes.SuccessRate.Interval?.High), Inv(s.Outcomes.Judged), Inv(s.Installations),
    ];
}

/// <summary>The command ranking: each command's outcomes, durations and the previous period's runs.</summary>
public sealed record CommandsResponse(InsightQueryEcho Query, IReadOnlyList<string> Warnings, long TotalRuns, IReadOnlyList<CommandItem> Items);

public sealed record CommandItem(
    string Tool, string Command, long Runs, long SucceededRuns, long FailedRuns, long AbortedRuns, long JudgedRuns,
    double? SuccessRate, double[]? SuccessRateInterval, bool SmallSample, double? PanicsPerThousand, long Installations,
    double? P50Ms, double? P95Ms, PreviousRuns Previous);

/// <summary>
/// One command: its outcomes, runs per bucket by version and OS, and its slices. <c>Items</c> repeats
/// <c>Versions</c> (the CSV's table) for clients that read every page's main table as <c>items</c>.
/// </summary>
public sealed record CommandResponse(
    InsightQueryEcho Query,
    IReadOnlyList<string> Warnings,
    string Command,
    long Runs,
    long FailedRuns,
    long AbortedRuns,
    double? SuccessRate,
    double[]? SuccessRateInterval,
    long JudgedRuns,
    long Installations,
    double? P50Ms,
    double? P95Ms,
    PreviousRuns Previous,
    string Grain,
    IReadOnlyList<CommandBucketItem> Series,
    IReadOnlyList<SliceItem> Items,
    IReadOnlyList<SliceItem> Versions,
    IReadOnlyList<SliceItem> OperatingSystems,
    IReadOnlyList<ErrorTypeItem> ErrorTypes);

public sealed record CommandBucketItem(
    string Start, bool InProgress, bool Partial, long Runs, long FailedRuns, long AbortedRuns,
    IReadOnlyDictionary<string, long> ByVersion, IReadOnlyDictionary<string, long> ByOs);
