using Microsoft.AspNetCore.Antiforgery;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Authentication.Cookies;
using Microsoft.AspNetCore.Identity;
using UsageDashboard.Store;

namespace UsageDashboard.Access;

public sealed class AccessOptions
{
    /// <summary>Auth cookies are Secure; on by default outside Development (plain-http local runs need it off).</summary>
    public bool? SecureCookies { get; set; }
    /// <summary>Failed sign-ins for one account from one client address before that pair is refused, and the sliding window they are counted in.</summary>
    public int MaxFailedAccessAttempts { get; set; } = 5;
    public TimeSpan LockoutDuration { get; set; } = TimeSpan.FromMinutes(15);
    /// <summary>Failed sign-ins from one client address, whatever the account, before the address is refused (same window).</summary>
    public int MaxFailedSignInsPerAddress { get; set; } = 20;
    /// <summary>How soon a role change or removal reaches the sessions already signed in.</summary>
    public TimeSpan SessionValidationInterval { get; set; } = TimeSpan.FromMinutes(1);
    public DataProtectionKeyOptions DataProtection { get; set; } = new();
}

public static class AccessExtensions
{
    /// <summary>Identity on EF Core (users, roles), tokens and write keys: what the CLI and the app both need.</summary>
    public static IServiceCollection AddAccessCore(this IServiceCollection services, IConfiguration configuration)
    {
        var options = configuration.GetSection("Access").Get<AccessOptions>() ?? new AccessOptions();
        services.AddIdentityCore<DashboardUser>(o =>
            {
                o.User.RequireUniqueEmail = true;
                o.Password.RequiredLength = 12;
                o.Password.RequireDigit = true;
                o.Password.RequireLowercase = true;
                o.Password.RequireUppercase = true;
                o.Password.RequireNonAlphanumeric = false;
                // Failed sign-ins are throttled per address (SignInThrottle), not by locking the account.
                o.Lockout.AllowedForNewUsers = false;
            })
            .AddRoles<IdentityRole>()
            .AddEntityFrameworkStores<UsageDbContext>()
            .AddSignInManager();
        services.AddScoped<TokenService>();
        services.AddScoped<WriteKeyService>();
        services.AddScoped<UserAdminService>();
        services.AddSingleton<ManagedWriteKeys>();
        services.Configure<AccessOptions>(configuration.GetSection("Access"));
        return services;
    }

