using System.Net;

namespace UsageDashboard.Hosting;

/// <summary>
/// The 400 that input checks at the edge answer with: <c>{error, message}</c> JSON for API and collector
/// routes, a short HTML page for dashboard pages. The message never quotes the offending value.
/// </summary>
public static class BadRequestAnswer
{
    public static Task WriteAsync(HttpContext context, string error, string message)
    {
        var response = context.Response;
        response.StatusCode = StatusCodes.Status400BadRequest;
        response.Headers.CacheControl = "no-store";
        if (WantsJson(context.Request))
        {
            return response.WriteAsJsonAsync(new { error, message });
        }
        response.ContentType = "text/html; charset=utf-8";
        return response.WriteAsync($"""
            <!DOCTYPE html>
            <html lang="en"><head><meta charset="utf-8"><title>Bad request</title></head>
            <body><h1>Bad request</h1><p role="alert">{WebUtility.HtmlEncode(message)}</p><p><a href="/">Back to the overview</a></p></body></html>
            """);
    }

    /// <summary>Everything but the dashboard pages is a machine's route.</summary>
    private static bool WantsJson(HttpRequest request)
    {
        var path = request.Path;
        return path.StartsWithSegments("/api") || path.StartsWithSegments("/badges") || path.StartsWithSegments("/i")
            || path.StartsWithSegments("/com.snowplowanalytics.snowplow") || path.StartsWithSegments("/openapi")
            || request.Headers.Accept.ToString().Contains("application/json", StringComparison.OrdinalIgnoreCase);
    }
}
