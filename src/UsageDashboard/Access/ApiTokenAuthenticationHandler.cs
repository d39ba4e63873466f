using System.Text.Encodings.Web;
using Microsoft.AspNetCore.Authentication;
using Microsoft.Extensions.Options;

namespace UsageDashboard.Access;

/// <summary>Authenticates <c>Authorization: Bearer udt_…</c> personal API tokens.</summary>
public sealed class ApiTokenAuthenticationHandler(
    IOptionsMonitor<AuthenticationSchemeOptions> options, ILoggerFactory logger, UrlEncoder encoder, TokenService tokens)
    : AuthenticationHandler<AuthenticationSchemeOptions>(options, logger, encoder)
{
    public const string SchemeName = "ApiToken";

    protected override async Task<AuthenticateResult> HandleAuthenticateAsync()
    {
        var header = Request.Headers.Authorization.ToString();
        if (!header.StartsWith("Bearer ", StringComparison.OrdinalIgnoreCase))
        {
            return AuthenticateResult.NoResult();
        }
        var presented = header["Bearer ".Length..].Trim();
        if (!presented.StartsWith(TokenService.Prefix, StringComparison.Ordinal))
        {
            // Not a personal API token: collectors send their write keys as Bearer too, on every ingest request.
            // A failure here would be logged once per request; the endpoint that wants the value checks it.
            return AuthenticateResult.NoResult();
        }
        var principal = await tokens.AuthenticateAsync(presented, SchemeName, Context.RequestAborted);
        return principal is null
            ? AuthenticateResult.Fail("the API token is unknown, revoked or expired")
            : AuthenticateResult.Success(new AuthenticationTicket(principal, SchemeName));
    }

    protected override async Task HandleForbiddenAsync(AuthenticationProperties properties)
    {
        Response.StatusCode = StatusCodes.Status403Forbidden;
        await Response.WriteAsJsonAsync(Context.User.FindFirst(TokenService.ScopeClaim)?.Value == UsageDashboard.Store.TokenScopes.Read
            ? new { error = "forbidden", message = "This token has the read scope: it reaches /api/insights/* and GET /api/health/flags only. Pages, forms and admin endpoints need a token created with --scope admin." }
            : new { error = "forbidden", message = "Your role does not allow this." });
    }

    protected override async Task HandleChallengeAsync(AuthenticationProperties properties)
    {
        Response.StatusCode = StatusCodes.Status401Unauthorized;
        Response.Headers.WWWAuthenticate = "Bearer";
        await Response.WriteAsJsonAsync(new { error = "unauthorized", message = "Sign in, or send a valid personal API token as 'Authorization: Bearer <token>'." });
    }
}
