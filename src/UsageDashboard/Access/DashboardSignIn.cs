using System.Net;
using Microsoft.AspNetCore.Identity;
using UsageDashboard.Store;

namespace UsageDashboard.Access;

public enum SignInOutcome
{
    SignedIn,
    Failed,
    Throttled,
}

/// <summary>
/// Password sign-in for the login page: throttled per client address and per (account, address) by
/// <see cref="SignInThrottle"/> rather than by Identity's account lockout, which anyone who knows an email
/// could trigger. Unknown accounts cost a password hash too, and get the same answers as known ones.
/// </summary>
public sealed class DashboardSignIn(SignInManager<DashboardUser> signIn, SignInThrottle throttle)
{
    public const string FailedMessage = "Email or password is incorrect.";
    public const string ThrottledMessage = "Too many failed attempts: sign-in from here is locked for a while. Try again later or ask an admin.";

    private static readonly DashboardUser s_nobody = new() { UserName = "nobody" };
    private static readonly Lazy<string> s_nobodyHash = new(() => new PasswordHasher<DashboardUser>().HashPassword(s_nobody, "no account has this password"));

    public async Task<SignInOutcome> SignInAsync(string email, string password, IPAddress? address)
    {
        if (!throttle.IsAllowed(email, address))
        {
            return SignInOutcome.Throttled;
        }
        var user = await signIn.UserManager.FindByNameAsync(email);
        if (user is null)
        {
            // As long as a wrong password for a real account, so the time taken does not tell them apart.
            signIn.UserManager.PasswordHasher.VerifyHashedPassword(s_nobody, s_nobodyHash.Value, password);
            throttle.RecordFailure(email, address);
            return SignInOutcome.Failed;
        }
        var result = await signIn.PasswordSignInAsync(user, password, isPersistent: false, lockoutOnFailure: false);
        if (result.Succeeded)
        {
            throttle.RecordSuccess(email, address);
            return SignInOutcome.SignedIn;
        }
        throttle.RecordFailure(email, address);
        // An account an admin locked (Identity lockout) reads like a wrong password: nothing about the account leaks.
        return SignInOutcome.Failed;
    }
}
