using System.Globalization;
using System.Text;

namespace UsageDashboard.Insights;

public static class InsightsApi
{
    /// <summary><c>/api/insights/*</c>: every page's data as JSON (or CSV of its main table), from the pages' own services.</summary>
    public static RouteGroupBuilder MapInsightsApi(this IEndpointRouteBuilder app)
    {
        var group = app.MapGroup("/api/insights").WithTags("Insights");

        group.MapGet("/overview", async (HttpContext http, OverviewService overviews, CancellationToken ct) =>
        {
            var errors = new List<string>();
            var query = ParseQuery(http.Request.Query, overviews.Today, errors);
            var data = await overviews.GetAsync(query, ct);
            if (IsCsv(http))
            {
                return Csv("overview-daily.csv", ["day", "active_installations", "runs"],
                    data.Daily.Select(d => new[] { Format.Date(d.Day), Inv(d.ActiveInstallations), Inv(d.Runs) }));
            }
            return Results.Json(new
            {
                query = Describe(query),
                warnings = errors,
                activeInstallations = data.Current.ActiveInstallations,
                newInstallations = data.Current.NewInstallations,
                runs = data.Current.Runs,
                successRate = data.Current.SuccessRate.Value,
                successRateInterval = IntervalOf(data.Current.SuccessRate),
                judgedRuns = data.Current.SuccessRate.Total,
                previous = new
                {
                    from = Format.Date(query.PreviousPeriod.From),
                    to = Format.Date(query.PreviousPeriod.To),
                    activeInstallations = data.Previous.ActiveInstallations,
                    newInstallations = data.Previous.NewInstallations,
                    runs = data.Previous.Runs,
                    successRate = data.Previous.SuccessRate.Value,
                    judgedRuns = data.Previous.SuccessRate.Total,
                },
                daily = data.Daily.Select(d => new { day = Format.Date(d.Day), activeInstallations = d.ActiveInstallations, runs = d.Runs, inProgress = d.Day == data.Today }),
                topCommands = data.TopCommands.Select(CommandItem),
            });
        }).WithName("GetOverview").WithSummary("Headline numbers, daily active installations and top commands for a period.");

        group.MapGet("/commands", async (HttpContext http, OverviewService overviews, CancellationToken ct) =>
        {
            var errors = new List<string>();
            var query = ParseQuery(http.Request.Query, overviews.Today, errors);
            var rows = await overviews.GetCommandsAsync(query, 1000, ct);
            if (IsCsv(http))
            {
                return Csv("commands.csv", ["tool", "command", "runs", "failed_runs", "aborted_runs", "success_rate", "ci_low", "ci_high", "judged_runs", "installations"],
                    rows.Select(r => new[]
                    {
                        r.Tool, r.Command, Inv(r.Runs), Inv(r.Failed), Inv(r.Aborted), Ratio(r.SuccessRate.Value),
                        Ratio(r.SuccessRate.Interval?.Low), Ratio(r.SuccessRate.Interval?.High), Inv(r.SuccessRate.Total), Inv(r.Installations),
                    }));
            }
            return Results.Json(new { query = Describe(query), warnings = errors, items = rows.Select(CommandItem) });
        }).WithName("GetCommands").WithSummary("Runs, failures and success rate per tool and command, so a tool author can check what arrived.");

        return group;
    }

    internal static InsightQuery ParseQuery(IQueryCollection q, DateOnly today, List<string> errors) =>
        InsightQuery.Parse(q["tool"], q["range"], q["from"], q["to"], q["env"], q["os"], q["version"], q["compare"], today, errors);

    private static bool IsCsv(HttpContext http) => string.Equals(http.Request.Query["format"], "csv", StringComparison.OrdinalIgnoreCase);

    private static object Describe(InsightQuery q) => new
    {
        tool = q.Tool,
        range = q.Range,
        from = Format.Date(q.From),
        to = Format.Date(q.To),
        env = InsightQuery.EnvironmentToken(q.Environment),
        os = q.Os,
        version = q.Version,
        compare = q.ComparePrevious ? "previous" : null,
    };

    private static object CommandItem(CommandRow r) => new
    {
        tool = r.Tool,
        command = r.Command,
        runs = r.Runs,
        succeededRuns = r.Succeeded,
        failedRuns = r.Failed,
        abortedRuns = r.Aborted,
        judgedRuns = r.SuccessRate.Total,
        successRate = r.SuccessRate.Value,
        successRateInterval = IntervalOf(r.SuccessRate),
        smallSample = r.SuccessRate.IsSmallSample,
        installations = r.Installations,
    };

    private static double[]? IntervalOf(Rate rate) => rate.Interval is { } i ? [Math.Round(i.Low, 6), Math.Round(i.High, 6)] : null;

    private static string Inv(long value) => value.ToString(CultureInfo.InvariantCulture);

    private static string Ratio(double? value) => value?.ToString("0.######", CultureInfo.InvariantCulture) ?? "";

    /// <summary>RFC 4180 CSV; fields that a spreadsheet would run as a formula are prefixed with a quote.</summary>
    internal static IResult Csv(string fileName, IReadOnlyList<string> header, IEnumerable<string[]> rows)
    {
        var sb = new StringBuilder();
        sb.AppendJoin(',', header.Select(CsvField)).Append("\r\n");
        foreach (var row in rows)
        {
            sb.AppendJoin(',', row.Select(CsvField)).Append("\r\n");
        }
        return Results.File(Encoding.UTF8.GetBytes(sb.ToString()), "text/csv; charset=utf-8", fileName);
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
