using Npgsql;

namespace UsageDashboard.Database;

public static class HealthEndpoints
{
    /// <summary><c>GET /healthz</c>: 200 when the database answers, 503 otherwise.</summary>
    public static IEndpointConventionBuilder MapHealthz(this IEndpointRouteBuilder app) =>
        app.MapGet("/healthz", async (NpgsqlDataSource dataSource, CancellationToken ct) =>
        {
            try
            {
                using var timeout = CancellationTokenSource.CreateLinkedTokenSource(ct);
                timeout.CancelAfter(TimeSpan.FromSeconds(3));
                await using var cmd = dataSource.CreateCommand("SELECT 1");
                await cmd.ExecuteScalarAsync(timeout.Token);
                return Results.Json(new { status = "ok" });
            }
            catch (Exception e) when (e is NpgsqlException or OperationCanceledException or TimeoutException)
            {
                return Results.Json(new { status = "unavailable", error = "database did not answer" }, statusCode: StatusCodes.Status503ServiceUnavailable);
            }
        }).ExcludeFromDescription();
}
