using System.Security.Claims;
using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.Components.Authorization;

namespace UsageDashboard.Components.Shared;

/// <summary>
/// The check an interactive handler makes before it changes anything. Hidden buttons are only a courtesy: a
/// circuit outlives the request that rendered it, and a user's role can change while it runs.
/// </summary>
public static class ActionGuard
{
    /// <summary>The user's name when they satisfy <paramref name="policy"/> now, otherwise null.</summary>
    public static async Task<string?> ActorAsync(IAuthorizationService authorization, Task<AuthenticationState>? state, string policy)
    {
        if (state is null)
        {
            return null;
        }
        var user = (await state).User;
        if (!(await authorization.AuthorizeAsync(user, policy)).Succeeded)
        {
            return null;
        }
        return user.Identity?.Name ?? user.FindFirstValue(ClaimTypes.NameIdentifier) ?? "unknown";
    }
}
