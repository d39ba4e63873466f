using System.Globalization;
using UsageDashboard.Insights;

namespace UsageDashboard.Releases;

public static class ReleaseApi
{
    /// <summary>
    /// <c>/api/insights/releases/{tool}/{version}</c> and <c>/api/insights/plugins/{plugin}/compare</c>: the
    /// release diff as JSON, or its ranked slices as CSV (<c>format=csv</c>). Same read policy as the other
    /// insights routes (the caller puts it on the group).
    /// </summary>
    public static RouteGroupBuilder MapReleaseApi(this IEndpointRouteBuilder app)
    {
        var group = app.MapGroup("/api/insights").WithTags("Insights");

        group.MapGet("/releases/{tool}/{version}", async (string tool, string version, string? baseline, int? days, HttpContext http,
            ReleaseService releases, CancellationToken ct) =>
        {
            var diff = await releases.GetToolReleaseAsync(DashboardUrls.FromSegment(tool), DashboardUrls.FromSegment(version),
                string.IsNullOrEmpty(baseline) ? null : baseline, days, ct);
            return diff is null
                ? Results.NotFound(new { error = "unknown_release", message = "That tool never ran that version." })
                : Answer(http, diff, $"release-{tool}-{version}.csv");
        }).WithName("GetReleaseDiff").WithSummary("A tool release against the previous version: failure-rate change, error types, excess failures by OS × runtime × command and plugin, adoption, rollbacks.");

        group.MapGet("/plugins/{plugin}/compare", async (string plugin, string? tool, string? from, string? to, string? version, int? days,
            HttpContext http, ReleaseService releases, CancellationToken ct) =>
        {
            if (string.IsNullOrEmpty(tool))
            {
                return Results.BadRequest(new { error = "missing_tool", message = "tool is required." });
            }
            if (ComparePair.Parse(from, to, version, out var error) is not { } pair)
            {
                return Results.BadRequest(new { error = "invalid_compare", message = error });
            }
            var diff = await releases.ComparePluginAsync(tool, DashboardUrls.FromSegment(plugin), pair, days, ct);
            return diff is null
                ? Results.NotFound(new { error = "unknown_plugin", message = "That tool never ran a plugin of that name." })
                : Answer(http, diff, "plugin-compare.csv");
        }).WithName("GetPluginCompare").WithSummary("Two versions (or, for Meltano, two periods YYYY-MM-DD..YYYY-MM-DD) of a plugin: the same figures as a release diff.");

        return group;
    }

    private static IResult Answer(HttpContext http, ReleaseDiff diff, string fileName)
    {
        if (string.Equals(http.Request.Query["format"], "csv", StringComparison.OrdinalIgnoreCase))
        {
            var rows = diff.Slices.Slices.Select((s, i) => Row((i + 1).ToString(CultureInfo.InvariantCulture), s));
            if (diff.Slices.Other is { } other)
            {
                rows = rows.Append(Row("", other));
            }
            return InsightsApi.Csv(fileName,
                ["rank", "os", "runtime", "command", "judged_runs", "failures", "failure_rate", "baseline_judged_runs", "baseline_failures",
                 "expected_failures", "excess_failures", "excess_low", "excess_high", "share_of_excess"], rows);
        }
        return Results.Json(ToJson(diff));
    }

    private static string[] Row(string rank, SliceExcess s) =>
    [
        rank, s.Key[0], s.Key.Count > 1 ? s.Key[1] : "", s.Key.Count > 2 ? s.Key[2] : "",
        Inv(s.Current.Judged), Inv(s.Current.Failures), Num(s.Current.Rate), Inv(s.Baseline.Judged), Inv(s.Baseline.Failures),
        Num(s.Expected), Num(s.Excess), Num(s.ExcessLow), Num(s.ExcessHigh), Num(s.Share),
    ];

    /// <summary>The wire shape; public so the health flags and tests read the same names.</summary>
    public static object ToJson(ReleaseDiff d) => new
    {
        tool = d.Tool,
        kind = d.Kind,
        name = d.Name,
        url = d.Url,
        warnings = d.Warnings,
        baseline = Side(d.Baseline),
        current = Side(d.Current),
        change = Round(d.Change),
        headline = d.Slices.Headline is { } h ? Slice(h) : null,
        totalExcess = Round(d.Slices.TotalExcess),
        slices = d.Slices.Slices.Select(Slice),
        other = d.Slices.Other is { } o ? Slice(o) : null,
        dimensions = d.Slices.ByDimension.ToDictionary(p => p.Key, p => p.Value.Select(Slice)),
        errorTypes = d.ErrorTypes.Select(e => new
        {
            errorType = e.ErrorType,
            count = e.Count,
            share = Round(e.Share),
            baselineCount = e.BaselineCount,
            baselineShare = Round(e.BaselineShare),
            isNew = e.IsNew,
            excess = Round(e.Excess.Excess),
            excessInterval = new[] { Round(e.Excess.ExcessLow), Round(e.Excess.ExcessHigh) },
            shareOfExcess = Round(e.Excess.Share),
        }),
        plugins = d.Plugins?.Slices.Select(Slice),
        adoption = d.Adoption.Select(a => new { day = Format.Date(a.Day), installations = a.Installations, allInstallations = a.AllInstallations, share = Round(a.Share) }),
        rollback = new { installations = d.Rollback.Installations, rolledBack = d.Rollback.RolledBack, rate = Round(d.Rollback.Rate.Value), interval = Interval(d.Rollback.Rate) },
    };

    private static object Side(ReleaseSide s) => new
    {
        label = s.Label,
        version = s.Version,
        from = Format.Date(s.From),
        to = Format.Date(s.To),
        judgedRuns = s.Outcomes.Judged,
        failures = s.Outcomes.Failures,
        failureRate = Round(s.FailureRate.Value),
        failureRateInterval = Interval(s.FailureRate),
    };

    private static object Slice(SliceExcess s) => new
    {
        slice = s.Label,
        key = s.Key,
        judgedRuns = s.Current.Judged,
        failures = s.Current.Failures,
        failureRate = Round(s.Current.Rate),
        baselineJudgedRuns = s.Baseline.Judged,
        baselineFailures = s.Baseline.Failures,
        expectedFailures = Round(s.Expected),
        excessFailures = Round(s.Excess),
        excessInterval = new[] { Round(s.ExcessLow), Round(s.ExcessHigh) },
        shareOfExcess = Round(s.Share),
    };

    private static double[]? Interval(Rate rate) => rate.Interval is { } i ? [Math.Round(i.Low, 6), Math.Round(i.High, 6)] : null;

    private static double? Round(double? value) => value is { } v ? Math.Round(v, 6) : null;

    private static string Inv(long value) => value.ToString(CultureInfo.InvariantCulture);

    private static string Num(double? value) => value is { } v ? Math.Round(v, 6).ToString("0.######", CultureInfo.InvariantCulture) : "";
}
