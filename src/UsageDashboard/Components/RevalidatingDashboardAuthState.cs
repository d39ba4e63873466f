using System.Security.Claims;
using Microsoft.AspNetCore.Components.Authorization;
using Microsoft.AspNetCore.Components.Server;
using Microsoft.AspNetCore.Identity;
using Microsoft.Extensions.Options;
using UsageDashboard.Store;

namespace UsageDashboard.Components;

/// <summary>How often an open circuit re-checks its signed-in user.</summary>
public sealed class RevalidationOptions
{
    public TimeSpan Interval { get; set; } = TimeSpan.FromSeconds(30);
}

/// <summary>
/// A circuit outlives the request that authenticated it, so the cookie's own security-stamp check never
/// runs again: this re-checks the user periodically. A removed user, or one whose role changed (which
/// rotates the security stamp), turns anonymous and the router shows the sign-in prompt.
/// </summary>
public sealed class RevalidatingDashboardAuthState(
    ILoggerFactory loggerFactory, IServiceScopeFactory scopes, IOptions<IdentityOptions> identity, IOptions<RevalidationOptions> options)
    : RevalidatingServerAuthenticationStateProvider(loggerFactory)
{
    protected override TimeSpan RevalidationInterval => options.Value.Interval;

    protected override async Task<bool> ValidateAuthenticationStateAsync(AuthenticationState state, CancellationToken cancellationToken)
    {
        await using var scope = scopes.CreateAsyncScope();
        var users = scope.ServiceProvider.GetRequiredService<UserManager<DashboardUser>>();
        return await IsCurrentAsync(users, state.User);
    }

    private async Task<bool> IsCurrentAsync(UserManager<DashboardUser> users, ClaimsPrincipal principal)
    {
        if (users.GetUserId(principal) is not { } id || await users.FindByIdAsync(id) is not { } user)
        {
            return false;
        }
        if (!users.SupportsUserSecurityStamp)
        {
            return true;
        }
        var stamp = principal.FindFirstValue(identity.Value.ClaimsIdentity.SecurityStampClaimType);
        return stamp == await users.GetSecurityStampAsync(user);
    }
}
