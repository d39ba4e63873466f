using System.Globalization;
using Microsoft.AspNetCore.Http.HttpResults;
using static UsageDashboard.Insights.InsightsApi;

namespace UsageDashboard.Insights;

/// <summary><c>GET /api/insights/plugins</c> and <c>/plugins/{plugin}</c>.</summary>
public static class PluginsApi
{
    public static async Task<Results<Ok<PluginsResponse>, FileContentHttpResult>> GetPlugins(
        HttpContext http, PluginsService plugins, CancellationToken ct)
    {
        var errors = new List<string>();
        var query = ParseQuery(http.Request.Query, plugins.Today, errors);
        var data = await plugins.GetAsync(query, PluginsService.ApiLimit, ct);
        if (IsCsv(http))
        {
            return Csv("plugins.csv",
                ["tool", "plugin", "type", "installations", "runs", "failed_runs", "aborted_runs", "success_rate", "ci_low", "ci_high", "judged_runs", "aborted_rate", "latest_version"],
                data.Plugins.Select(p => new[]
                {
                    p.Tool, p.Name, p.Type, Inv(p.Installations), Inv(p.Outcomes.Runs), Inv(p.Outcomes.Failed), Inv(p.Outcomes.Aborted),
                    Ratio(p.Outcomes.SuccessRate.Value), Ratio(p.Outcomes.SuccessRate.Interval?.Low), Ratio(p.Outcomes.SuccessRate.Interval?.High),
                    Inv(p.Outcomes.Judged), Ratio(p.Outcomes.AbortedRate.Value), p.LatestVersion ?? "",
                }));
        }
        return TypedResults.Ok(new PluginsResponse(InsightQueryEcho.Of(query), errors,
            [.. data.Plugins.Select(p => new PluginItem(
                p.Tool, p.Name, p.Key, p.Variant, p.Type, p.Installations, p.Outcomes.Runs, p.Outcomes.Succeeded, p.Outcomes.Failed,
                p.Outcomes.Aborted, p.Outcomes.Judged, p.Outcomes.SuccessRate.Value, IntervalOf(p.Outcomes.SuccessRate),
                p.Outcomes.AbortedRate.Value, p.Outcomes.SuccessRate.IsSmallSample, p.LatestVersion))]));
    }

    public static async Task<Results<Ok<PluginResponse>, FileContentHttpResult>> GetPlugin(
        string plugin, HttpContext http, PluginsService plugins, CancellationToken ct)
    {
        var errors = new List<string>();
        var query = ParseQuery(http.Request.Query, plugins.Today, errors);
        var data = await plugins.GetPluginAsync(query, DashboardUrls.FromSegment(plugin), ct);
        if (IsCsv(http))
        {
            return Csv("plugin-versions.csv",
                ["plugin", "version", "runs", "failed_runs", "aborted_runs", "success_rate", "ci_low", "ci_high", "judged_runs", "installations", "first_seen"],
                data.Versions.Select(v => new[]
                {
                    data.DisplayName ?? data.Plugin, v.Version, Inv(v.Outcomes.Runs), Inv(v.Outcomes.Failed), Inv(v.Outcomes.Aborted), Ratio(v.Outcomes.SuccessRate.Value),
                    Ratio(v.Outcomes.SuccessRate.Interval?.Low), Ratio(v.Outcomes.SuccessRate.Interval?.High), Inv(v.Outcomes.Judged),
                    Inv(v.Installations), v.FirstSeen?.ToString("yyyy-MM-ddTHH:mm:ssZ", CultureInfo.InvariantCulture) ?? "",
                }));
        }
        var buckets = TimeBuckets.For(query, data.Grain, data.Today);
        var current = data.Current;
        return TypedResults.Ok(new PluginResponse(
            InsightQueryEcho.Of(query), errors, data.DisplayName ?? data.Plugin, data.PluginTools, data.Types, data.Installations,
            current.Runs, current.Failed, current.Aborted, current.Judged, current.SuccessRate.Value, IntervalOf(current.SuccessRate),
            current.AbortedRate.Value,
            [.. data.Versions.Select(v => new PluginVersionItem(
                v.Version, v.Outcomes.Runs, v.Outcomes.Failed, v.Outcomes.Aborted, v.Outcomes.Judged, v.Outcomes.SuccessRate.Value,
                IntervalOf(v.Outcomes.SuccessRate), v.Outcomes.SuccessRate.IsSmallSample, v.Installations, v.FirstSeen))],
            [.. data.Matrix.Select(c => new MatrixItem(
                c.Os, c.Version, c.Outcomes.Runs, c.Outcomes.Judged, c.Outcomes.FailureRate.Value, IntervalOf(c.Outcomes.FailureRate)))],
            [.. data.Errors.Select(ErrorTypeItem.Of)],
            TimeBuckets.Noun(data.Grain),
            [.. data.Adoption.Select((a, i) => new AdoptionItem(
                Format.Date(a.Start), buckets[i].InProgress, buckets[i].Partial, a.InstallationsByVersion))]));
    }
}

/// <summary>The plugin ranking.</summary>
public sealed record PluginsResponse(InsightQueryEcho Query, IReadOnlyList<string> Warnings, IReadOnlyList<PluginItem> Items);

/// <summary>One plugin: <c>Plugin</c> is what people read, <c>Key</c> what <c>/plugins/{plugin}</c> takes.</summary>
public sealed record PluginItem(
    string Tool, string Plugin, string Key, string? Variant, string Type, long Installations, long Runs, long SucceededRuns,
    long FailedRuns, long AbortedRuns, long JudgedRuns, double? SuccessRate, double[]? SuccessRateInterval, double? AbortedRate,
    bool SmallSample, string? LatestVersion);

/// <summary>One plugin: its versions' outcomes, the OS × version failure matrix, error types and version adoption.</summary>
public sealed record PluginResponse(
    InsightQueryEcho Query,
    IReadOnlyList<string> Warnings,
    string Plugin,
    IReadOnlyList<string> Tools,
    IReadOnlyList<string> Types,
    long Installations,
    long Runs,
    long FailedRuns,
    long AbortedRuns,
    long JudgedRuns,
    double? SuccessRate,
    double[]? SuccessRateInterval,
    double? AbortedRate,
    IReadOnlyList<PluginVersionItem> Items,
    IReadOnlyList<MatrixItem> Matrix,
    IReadOnlyList<ErrorTypeItem> ErrorTypes,
    string Grain,
    IReadOnlyList<AdoptionItem> Adoption);

public sealed record PluginVersionItem(
    string Version, long Runs, long FailedRuns, long AbortedRuns, long JudgedRuns, double? SuccessRate, double[]? SuccessRateInterval,
    bool SmallSample, long Installations, DateTime? FirstSeen);

public sealed record MatrixItem(string Os, string Version, long Runs, long JudgedRuns, double? FailureRate, double[]? FailureRateInterval);

/// <summary>Installations using each version in one bucket.</summary>
public sealed record AdoptionItem(string Start, bool InProgress, bool Partial, IReadOnlyDictionary<string, long> InstallationsByVersion);
