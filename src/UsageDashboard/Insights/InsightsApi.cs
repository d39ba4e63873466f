using System.Globalization;
using System.Text;
using Microsoft.AspNetCore.Http.HttpResults;

namespace UsageDashboard.Insights;

/// <summary>
/// <c>/api/insights/*</c>: every page's data as JSON (or CSV of its main table), from the pages' own services.
/// The handlers live beside their response records, one file per page (OverviewApi, CommandsApi, PluginsApi,
/// InstallationsApi, EnvironmentsApi, PropertiesApi); this class maps them and holds what they share.
/// </summary>
public static class InsightsApi
{
    public static RouteGroupBuilder MapInsightsApi(this IEndpointRouteBuilder app)
    {
        var group = app.MapGroup("/api/insights").WithTags("Insights");

        group.MapGet("/overview", OverviewApi.GetOverview)
            .WithName("GetOverview").WithSummary("Headline numbers, daily active installations and top commands for a period.");
        group.MapGet("/commands", CommandsApi.GetCommands)
            .WithName("GetCommands").WithSummary("Runs, failures, success rate with interval, durations and trend per tool and command.");
        group.MapGet("/commands/{command}", CommandsApi.GetCommand)
            .WithName("GetCommand").WithSummary("One command: runs over time, by tool version and OS, top error types.");
        group.MapGet("/plugins", PluginsApi.GetPlugins)
            .WithName("GetPlugins").WithSummary("Installations, runs, success and aborted rates with intervals, and latest version per plugin.");
        group.MapGet("/plugins/{plugin}", PluginsApi.GetPlugin)
            .WithName("GetPlugin").WithSummary("One plugin: per-version outcomes, OS × version failures, error types, version adoption.");
        group.MapGet("/installations", InstallationsApi.GetInstallations)
            .WithName("GetInstallations").WithSummary("Active installations (daily, weekly, monthly) under a chosen rule, lifecycle, cohort retention and version adoption.");
        group.MapGet("/environments", EnvironmentsApi.GetEnvironments)
            .WithName("GetEnvironments").WithSummary("Installations by OS, OS version, runtime, runtime version and tool version, now and over time.");
        group.MapGet("/properties", PropertiesApi.GetProperty)
            .WithName("GetProperty").WithSummary("Runs, success rate with interval, installations and projects per value of one allowlisted feature key (docs: README).");

        return group;
    }

    internal static InsightQuery ParseQuery(IQueryCollection q, DateOnly today, List<string> errors) =>
        InsightQuery.Parse(q["tool"], q["range"], q["from"], q["to"], q["env"], q["os"], q["version"], q["compare"], today, errors,
            q["runtime"], q["runtimeVersion"], q["environment"]);

    internal static bool IsCsv(HttpContext http) => string.Equals(http.Request.Query["format"], "csv", StringComparison.OrdinalIgnoreCase);

    /// <summary>Jetty's panics per 1,000 invocations (<see cref="PanicRate"/>); null for other tools.</summary>
    internal static double? PanicsPerThousand(string? tool, Outcomes outcomes) =>
        PanicRate.Applies(tool) && PanicRate.Of(outcomes).Value is { } share ? Math.Round(share * 1000, 3) : null;

    /// <summary>A rate's 95% interval as <c>[low, high]</c>, rounded to six places; null when nothing was judged.</summary>
    internal static double[]? IntervalOf(Rate rate) => rate.Interval is { } i ? [Math.Round(i.Low, 6), Math.Round(i.High, 6)] : null;

    internal static string Inv(long value) => value.ToString(CultureInfo.InvariantCulture);

    internal static string Ratio(double? value) => value is { } v ? Math.Round(v, 6).ToString("0.######", CultureInfo.InvariantCulture) : "";

    /// <summary>RFC 4180 CSV; fields that a spreadsheet would run as a formula are prefixed with a quote.</summary>
    internal static FileContentHttpResult Csv(string fileName, IReadOnlyList<string> header, IEnumerable<string[]> rows)
    {
        var sb = new StringBuilder();
        sb.AppendJoin(',', header.Select(CsvField)).Append("\r\n");
        foreach (var row in rows)
        {
            sb.AppendJoin(',', row.Select(CsvField)).Append("\r\n");
        }
        return TypedResults.File(Encoding.UTF8.GetBytes(sb.ToString()), "text/csv; charset=utf-8", fileName);
    }

    internal static string CsvField(string value)
    {
        // Untrusted text (command names come from telemetry) must not become a spreadsheet formula.
        if (value.Length > 0 && value[0] is '=' or '+' or '-' or '@' or '\t' or '\r' && !double.TryParse(value, NumberStyles.Float, CultureInfo.InvariantCulture, out _))
        {
            value = "'" + value;
        }
        return value.IndexOfAny([',', '"', '\r', '\n']) >= 0 ? "\"" + value.Replace("\"", "\"\"", StringComparison.Ordinal) + "\"" : value;
    }
}
