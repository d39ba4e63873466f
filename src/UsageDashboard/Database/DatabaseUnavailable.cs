using Microsoft.AspNetCore.Diagnostics;
using Npgsql;

namespace UsageDashboard.Database;

/// <summary>
/// When the database is down, answer 503 with Retry-After instead of a 500: telemetry clients retry on
/// it, and nothing was half-written because every write is one transaction. The pool reconnects by
/// itself when the server returns.
/// </summary>
public static class DatabaseUnavailable
{
    public const int RetryAfterSeconds = 5;

    public static async Task HandleAsync(HttpContext context)
    {
        var error = context.Features.Get<IExceptionHandlerFeature>()?.Error;
        var isDatabase = IsDatabaseUnavailable(error);
        context.Response.StatusCode = isDatabase ? StatusCodes.Status503ServiceUnavailable : StatusCodes.Status500InternalServerError;
        if (isDatabase)
        {
            context.Response.Headers.RetryAfter = RetryAfterSeconds.ToString(System.Globalization.CultureInfo.InvariantCulture);
        }
        var message = isDatabase ? "The database is unavailable; try again shortly." : "An unexpected error occurred.";
        if (context.Request.Path.StartsWithSegments("/api") || !AcceptsHtml(context.Request))
        {
            await context.Response.WriteAsJsonAsync(new { error = isDatabase ? "database_unavailable" : "internal_error", message });
        }
        else
        {
            context.Response.ContentType = "text/html; charset=utf-8";
            await context.Response.WriteAsync($"<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>UsageDashboard</title><link rel=\"icon\" href=\"data:,\"></head><body><h1>{message}</h1></body></html>");
        }
    }

    public static bool IsDatabaseUnavailable(Exception? error)
    {
        for (var e = error; e is not null; e = e.InnerException)
        {
            if (e is NpgsqlException { IsTransient: true } or System.Net.Sockets.SocketException or TimeoutException)
            {
                return true;
            }
            if (e is PostgresException { SqlState: "57P01" or "57P02" or "57P03" or "53300" })
            {
                return true;
            }
            if (e is NpgsqlException && e is not PostgresException)
            {
                return true;
            }
        }
        return false;
    }

    private static bool AcceptsHtml(HttpRequest request) => request.Headers.Accept.ToString().Contains("text/html", StringComparison.OrdinalIgnoreCase);
}
