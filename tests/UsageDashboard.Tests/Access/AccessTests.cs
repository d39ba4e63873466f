using System.Net;
using System.Net.Http.Headers;
using AngleSharp;
using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using UsageDashboard.Access;
using UsageDashboard.Tests.Infrastructure;

namespace UsageDashboard.Tests.Access;

public sealed class AccessTests : IClassFixture<AccessTests.Db>
{
    public sealed class Db : DatabaseFixture;

    /// <summary>Routes anyone may call: health and readiness, API description, sign-in, and (when present) ingestion, hub and badges.</summary>
    private static readonly string[] s_publicPrefixes =
        ["/healthz", "/readyz", "/openapi/", "/login", "/logout", "/access-denied", "/api/v1/", "/com.snowplowanalytics.snowplow/", "/i", "/api/hub/", "/badges/",
         // Opt-in public pages (Public:Tools): anonymous by design, k-anonymous figures only (PublicPagesTests).
         "/public/"];

    private static readonly DateTimeOffset s_now = new(2026, 11, 22, 12, 0, 0, TimeSpan.Zero);
    private readonly Db _db;

    public AccessTests(Db db) => _db = db;

    private AppFactory CreateApp(FakeTimeProvider? time = null) => new(_db.ConnectionString, time ?? new FakeTimeProvider(s_now));

    private static HttpClient Browser(AppFactory app) =>
        app.CreateClient(new WebApplicationFactoryClientOptions { AllowAutoRedirect = false, BaseAddress = new Uri("https://localhost"), HandleCookies = true });

    [Fact]
    public async Task Endpoints_EveryNonPublicRoute_RequiresAuthorization()
    {
        await using var app = CreateApp();
        _ = app.Server;
        var endpoints = app.Services.GetRequiredService<EndpointDataSource>().Endpoints.OfType<RouteEndpoint>().ToList();

        var unprotected = endpoints
            .Where(e => !IsPublic("/" + (e.RoutePattern.RawText ?? "").TrimStart('/')))
            .Where(e => e.Metadata.GetMetadata<IAllowAnonymous>() is not null || e.Metadata.GetOrderedMetadata<IAuthorizeData>().Count == 0)
            .Select(e => e.RoutePattern.RawText)
            .ToList();

        Assert.True(endpoints.Count > 10, "the endpoint data source looks empty");
        Assert.Empty(unprotected);
    }

    [Fact]
    public async Task Endpoints_AnonymousRequests_PagesRedirectApisGet401()
    {
        await using var app = CreateApp();
        var client = Browser(app);
        var endpoints = app.Services.GetRequiredService<EndpointDataSource>().Endpoints.OfType<RouteEndpoint>()
            .Where(e => e.Metadata.GetMetadata<Microsoft.AspNetCore.Routing.HttpMethodMetadata>()?.HttpMethods.Contains("GET") != false)
            .Select(e => "/" + (e.RoutePattern.RawText ?? "").TrimStart('/'))
            .Where(p => !IsPublic(p) && !p.Contains('{', StringComparison.Ordinal) && !p.Contains('.', StringComparison.Ordinal))
            .Distinct()
            .ToList();

        Assert.Contains("/", endpoints);
        Assert.Contains("/api/insights/overview", endpoints);
        foreach (var path in endpoints)
        {
            var response = await client.GetAsync(path);
            if (path.StartsWith("/api/", StringComparison.Ordinal))
            {
                Assert.True(response.StatusCode == HttpStatusCode.Unauthorized, $"{path} answered {response.StatusCode}");
            }
            else
            {
                Assert.True(response.StatusCode == HttpStatusCode.Redirect, $"{path} answered {response.StatusCode}");
                Assert.StartsWith("https://localhost/login?ReturnUrl=", response.Headers.Location!.ToString(), StringComparison.Ordinal);
            }
        }
    }

