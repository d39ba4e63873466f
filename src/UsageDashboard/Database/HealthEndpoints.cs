using Npgsql;
using UsageDashboard.Hosting;

namespace UsageDashboard.Database;

public static class HealthEndpoints
{
    /// <summary>
    /// <c>GET /healthz</c> (liveness): 200 when the database answers, 503 otherwise. <c>GET /readyz</c>
    /// (readiness, for a load balancer or a benchmark): the same, and 503 <c>starting</c> with the work
    /// still pending while the background start-up work of <see cref="StartupReadiness"/> runs.
    /// </summary>
    public static IEndpointRouteBuilder MapHealthz(this IEndpointRouteBuilder app)
    {
        app.MapGet("/healthz", async (NpgsqlDataSource dataSource, CancellationToken ct) =>
            await DatabaseAnswersAsync(dataSource, ct)
                ? Results.Json(new { status = "ok" })
                : Unavailable()).ExcludeFromDescription();
        app.MapGet("/readyz", async (NpgsqlDataSource dataSource, StartupReadiness readiness, CancellationToken ct) =>
        {
            if (!await DatabaseAnswersAsync(dataSource, ct))
            {
                return Unavailable();
            }
            var pending = readiness.Pending;
            return pending.Count == 0
                ? Results.Json(new { status = "ok" })
                : Results.Json(new { status = "starting", pending }, statusCode: StatusCodes.Status503ServiceUnavailable);
        }).ExcludeFromDescription();
        return app;
    }

    private static IResult Unavailable() =>
        Results.Json(new { status = "unavailable", error = "database did not answer" }, statusCode: StatusCodes.Status503ServiceUnavailable);

    private static async Task<bool> DatabaseAnswersAsync(NpgsqlDataSource dataSource, CancellationToken ct)
    {
        try
        {
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(ct);
            timeout.CancelAfter(TimeSpan.FromSeconds(3));
            await using var cmd = dataSource.CreateCommand("SELECT 1");
            await cmd.ExecuteScalarAsync(timeout.Token);
            return true;
        }
        catch (Exception e) when (e is NpgsqlException or OperationCanceledException or TimeoutException)
        {
            return false;
        }
    }
}
