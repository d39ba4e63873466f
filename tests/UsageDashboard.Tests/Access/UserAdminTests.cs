using System.Net;
using AngleSharp;
using Microsoft.Extensions.DependencyInjection;
using UsageDashboard.Access;
using UsageDashboard.Tests.Infrastructure;

namespace UsageDashboard.Tests.Access;

public sealed class UserAdminTests : IClassFixture<UserAdminTests.Db>
{
    public sealed class Db : DatabaseFixture;

    private readonly Db _db;

    public UserAdminTests(Db db) => _db = db;

    [Fact]
    public async Task RemoveAsync_TwoAdminsRemovedAtOnce_OneAdminLeft()
    {
        await using var app = new AppFactory(_db.ConnectionString);

        // Several rounds: without the lock both removals pass the check in most of them.
        for (var round = 0; round < 5; round++)
        {
            var admins = await AdminsAsync(app);
            while (admins.Count < 2)
            {
                await app.CreateUserAsync(Roles.Admin);
                admins = await AdminsAsync(app);
            }

            var results = await Task.WhenAll(admins.Take(2).Select(email => Task.Run(async () =>
            {
                await using var scope = app.Services.CreateAsyncScope();
                return await scope.ServiceProvider.GetRequiredService<UserAdminService>().RemoveAsync(email);
            })));

            Assert.Single(results, r => r.Succeeded);
            Assert.Single(await AdminsAsync(app));
        }
    }

    [Fact]
    public async Task UsersPage_UserAddedBetweenLoadAndPost_ChangesTheUserWhoseRowWasUsed()
    {
        await using var app = new AppFactory(_db.ConnectionString);
        var admin = await app.CreateUserAsync(Roles.Admin, $"m-admin-{Guid.NewGuid():N}@example.test");
        var target = await app.CreateUserAsync(Roles.Viewer, $"t-target-{Guid.NewGuid():N}@example.test");
        var browser = AccessTestSupport.Browser(app);
        Assert.Null(await AccessTestSupport.SignInErrorAsync(browser, admin, AppFactory.TestPassword));
        var html = await browser.GetStringAsync("/admin/users");
        var doc = await BrowsingContext.New(Configuration.Default).OpenAsync(r => r.Content(html));
        var row = doc.QuerySelectorAll("table[data-table='users'] tr").Single(tr => tr.TextContent.Contains(target, StringComparison.Ordinal));
        var fields = row.QuerySelectorAll("form input[type='hidden']").ToDictionary(i => i.GetAttribute("name")!, i => i.GetAttribute("value") ?? "");
        fields["Row.Role"] = Roles.Maintainer;
        fields["Row.Action"] = "role";
        // Sorts before everyone above, so every row moves down one place.
        var early = await app.CreateUserAsync(Roles.Viewer, $"a-early-{Guid.NewGuid():N}@example.test");

        var response = await browser.PostAsync("/admin/users", new FormUrlEncodedContent(fields));

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var users = await ListAsync(app);
        Assert.Equal(Roles.Maintainer, users.Single(u => u.Email == target).Role);
        Assert.Equal(Roles.Viewer, users.Single(u => u.Email == early).Role);
        Assert.Equal(Roles.Admin, users.Single(u => u.Email == admin).Role);
    }

    private static async Task<IReadOnlyList<UserInfo>> ListAsync(AppFactory app)
    {
        await using var scope = app.Services.CreateAsyncScope();
        return await scope.ServiceProvider.GetRequiredService<UserAdminService>().ListAsync();
    }

    private static async Task<List<string>> AdminsAsync(AppFactory app) =>
        (await ListAsync(app)).Where(u => u.Role == Roles.Admin).Select(u => u.Email).ToList();
}
