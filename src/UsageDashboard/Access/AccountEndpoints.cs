using Microsoft.AspNetCore.Antiforgery;
using Microsoft.AspNetCore.Identity;
using UsageDashboard.Store;

namespace UsageDashboard.Access;

public static class AccountEndpoints
{
    /// <summary><c>POST /logout</c>: a form post with an antiforgery token, never a link (so a page elsewhere cannot sign you out).</summary>
    public static IEndpointConventionBuilder MapAccountEndpoints(this IEndpointRouteBuilder app) =>
        app.MapPost("/logout", async (HttpContext context, IAntiforgery antiforgery, SignInManager<DashboardUser> signIn) =>
        {
            if (!await antiforgery.IsRequestValidAsync(context))
            {
                return Results.BadRequest(new { error = "antiforgery", message = "The form expired; reload the page and try again." });
            }
            await signIn.SignOutAsync();
            return Results.Redirect("/login");
        }).DisableAntiforgery().ExcludeFromDescription();
}