    [Fact]
    public async Task Login_CorrectPassword_SignsInWithSafeCookie()
    {
        await using var app = CreateApp();
        var email = await app.CreateUserAsync(Roles.Viewer);
        var client = Browser(app);

        var response = await PostLoginAsync(client, email, AppFactory.TestPassword, returnUrl: "/?range=7d");

        Assert.Equal(HttpStatusCode.Redirect, response.StatusCode);
        Assert.Equal("/?range=7d", PathOf(response.Headers.Location!));
        var cookie = response.Headers.GetValues("Set-Cookie").Single(c => c.StartsWith("ud_auth=", StringComparison.Ordinal)).ToLowerInvariant();
        Assert.Contains("httponly", cookie, StringComparison.Ordinal);
        Assert.Contains("samesite=lax", cookie, StringComparison.Ordinal);
        Assert.Contains("secure", cookie, StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("/")).StatusCode);
    }

    [Fact]
    public async Task Login_ExternalReturnUrl_GoesToOverviewInstead()
    {
        await using var app = CreateApp();
        var email = await app.CreateUserAsync(Roles.Viewer);

        var response = await PostLoginAsync(Browser(app), email, AppFactory.TestPassword, returnUrl: "//evil.example/phish");

        Assert.Equal("/", PathOf(response.Headers.Location!));
    }

    [Fact]
    public async Task Login_WrongPasswordFiveTimesFromOneAddress_RefusedThereEvenWithRightPassword()
    {
        await using var app = CreateApp();
        var email = await app.CreateUserAsync(Roles.Viewer);
        var client = Browser(app);

        var first = await PostLoginAsync(client, email, "wrong-password-1A");
        Assert.Equal(HttpStatusCode.OK, first.StatusCode);
        Assert.Contains("Email or password is incorrect", await first.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        for (var i = 0; i < 4; i++)
        {
            await PostLoginAsync(client, email, "wrong-password-1A");
        }
        var locked = await PostLoginAsync(client, email, AppFactory.TestPassword);

        Assert.Equal(HttpStatusCode.OK, locked.StatusCode);
        Assert.Contains("locked", await locked.Content.ReadAsStringAsync(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Login_PostWithoutAntiforgeryToken_Rejected()
    {
        await using var app = CreateApp();
        var email = await app.CreateUserAsync(Roles.Viewer);

        var response = await Browser(app).PostAsync("/login", new FormUrlEncodedContent(new Dictionary<string, string>
        {
            ["_handler"] = "login",
            ["Input.Email"] = email,
            ["Input.Password"] = AppFactory.TestPassword,
        }));

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.False(response.Headers.TryGetValues("Set-Cookie", out var cookies) && cookies.Any(c => c.StartsWith("ud_auth=", StringComparison.Ordinal)));
    }

    [Fact]
    public async Task Roles_ViewerOnAdminPage_Forbidden_AdminAllowed()
    {
        await using var app = CreateApp();
        var viewer = await app.CreateClientAsAsync(Roles.Viewer);
        var admin = await app.CreateClientAsAsync(Roles.Admin);

        Assert.Equal(HttpStatusCode.OK, (await viewer.GetAsync("/api/insights/overview")).StatusCode);
        Assert.Equal(HttpStatusCode.Forbidden, (await viewer.GetAsync("/admin/users")).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await admin.GetAsync("/admin/users")).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await admin.GetAsync("/admin/write-keys")).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await admin.GetAsync("/admin/tokens")).StatusCode);
    }

    [Fact]
    public async Task Token_RevokedExpiredOrAltered_401()
    {
        var clock = new FakeTimeProvider(s_now);
        await using var app = CreateApp(clock);
        var email = await app.CreateUserAsync(Roles.Viewer);
        CreatedToken expiring, revoked;
        await using (var scope = app.Services.CreateAsyncScope())
        {
            var tokens = scope.ServiceProvider.GetRequiredService<TokenService>();
            var user = await scope.ServiceProvider.GetRequiredService<UserAdminService>().FindByEmailAsync(email);
            expiring = await tokens.CreateAsync(user!, "expiring", TimeSpan.FromDays(1), default);
            revoked = await tokens.CreateAsync(user!, "revoked", null, default);
            await tokens.RevokeAsync(revoked.Id, null, default);
        }
        var altered = expiring.Secret[..^1] + (expiring.Secret[^1] == 'A' ? 'B' : 'A');

        Assert.Equal(HttpStatusCode.OK, await StatusWithTokenAsync(app, expiring.Secret));
        Assert.Equal(HttpStatusCode.Unauthorized, await StatusWithTokenAsync(app, altered));
        Assert.Equal(HttpStatusCode.Unauthorized, await StatusWithTokenAsync(app, revoked.Secret));
        clock.Advance(TimeSpan.FromDays(1));
        Assert.Equal(HttpStatusCode.Unauthorized, await StatusWithTokenAsync(app, expiring.Secret));
    }

    [Fact]
    public async Task Headers_HtmlResponse_CspWithoutInlineScriptAndNoFraming()
    {
        await using var app = CreateApp();

        // HSTS is never sent to localhost, so ask as a real host name would.
        var client = app.CreateClient(new WebApplicationFactoryClientOptions { BaseAddress = new Uri("https://dashboard.example.org") });
        var response = await client.GetAsync("/login");

        var csp = response.Headers.GetValues("Content-Security-Policy").Single();
        Assert.Contains("script-src 'self';", csp, StringComparison.Ordinal);
        Assert.DoesNotContain("unsafe-eval", csp, StringComparison.Ordinal);
        // Inline style only, for MudBlazor (its theme's <style> element and style attributes); never inline script.
        var inline = csp.Split(';', StringSplitOptions.TrimEntries).Where(d => d.Contains("unsafe-inline", StringComparison.Ordinal)).Select(d => d.Split(' ')[0]);
        Assert.Equal(["style-src-elem", "style-src-attr"], inline);
        Assert.Contains("frame-ancestors 'none'", csp, StringComparison.Ordinal);
        Assert.Equal("nosniff", response.Headers.GetValues("X-Content-Type-Options").Single());
        Assert.Equal("strict-origin-when-cross-origin", response.Headers.GetValues("Referrer-Policy").Single());
        Assert.True(response.Headers.Contains("Strict-Transport-Security"));
    }

    [Theory]
    [InlineData("90d", 90 * 24 * 60)]
    [InlineData("12h", 12 * 60)]
    [InlineData("30m", 30)]
    public void ParseLifetime_Units_Minutes(string text, int minutes)
    {
        Assert.Equal(TimeSpan.FromMinutes(minutes), UsageDashboard.Cli.AccessCommands.ParseLifetime(text));
    }

    [Theory]
    [InlineData("")]
    [InlineData("90")]
    [InlineData("-1d")]
    [InlineData("1y")]
    public void ParseLifetime_Invalid_Null(string text)
    {
        Assert.Null(UsageDashboard.Cli.AccessCommands.ParseLifetime(text));
    }

    [Theory]
    [InlineData("Bearer dev-dbt-write-key", false)]
    [InlineData("Bearer udt_not-issued-by-us", true)]
    public async Task ApiTokenScheme_BearerValue_OnlyTokenShapedValuesCanFail(string header, bool fails)
    {
        // Collectors send write keys as "Authorization: Bearer"; the API-token scheme runs on every request, and
        // a failure for each of them logged a line per ingested request (300 a second at the benchmark's rate).
        await using var app = CreateApp();
        using var scope = app.Services.CreateScope();
        var context = new Microsoft.AspNetCore.Http.DefaultHttpContext { RequestServices = scope.ServiceProvider };
        context.Request.Headers.Authorization = header;
        var handler = await scope.ServiceProvider.GetRequiredService<Microsoft.AspNetCore.Authentication.IAuthenticationHandlerProvider>()
            .GetHandlerAsync(context, ApiTokenAuthenticationHandler.SchemeName);

        var result = await handler!.AuthenticateAsync();

        Assert.False(result.Succeeded);
        Assert.Equal(fails, result.Failure is not null);
        Assert.Equal(!fails, result.None);
    }

    private static string PathOf(Uri location) => location.IsAbsoluteUri ? location.PathAndQuery : location.OriginalString;

    private static async Task<HttpStatusCode> StatusWithTokenAsync(AppFactory app, string token)
    {
        var client = app.CreateClient();
        client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", token);
        return (await client.GetAsync("/api/insights/overview")).StatusCode;
    }

    /// <summary>Signs in the way a browser does: load the form, post its hidden fields back with the credentials.</summary>
    internal static async Task<HttpResponseMessage> PostLoginAsync(HttpClient client, string email, string password, string? returnUrl = null)
    {
        var path = "/login" + (returnUrl is null ? "" : "?ReturnUrl=" + Uri.EscapeDataString(returnUrl));
        var html = await client.GetStringAsync(path);
        var doc = await BrowsingContext.New(Configuration.Default).OpenAsync(r => r.Content(html));
        var fields = doc.QuerySelectorAll("form input[type='hidden']")
            .ToDictionary(i => i.GetAttribute("name")!, i => i.GetAttribute("value") ?? "");
        fields["Input.Email"] = email;
        fields["Input.Password"] = password;
        return await client.PostAsync(path, new FormUrlEncodedContent(fields));
    }

    private static bool IsPublic(string path) =>
        s_publicPrefixes.Any(p => path == p.TrimEnd('/') || path.StartsWith(p, StringComparison.Ordinal))
        || path.StartsWith("/lib/", StringComparison.Ordinal) || path.StartsWith("/js/", StringComparison.Ordinal)
        || path.Contains(":file}", StringComparison.Ordinal) || path.StartsWith("/css/", StringComparison.Ordinal) || path.StartsWith("/favicon", StringComparison.Ordinal)
        // Components' collocated JS modules (the table's CSV download): static files without data.
        || (path.StartsWith("/Components/", StringComparison.Ordinal) && path.Contains(".razor.js", StringComparison.Ordinal))
        // Static assets of the interactive UI: blazor.web.js, MudBlazor's files, the scoped-CSS bundle.
        || path.StartsWith("/_framework/", StringComparison.Ordinal) || path.StartsWith("/_content/", StringComparison.Ordinal)
        || (path.StartsWith("/UsageDashboard.", StringComparison.Ordinal) && path.Contains(".styles.css", StringComparison.Ordinal));
}