    /// <summary>Sign-in for the dashboards: cookies for people, bearer tokens for scripts, role policies.</summary>
    public static IServiceCollection AddAccessWeb(this IServiceCollection services, IConfiguration configuration, IHostEnvironment environment)
    {
        var options = configuration.GetSection("Access").Get<AccessOptions>() ?? new AccessOptions();
        var secure = options.SecureCookies ?? !environment.IsDevelopment();
        services.AddSharedDataProtection(options.DataProtection);
        services.AddProxyForwarding(configuration);
        services.AddSingleton<SignInThrottle>();
        services.AddScoped<DashboardSignIn>();
        services.AddHostedService<AccessStartupChecks>();
        // A role change or removal rotates the user's security stamp; sessions check it this often.
        services.AddOptions<SecurityStampValidatorOptions>().Configure<TimeProvider>((o, time) =>
        {
            o.ValidationInterval = options.SessionValidationInterval;
            o.TimeProvider = time;
        });

        services.AddAuthentication(o =>
            {
                o.DefaultScheme = "dashboard";
                o.DefaultChallengeScheme = "dashboard";
            })
            // A request with a bearer token is a script: only the token counts. Otherwise, the cookie.
            .AddPolicyScheme("dashboard", "Cookie or API token", o => o.ForwardDefaultSelector = context =>
                context.Request.Headers.Authorization.ToString().StartsWith("Bearer ", StringComparison.OrdinalIgnoreCase)
                    ? ApiTokenAuthenticationHandler.SchemeName
                    : IdentityConstants.ApplicationScheme)
            .AddScheme<AuthenticationSchemeOptions, ApiTokenAuthenticationHandler>(ApiTokenAuthenticationHandler.SchemeName, null)
            .AddCookie(IdentityConstants.ApplicationScheme, o =>
            {
                o.LoginPath = "/login";
                o.LogoutPath = "/logout";
                o.AccessDeniedPath = "/access-denied";
                o.Cookie.Name = "ud_auth";
                o.Cookie.HttpOnly = true;
                o.Cookie.SameSite = SameSiteMode.Lax;
                o.Cookie.SecurePolicy = secure ? CookieSecurePolicy.Always : CookieSecurePolicy.SameAsRequest;
                o.ExpireTimeSpan = TimeSpan.FromHours(12);
                o.SlidingExpiration = true;
                o.Events.OnRedirectToLogin = ctx => ApiAwareAsync(ctx, StatusCodes.Status401Unauthorized);
                o.Events.OnRedirectToAccessDenied = ctx => ApiAwareAsync(ctx, StatusCodes.Status403Forbidden);
                o.Events.OnValidatePrincipal = SecurityStampValidator.ValidatePrincipalAsync;
            })
            // Never issued (no two-factor sign-in), but the security-stamp validator signs it out when it rejects
            // a session, and an unregistered scheme would turn that rejection into a 500.
            .AddCookie(IdentityConstants.TwoFactorRememberMeScheme, o => o.Cookie.Name = "ud_2fa_remember");
        services.Configure<AntiforgeryOptions>(o =>
        {
            o.Cookie.Name = "ud_csrf";
            // Not a credential, and Always would make every plain-http page render fail; SameAsRequest
            // still marks it Secure whenever the site is served over HTTPS.
            o.Cookie.SecurePolicy = CookieSecurePolicy.SameAsRequest;
        });

        // Pages, forms, maintainer and admin endpoints take a signed-in person or an admin-scoped token;
        // the read APIs also take read-scoped tokens (TokenScopes).
        services.AddAuthorizationBuilder()
            .AddPolicy(Policies.ApiReader, p => p.RequireAuthenticatedUser().RequireRole(Roles.Viewer, Roles.Maintainer, Roles.Admin))
            .AddPolicy(Policies.Viewer, p => p.RequireAuthenticatedUser().RequireRole(Roles.Viewer, Roles.Maintainer, Roles.Admin).RequireAssertion(NotReadToken))
            .AddPolicy(Policies.Maintainer, p => p.RequireAuthenticatedUser().RequireRole(Roles.Maintainer, Roles.Admin).RequireAssertion(NotReadToken))
            .AddPolicy(Policies.Admin, p => p.RequireAuthenticatedUser().RequireRole(Roles.Admin).RequireAssertion(NotReadToken));
        services.AddCascadingAuthenticationState();
        if (environment.IsDevelopment())
        {
            services.AddHostedService<DevelopmentAdmin>();
        }
        return services;
    }

    /// <summary>A cookie session, or a token with the admin scope: only tokens carry the scope claim.</summary>
    private static bool NotReadToken(Microsoft.AspNetCore.Authorization.AuthorizationHandlerContext context) =>
        context.User.FindFirst(TokenService.ScopeClaim) is not { } scope || scope.Value == TokenScopes.Admin;

    /// <summary>APIs answer 401/403 with JSON; pages redirect to sign-in.</summary>
    private static async Task ApiAwareAsync(RedirectContext<CookieAuthenticationOptions> context, int status)
    {
        if (context.Request.Path.StartsWithSegments("/api"))
        {
            context.Response.StatusCode = status;
            await context.Response.WriteAsJsonAsync(status == StatusCodes.Status401Unauthorized
                ? new { error = "unauthorized", message = "Sign in, or send a valid personal API token as 'Authorization: Bearer <token>'." }
                : new { error = "forbidden", message = "Your role does not allow this." });
            return;
        }
        context.Response.Redirect(context.RedirectUri);
    }
}
