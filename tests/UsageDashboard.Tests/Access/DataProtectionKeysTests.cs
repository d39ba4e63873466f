using Microsoft.AspNetCore.DataProtection;
using Microsoft.AspNetCore.Hosting;
using Microsoft.Extensions.Logging;
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

/// <summary>The key ring at rest: encrypted with a configured certificate, else a warning at start.</summary>
public sealed class DataProtectionCertificateTests : IClassFixture<DataProtectionCertificateTests.Db>, IDisposable
{
    public sealed class Db : DatabaseFixture;

    private readonly Db _db;
    private readonly string _folder = Directory.CreateTempSubdirectory("ud-dp-").FullName;

    public DataProtectionCertificateTests(Db db) => _db = db;

    public void Dispose() => Directory.Delete(_folder, recursive: true);

    [Fact]
    public async Task Protect_CertificateConfigured_KeysStoredEncryptedAndNoWarning()
    {
        var path = Path.Combine(_folder, "keys.pfx");
        using (var rsa = System.Security.Cryptography.RSA.Create(2048))
        {
            var request = new System.Security.Cryptography.X509Certificates.CertificateRequest(
                "CN=UsageDashboard test keys", rsa, System.Security.Cryptography.HashAlgorithmName.SHA256, System.Security.Cryptography.RSASignaturePadding.Pkcs1);
            using var certificate = request.CreateSelfSigned(DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddYears(1));
            await File.WriteAllBytesAsync(path, certificate.Export(System.Security.Cryptography.X509Certificates.X509ContentType.Pfx, "test-pass"));
        }
        // A ring another start left unencrypted would be used as it is.
        await using (var clear = _db.DataSource.CreateCommand("DELETE FROM data_protection_keys"))
        {
            await clear.ExecuteNonQueryAsync();
        }
        var logs = new LogCapture();
        await using var factory = new AppFactory(_db.ConnectionString, settings: new Dictionary<string, string?>
        {
            ["Access:DataProtection:CertificatePath"] = path,
            ["Access:DataProtection:CertificatePassword"] = "test-pass",
        });
        await using var app = factory.WithWebHostBuilder(b => b.ConfigureLogging(l => l.AddProvider(logs)));
        _ = app.CreateClient();
        var protector = app.Services.GetRequiredService<IDataProtectionProvider>().CreateProtector("test");

        var roundTrip = protector.Unprotect(protector.Protect("secret"));

        Assert.Equal("secret", roundTrip);
        await using var cmd = _db.DataSource.CreateCommand("SELECT string_agg(xml, '') FROM data_protection_keys");
        var stored = (string)(await cmd.ExecuteScalarAsync())!;
        Assert.Contains("encryptedSecret", stored, StringComparison.Ordinal);
        Assert.DoesNotContain("<masterKey", stored, StringComparison.Ordinal);
        Assert.DoesNotContain(logs.Entries, e => e.Message.StartsWith("Data-protection keys", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Start_NoCertificateOutsideDevelopment_Warns()
    {
        var logs = new LogCapture();
        await using var factory = new AppFactory(_db.ConnectionString);
        await using var app = factory.WithWebHostBuilder(b => b.ConfigureLogging(l => l.AddProvider(logs)));

        _ = app.CreateClient();

        Assert.Contains(logs.Entries, e => e.Level == LogLevel.Warning
            && e.Message.StartsWith("Data-protection keys", StringComparison.Ordinal)
            && e.Message.Contains("Access__DataProtection__CertificatePath", StringComparison.Ordinal));
    }
}
