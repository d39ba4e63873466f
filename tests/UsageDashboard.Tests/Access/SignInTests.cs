using System.Net;
using Microsoft.Extensions.DependencyInjection;
using UsageDashboard.Access;
using UsageDashboard.Store;
using UsageDashboard.Tests.Infrastructure;

namespace UsageDashboard.Tests.Access;

/// <summary>Sessions follow role changes; failed sign-ins are throttled per address without locking accounts.</summary>
public sealed class SignInTests : IClassFixture<SignInTests.Db>
{
    public sealed class Db : DatabaseFixture;

    private const string WrongPassword = "Wrong-password-42";
    private readonly Db _db;

    public SignInTests(Db db) => _db = db;

    [Fact]
    public async Task RoleChange_OtherSignedInSession_SignedOutWithinAMinute()
    {
        // Starts at the real time: the cookie's issue time and the stamp check must read one clock.
        var clock = new FakeTimeProvider(DateTimeOffset.UtcNow);
        await using var app = new AppFactory(_db.ConnectionString, clock);
        var email = await app.CreateUserAsync(Roles.Maintainer);
        var session = AccessTestSupport.Browser(app);
        Assert.Null(await AccessTestSupport.SignInErrorAsync(session, email, AppFactory.TestPassword));
        Assert.Equal(HttpStatusCode.OK, (await session.GetAsync("/")).StatusCode);

        await using (var scope = app.Services.CreateAsyncScope())
        {
            Assert.True((await scope.ServiceProvider.GetRequiredService<UserAdminService>().SetRoleAsync(email, Roles.Viewer)).Succeeded);
        }
        clock.Advance(TimeSpan.FromSeconds(61));
        var after = await session.GetAsync("/");

        Assert.Equal(HttpStatusCode.Redirect, after.StatusCode);
        Assert.StartsWith("https://localhost/login", after.Headers.Location!.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task SignIn_StrangerFailsFromOneAddress_OwnerSignsInFromAnotherAndTokensWork()
    {
        await using var factory = new AppFactory(_db.ConnectionString);
        await using var app = factory.WithPeerAddresses();
        var email = await app.CreateUserAsync(Roles.Viewer);
        var token = await app.CreateTokenAsync(email, TokenScopes.Read);
        var stranger = AccessTestSupport.Browser(app, peer: "203.0.113.7");

        for (var i = 0; i < 12; i++)
        {
            await AccessTestSupport.SignInErrorAsync(stranger, email, WrongPassword);
        }

        Assert.Equal(DashboardSignIn.ThrottledMessage, await AccessTestSupport.SignInErrorAsync(stranger, email, AppFactory.TestPassword));
        Assert.Null(await AccessTestSupport.SignInErrorAsync(AccessTestSupport.Browser(app, peer: "198.51.100.20"), email, AppFactory.TestPassword));
        Assert.Equal(HttpStatusCode.OK, (await app.ClientWithToken(token).GetAsync("/api/insights/overview")).StatusCode);
    }

    [Fact]
    public async Task SignIn_ManyAccountsFromOneAddress_AddressThrottledOthersNot()
    {
        await using var factory = new AppFactory(_db.ConnectionString, settings: new Dictionary<string, string?> { ["Access:MaxFailedSignInsPerAddress"] = "6" });
        await using var app = factory.WithPeerAddresses();
        var email = await app.CreateUserAsync(Roles.Viewer);
        var sprayer = AccessTestSupport.Browser(app, peer: "203.0.113.8");

        for (var i = 0; i < 6; i++)
        {
            Assert.Equal(DashboardSignIn.FailedMessage, await AccessTestSupport.SignInErrorAsync(sprayer, $"guess-{i}@example.test", WrongPassword));
        }

        Assert.Equal(DashboardSignIn.ThrottledMessage, await AccessTestSupport.SignInErrorAsync(sprayer, email, AppFactory.TestPassword));
        Assert.Null(await AccessTestSupport.SignInErrorAsync(AccessTestSupport.Browser(app, peer: "198.51.100.21"), email, AppFactory.TestPassword));
    }

    [Fact]
    public async Task SignIn_RepeatedFailures_SameMessagesForUnknownAndKnownAccounts()
    {
        await using var factory = new AppFactory(_db.ConnectionString);
        await using var app = factory.WithPeerAddresses();
        var known = await app.CreateUserAsync(Roles.Viewer);
        var unknown = $"nobody-{Guid.NewGuid():N}@example.test";

        var forKnown = new List<string?>();
        var forUnknown = new List<string?>();
        for (var i = 0; i < 7; i++)
        {
            forKnown.Add(await AccessTestSupport.SignInErrorAsync(AccessTestSupport.Browser(app, peer: "192.0.2.10"), known, WrongPassword));
            forUnknown.Add(await AccessTestSupport.SignInErrorAsync(AccessTestSupport.Browser(app, peer: "192.0.2.11"), unknown, WrongPassword));
        }

        Assert.Equal(forKnown, forUnknown);
        Assert.Equal(DashboardSignIn.FailedMessage, forKnown[0]);
        Assert.Equal(DashboardSignIn.ThrottledMessage, forKnown[^1]);
    }
}
