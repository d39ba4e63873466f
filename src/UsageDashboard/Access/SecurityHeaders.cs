namespace UsageDashboard.Access;

/// <summary>
/// Headers for every HTML response: a Content-Security-Policy with no inline script (client behaviour
/// lives in ES modules under wwwroot/js), no framing, no MIME sniffing, a strict referrer policy.
/// Non-HTML responses (badges, JSON) get only nosniff, so badges stay embeddable.
/// </summary>
public static class SecurityHeaders
{
    /// <remarks>
    /// Scripts only from this origin (blazor.web.js, MudBlazor.min.js, the app's ES modules): no inline
    /// script, no eval. <c>connect-src 'self'</c> covers the circuit's WebSocket to this origin. Styles:
    /// stylesheets only from this origin, but MudBlazor needs inline style in two places, and only those
    /// are allowed: <c>style-src-elem</c> for the <c>&lt;style&gt;</c> element MudThemeProvider writes with
    /// the palette's CSS variables (its content follows the light/dark choice), and <c>style-src-attr</c>
    /// for the style attributes its components set (popover and drawer positions, chart heights). Inline
    /// style cannot run code; inline script stays forbidden.
    /// </remarks>
    public const string ContentSecurityPolicy =
        "default-src 'self'; script-src 'self'; style-src 'self'; style-src-elem 'self' 'unsafe-inline'; style-src-attr 'unsafe-inline'; " +
        "img-src 'self' data:; font-src 'self' data:; " +
        "connect-src 'self'; object-src 'none'; base-uri 'self'; form-action 'self'; frame-ancestors 'none'";

    public static IApplicationBuilder UseSecurityHeaders(this IApplicationBuilder app) => app.Use(async (context, next) =>
    {
        context.Response.OnStarting(() =>
        {
            var headers = context.Response.Headers;
            headers.XContentTypeOptions = "nosniff";
            if (context.Response.ContentType?.StartsWith("text/html", StringComparison.OrdinalIgnoreCase) == true)
            {
                headers.ContentSecurityPolicy = ContentSecurityPolicy;
                headers.XFrameOptions = "DENY";
                headers["Referrer-Policy"] = "strict-origin-when-cross-origin";
                headers["Permissions-Policy"] = "camera=(), microphone=(), geolocation=()";
            }
            return Task.CompletedTask;
        });
        await next(context);
    });
}
