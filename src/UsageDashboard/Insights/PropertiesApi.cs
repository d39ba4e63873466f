using Microsoft.AspNetCore.Http.HttpResults;
using static UsageDashboard.Insights.InsightsApi;

namespace UsageDashboard.Insights;

/// <summary><c>GET /api/insights/properties?key=…</c>: one allowlisted feature key's values.</summary>
public static class PropertiesApi
{
    public static async Task<Results<Ok<PropertyResponse>, FileContentHttpResult, BadRequest<UnknownKeyError>>> GetProperty(
        HttpContext http, FeaturesService features, CancellationToken ct)
    {
        var errors = new List<string>();
        var query = ParseQuery(http.Request.Query, features.Today, errors);
        var name = http.Request.Query["key"].ToString().Trim();
        if (FeatureCatalog.Find(query.Tool, name) is not { } key)
        {
            return TypedResults.BadRequest(new UnknownKeyError(
                "unknown_key",
                name.Length == 0 ? "Name a key: ?key=…" : $"'{name}' is not an allowlisted key{(query.Tool is null ? "" : $" of {query.Tool}")}.",
                query.Tool is not null && FeatureCatalog.Allowlist.TryGetValue(query.Tool, out var own) ? own : FeatureCatalog.Allowlist));
        }
        var table = await features.GetKeyAsync(query, key, ct);
        if (IsCsv(http))
        {
            return Csv($"property-{key.Key}.csv",
                ["key", "value", "label", "runs", "failed_runs", "aborted_runs", "success_rate", "ci_low", "ci_high", "judged_runs", "installations", "projects"],
                table.Values.Select(v => new[]
                {
                    key.Key, v.Value, v.Display, Inv(v.Runs), Inv(v.Failed), Inv(v.Aborted), Ratio(v.SuccessRate.Value),
                    Ratio(v.SuccessRate.Interval?.Low), Ratio(v.SuccessRate.Interval?.High), Inv(v.Judged), Inv(v.Installations), Inv(v.Projects),
                }));
        }
        return TypedResults.Ok(new PropertyResponse(InsightQueryEcho.Of(query), errors, key.Key, key.Title, key.Source,
            [.. table.Values.Select(v => new PropertyValueItem(
                v.Value, v.Display, v.Runs, v.Succeeded, v.Failed, v.Aborted, v.Judged, v.SuccessRate.Value, IntervalOf(v.SuccessRate),
                v.SuccessRate.IsSmallSample, v.Installations, v.Projects))]));
    }
}

/// <summary>A feature key's values, most runs first.</summary>
public sealed record PropertyResponse(
    InsightQueryEcho Query, IReadOnlyList<string> Warnings, string Key, string Title, string Source, IReadOnlyList<PropertyValueItem> Items);

public sealed record PropertyValueItem(
    string Value, string Label, long Runs, long SucceededRuns, long FailedRuns, long AbortedRuns, long JudgedRuns,
    double? SuccessRate, double[]? SuccessRateInterval, bool SmallSample, long Installations, long Projects);

/// <summary>
/// 400 for a key that is not allowlisted: <c>Allowed</c> lists the selected tool's keys, or every tool's keys by
/// tool when none is selected.
/// </summary>
public sealed record UnknownKeyError(string Error, string Message, object Allowed);
