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

    private static async Task<IReadOnlyList<UserInfo>> ListAsync(AppFactory app)
    {
        await using var scope = app.Services.CreateAsyncScope();
        return await scope.ServiceProvider.GetRequiredService<UserAdminService>().ListAsync();
    }

    private static async Task<List<string>> AdminsAsync(AppFactory app) =>
        (await ListAsync(app)).Where(u => u.Role == Roles.Admin).Select(u => u.Email).ToList();
}