public sealed class ManagedWriteKeyTests : IClassFixture<ManagedWriteKeyTests.Db>
{
    public sealed class Db : DatabaseFixture;

    private readonly Db _db;

    public ManagedWriteKeyTests(Db db) => _db = db;

    [Fact]
    public async Task PostEvents_ManagedWriteKey_AcceptedOnlyWhileActive()
    {
        await using var app = new AppFactory(_db.ConnectionString);
        CreatedWriteKey active, revoked;
        await using (var scope = app.Services.CreateAsyncScope())
        {
            var keys = scope.ServiceProvider.GetRequiredService<WriteKeyService>();
            active = await keys.CreateAsync("jetty", "ci", default);
            revoked = await keys.CreateAsync("jetty", "old", default);
            await keys.RevokeAsync(revoked.Id, default);
        }
        var body = """{"eventId":"7d1f6a52-4a0e-4a5b-9a8e-3b1c2d3e4f50","installationId":"inst-k","command":"fetch","status":"succeeded","timestamp":"2026-11-20T10:00:00Z"}""";

        async Task<HttpStatusCode> PostAsync(string key)
        {
            var client = app.CreateClient();
            client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", key);
            return (await client.PostAsync("/api/v1/events", new StringContent(body, System.Text.Encoding.UTF8, "application/json"))).StatusCode;
        }

        Assert.Equal(HttpStatusCode.OK, await PostAsync(active.Secret));
        Assert.Equal(HttpStatusCode.Unauthorized, await PostAsync(revoked.Secret));
        Assert.Equal(HttpStatusCode.Unauthorized, await PostAsync(active.Secret[..^2] + "xx"));
        await using var ctx = _db.CreateDbContext();
        Assert.Equal("jetty", (await Microsoft.EntityFrameworkCore.EntityFrameworkQueryableExtensions.SingleAsync(ctx.Events)).Tool);
    }
}
