using System.Net;
using Microsoft.Extensions.DependencyInjection;
using UsageDashboard.Access;
using UsageDashboard.Store;
using UsageDashboard.Tests.Infrastructure;

namespace UsageDashboard.Tests.Access;

public sealed class TokenScopeTests : IClassFixture<TokenScopeTests.Db>
{
    public sealed class Db : DatabaseFixture;

    private readonly Db _db;

    public TokenScopeTests(Db db) => _db = db;

    [Fact]
    public async Task ReadToken_OfAnAdmin_ReadApisOnlyNoPagesFormsOrAdmin()
    {
        await using var app = new AppFactory(_db.ConnectionString);
        var client = app.ClientWithToken(await app.CreateTokenAsync(await app.CreateUserAsync(Roles.Admin), TokenScopes.Read));

        Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("/api/insights/overview")).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("/api/health/flags")).StatusCode);
        var page = await client.GetAsync("/");
        Assert.Equal(HttpStatusCode.Forbidden, page.StatusCode);
        Assert.Contains("--scope admin", await page.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.Forbidden, (await client.GetAsync("/admin/users")).StatusCode);
        Assert.Equal(HttpStatusCode.Forbidden, (await client.PostAsync("/api/health/evaluate", null)).StatusCode);
    }

    [Fact]
    public async Task AdminToken_OfAnAdmin_OpensPagesAdminAndEvaluate()
    {
        await using var app = new AppFactory(_db.ConnectionString);
        var client = app.ClientWithToken(await app.CreateTokenAsync(await app.CreateUserAsync(Roles.Admin), TokenScopes.Admin));

        Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("/")).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("/admin/users")).StatusCode);
        // A token needs no antiforgery token: a browser never sends the Authorization header by itself.
        Assert.Equal(HttpStatusCode.OK, (await client.PostAsync("/api/health/evaluate", null)).StatusCode);
    }

    [Fact]
    public async Task CreateToken_NoScopeGiven_Read()
    {
        await using var app = new AppFactory(_db.ConnectionString);
        var email = await app.CreateUserAsync(Roles.Viewer);
        await using var scope = app.Services.CreateAsyncScope();
        var user = await scope.ServiceProvider.GetRequiredService<UserAdminService>().FindByEmailAsync(email);

        var token = await scope.ServiceProvider.GetRequiredService<TokenService>().CreateAsync(user!, "script", null, default);

        Assert.Equal(TokenScopes.Read, token.Scope);
        Assert.Equal(TokenScopes.Read, (await scope.ServiceProvider.GetRequiredService<TokenService>().ListAsync(user!.Id, default)).Single().Scope);
    }
}
