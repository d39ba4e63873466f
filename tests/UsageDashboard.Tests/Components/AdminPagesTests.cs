using Bunit;
using Microsoft.Extensions.DependencyInjection;
using UsageDashboard.Access;
using UsageDashboard.Components.Pages.Admin;
using UsageDashboard.Store;
using UsageDashboard.Tests.Infrastructure;

namespace UsageDashboard.Tests.Components;

/// <summary>The admin pages' interactive handlers against the real app services and database.</summary>
public sealed class AdminPagesTests : IClassFixture<AdminPagesTests.Db>, IAsyncLifetime
{
    public sealed class Db : DatabaseFixture;

    private readonly Db _db;
    private AppFactory _app = null!;
    private AsyncServiceScope _scope;
    private BunitContext _ctx = null!;

    public AdminPagesTests(Db db) => _db = db;

    public Task InitializeAsync()
    {
        _app = new AppFactory(_db.ConnectionString);
        _scope = _app.Services.CreateAsyncScope();
        _ctx = BunitHost.ForApp(_scope.ServiceProvider);
        return Task.CompletedTask;
    }

    public async Task DisposeAsync()
    {
        await _ctx.DisposeAsync();
        await _scope.DisposeAsync();
        await _app.DisposeAsync();
    }

    private async Task<System.Security.Claims.ClaimsPrincipal> AdminAsync(string? email = null)
    {
        email = await _app.CreateUserAsync(Roles.Admin, email);
        var user = await _scope.ServiceProvider.GetRequiredService<UserAdminService>().FindByEmailAsync(email);
        return BunitHost.User(email, Roles.Admin, user!.Id);
    }

    private async Task<IReadOnlyList<UserInfo>> UsersAsync()
    {
        await using var scope = _app.Services.CreateAsyncScope();
        return await scope.ServiceProvider.GetRequiredService<UserAdminService>().ListAsync();
    }

    private static void ConfirmMessageBox(Bunit.IRenderedComponent<Bunit.Rendering.ContainerFragment> cut, string yes) =>
        cut.WaitForElement(".mud-dialog").QuerySelectorAll("button").Single(b => b.TextContent.Trim() == yes).Click();

    [Fact]
    public async Task Tokens_CreateWithAdminScope_StoredAdminAndSecretShownOnce()
    {
        var admin = await AdminAsync();
        var cut = BunitHost.RenderAs<ApiTokens>(_ctx, admin);

        cut.WaitForElement("[data-field=name] input, input[data-field=name]").Change("deploy script");
        cut.Find("[data-field=days] input, input[data-field=days]").Change("30");
        cut.Find($"[data-scope={TokenScopes.Admin}] input, input[data-scope={TokenScopes.Admin}]").Click();
        cut.Find("[data-action=create]").Click();

        var secret = cut.WaitForElement("[data-secret]").TextContent;
        await using var scope = _app.Services.CreateAsyncScope();
        var user = await scope.ServiceProvider.GetRequiredService<UserAdminService>().FindByEmailAsync(admin.Identity!.Name!);
        var token = Assert.Single(await scope.ServiceProvider.GetRequiredService<TokenService>().ListAsync(user!.Id, default));
        Assert.Equal(("deploy script", TokenScopes.Admin), (token.Name, token.Scope));
        Assert.StartsWith(token.Prefix, secret, StringComparison.Ordinal);
        Assert.Contains("deploy script", cut.Find("[data-table=tokens]").TextContent, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Users_UserAddedAfterRender_RoleChangeGoesToTheUserWhoseRowWasUsed()
    {
        var admin = await AdminAsync($"m-admin-{Guid.NewGuid():N}@example.test");
        var target = await _app.CreateUserAsync(Roles.Viewer, $"t-target-{Guid.NewGuid():N}@example.test");
        var cut = BunitHost.RenderAs<Users>(_ctx, admin);
        cut.WaitForAssertion(() => Assert.Contains(target, cut.Find("[data-table=users]").TextContent, StringComparison.Ordinal));
        var row = cut.FindAll("[data-table=users] tbody tr").Single(tr => tr.TextContent.Contains(target, StringComparison.Ordinal));
        // Sorts before everyone above, so a position-bound action would now hit another user.
        var early = await _app.CreateUserAsync(Roles.Viewer, $"a-early-{Guid.NewGuid():N}@example.test");

        row.QuerySelectorAll(".mud-toggle-item").Single(b => b.TextContent.Trim() == Roles.Maintainer).Click();
        ConfirmMessageBox(cut, "Change role");

        cut.WaitForAssertion(() => Assert.Contains("is now maintainer", cut.Find("[data-message]").TextContent, StringComparison.Ordinal), TimeSpan.FromSeconds(10));
        var users = await UsersAsync();
        Assert.Equal(Roles.Maintainer, users.Single(u => u.Email == target).Role);
        Assert.Equal(Roles.Viewer, users.Single(u => u.Email == early).Role);
        Assert.Equal(Roles.Admin, users.Single(u => u.Email == admin.Identity!.Name).Role);
    }

    [Fact]
    public async Task WriteKeys_RevokeConfirmed_KeyRevoked()
    {
        var admin = await AdminAsync();
        var created = await _scope.ServiceProvider.GetRequiredService<WriteKeyService>().CreateAsync("revoketool", "old CLI", default);
        var cut = BunitHost.RenderAs<WriteKeys>(_ctx, admin);

        cut.WaitForAssertion(() => Assert.Contains("revoketool", cut.Find("[data-table=write-keys]").TextContent, StringComparison.Ordinal));
        cut.FindAll("[data-table=write-keys] tbody tr").Single(tr => tr.TextContent.Contains("revoketool", StringComparison.Ordinal))
            .QuerySelector("[data-action=revoke]")!.Click();
        ConfirmMessageBox(cut, "Revoke");

        cut.WaitForAssertion(() => Assert.Contains("revoked", cut.FindAll("[data-table=write-keys] tbody tr")
            .Single(tr => tr.TextContent.Contains("revoketool", StringComparison.Ordinal)).TextContent, StringComparison.Ordinal));
        await using var scope = _app.Services.CreateAsyncScope();
        Assert.Null(await scope.ServiceProvider.GetRequiredService<WriteKeyService>().FindToolAsync(created.Secret, default));
    }

    [Fact]
    public async Task Handlers_UserNoLongerAdmin_Refused()
    {
        var viewer = BunitHost.User("former-admin@example.test", Roles.Viewer);
        var cut = BunitHost.RenderAs<WriteKeys>(_ctx, viewer);
        cut.WaitForElement("[data-field=tool] input, input[data-field=tool]").Change("sneakytool");
        cut.Find("[data-field=name] input, input[data-field=name]").Change("sneaky");

        cut.Find("[data-action=create]").Click();

        cut.WaitForAssertion(() => Assert.Contains("Only admins", cut.Find("[data-error]").TextContent, StringComparison.Ordinal));
        Assert.DoesNotContain(await _scope.ServiceProvider.GetRequiredService<WriteKeyService>().ListAsync(default), k => k.Tool == "sneakytool");
    }
}
