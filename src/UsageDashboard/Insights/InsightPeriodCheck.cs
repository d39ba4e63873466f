using UsageDashboard.Hosting;

namespace UsageDashboard.Insights;

/// <summary>
/// Answers 400 to a dashboard page or insights API request whose <c>from</c>/<c>to</c> lie outside
/// <see cref="InsightQuery.PeriodProblem(string?, string?, string?, DateOnly)"/>'s window: a year-1 date
/// used to throw, and a 9,000-year range allocated a slot per day before anything was read.
/// </summary>
public static class InsightPeriodCheck
{
    public const string Error = "invalid_period";

    public static IApplicationBuilder UseInsightPeriodCheck(this IApplicationBuilder app) => app.Use(async (context, next) =>
    {
        var q = context.Request.Query;
        if ((q.ContainsKey("from") || q.ContainsKey("to")) && DashboardUrls.TakesInsightQuery(context.Request.Path))
        {
            var today = DateOnly.FromDateTime(context.RequestServices.GetRequiredService<TimeProvider>().GetUtcNow().UtcDateTime);
            if (InsightQuery.PeriodProblem(q["range"], q["from"], q["to"], today) is { } problem)
            {
                await BadRequestAnswer.WriteAsync(context, Error, problem);
                return;
            }
        }
        await next(context);
    });
}
