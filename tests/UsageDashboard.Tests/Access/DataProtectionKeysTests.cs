using Microsoft.AspNetCore.DataProtection;
using Microsoft.AspNetCore.DataProtection.KeyManagement;
using Microsoft.Extensions.Options;
using UsageDashboard.Access;
using Microsoft.Extensions.DependencyInjection;
using UsageDashboard.Tests.Infrastructure;

namespace UsageDashboard.Tests.Access;

/// <summary>Two app instances over one database behave as one for cookies and anti-forgery tokens.</summary>
public sealed class DataProtectionKeysTests : IClassFixture<DataProtectionKeysTests.Db>
{
    public sealed class Db : DatabaseFixture;

    private readonly Db _db;

    public DataProtectionKeysTests(Db db) => _db = db;

    [Fact]
    public void Protect_OnOneInstance_UnprotectsOnAnother()
    {
        using var first = new AppFactory(_db.ConnectionString);
        using var second = new AppFactory(_db.ConnectionString);
        _ = first.CreateClient();
        _ = second.CreateClient();
        var purpose = "Microsoft.AspNetCore.Authentication.Cookies.CookieAuthenticationMiddleware";

        var ticket = first.Services.GetRequiredService<IDataProtectionProvider>().CreateProtector(purpose).Protect("signed-in");

        Assert.Equal("signed-in", second.Services.GetRequiredService<IDataProtectionProvider>().CreateProtector(purpose).Unprotect(ticket));
        // Both factories run in one process and could share the default per-user key folder; the ring
        // that made this work must be the database's, which is what separate machines share.
        Assert.IsType<PostgresXmlRepository>(second.Services.GetRequiredService<IOptions<KeyManagementOptions>>().Value.XmlRepository);
    }

    [Fact]
    public async Task Protect_FirstUse_KeyStoredInTheDatabase()
    {
        using var app = new AppFactory(_db.ConnectionString);
        _ = app.CreateClient();

        app.Services.GetRequiredService<IDataProtectionProvider>().CreateProtector("test").Protect("x");

        await using var cmd = _db.DataSource.CreateCommand("SELECT count(*) FROM data_protection_keys");
        Assert.True((long)(await cmd.ExecuteScalarAsync())! >= 1);
    }
}
