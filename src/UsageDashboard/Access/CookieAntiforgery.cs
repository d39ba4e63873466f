using Microsoft.AspNetCore.Antiforgery;

namespace UsageDashboard.Access;

/// <summary>
/// Antiforgery for API endpoints that change state. A browser sends the sign-in cookie with any cross-site
/// POST, so a cookie-authenticated call needs the antiforgery token (form field or the
/// <c>RequestVerificationToken</c> header). A token-authenticated call does not: a browser never adds an
/// <c>Authorization</c> header on its own, and with a bearer token the cookie is not used at all.
/// </summary>
public static class CookieAntiforgery
{
    public static TBuilder RequireAntiforgeryForCookies<TBuilder>(this TBuilder builder) where TBuilder : IEndpointConventionBuilder =>
        builder.AddEndpointFilter(async (context, next) =>
        {
            var http = context.HttpContext;
            if (http.User.Identity is not { AuthenticationType: ApiTokenAuthenticationHandler.SchemeName }
                && !await http.RequestServices.GetRequiredService<IAntiforgery>().IsRequestValidAsync(http))
            {
                return TypedResults.BadRequest(new { error = "antiforgery", message = "Missing or invalid antiforgery token: send it as the RequestVerificationToken header, or use an API token." });
            }
            return await next(context);
        });
}
