using Microsoft.AspNetCore.Http.HttpResults;
using static UsageDashboard.Insights.InsightsApi;

namespace UsageDashboard.Insights;

/// <summary><c>GET /api/insights/environments</c>.</summary>
public static class EnvironmentsApi
{
    public static async Task<Results<Ok<EnvironmentsResponse>, FileContentHttpResult>> GetEnvironments(
        HttpContext http, EnvironmentsService environments, CancellationToken ct)
    {
        var errors = new List<string>();
        var query = ParseQuery(http.Request.Query, environments.Today, errors);
        var data = await environments.GetAsync(query, ct);
        if (IsCsv(http))
        {
            return Csv("environments.csv", ["dimension", "value", "installations", "runs"],
                data.Dimensions.SelectMany(d => d.Values.Select(v => new[] { DimensionToken(d.Dimension), v.Value, Inv(v.Installations), Inv(v.Runs) })));
        }
        var buckets = TimeBuckets.For(query, data.Grain, data.Today);
        return TypedResults.Ok(new EnvironmentsResponse(
            InsightQueryEcho.Of(query), errors, data.Installations, TimeBuckets.Noun(data.Grain),
            [.. data.Dimensions.SelectMany(d => d.Values.Select(v => EnvironmentValueItem.Of(d.Dimension, v, query.Tool)))],
            data.Dimensions.ToDictionary(d => DimensionToken(d.Dimension), IReadOnlyList<EnvironmentBucketItem> (d) =>
            [
                .. d.OverTime.Select((b, i) => new EnvironmentBucketItem(
                    Format.Date(b.Start), buckets[i].InProgress, buckets[i].Partial, b.InstallationsByVersion)),
            ])));
    }

    internal static string DimensionToken(EnvironmentDimension d) => d switch
    {
        EnvironmentDimension.Os => "os",
        EnvironmentDimension.OsVersion => "os_version",
        EnvironmentDimension.Runtime => "runtime",
        EnvironmentDimension.RuntimeVersion => "runtime_version",
        _ => "tool_version",
    };
}

/// <summary>
/// Installations by OS, OS version, runtime, runtime version and tool version: every value of every dimension
/// (<c>Items</c>), and per dimension token the installations by value in each bucket (<c>OverTime</c>).
/// </summary>
public sealed record EnvironmentsResponse(
    InsightQueryEcho Query,
    IReadOnlyList<string> Warnings,
    long Installations,
    string Grain,
    IReadOnlyList<EnvironmentValueItem> Items,
    IReadOnlyDictionary<string, IReadOnlyList<EnvironmentBucketItem>> OverTime);

/// <summary>One value of a dimension; the outcomes are null where only installations are known.</summary>
public sealed record EnvironmentValueItem(
    string Dimension, string Value, long Installations, long Runs, long? SucceededRuns, long? FailedRuns, long? AbortedRuns,
    long? JudgedRuns, double? SuccessRate, double[]? SuccessRateInterval, double? PanicsPerThousand)
{
    public static EnvironmentValueItem Of(EnvironmentDimension dimension, DimensionValue v, string? tool) => new(
        EnvironmentsApi.DimensionToken(dimension), v.Value, v.Installations, v.Runs, v.Outcomes?.Succeeded, v.Outcomes?.Failed,
        v.Outcomes?.Aborted, v.Outcomes?.Judged, v.Outcomes?.SuccessRate.Value,
        v.Outcomes is { } o ? InsightsApi.IntervalOf(o.SuccessRate) : null,
        // Jetty reports panics only (PanicRate): its number is panics per 1,000 invocations.
        v.Outcomes is { } p ? InsightsApi.PanicsPerThousand(tool, p) : null);
}

public sealed record EnvironmentBucketItem(string Start, bool InProgress, bool Partial, IReadOnlyDictionary<string, long> Installations);
