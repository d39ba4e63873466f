using System.Security.Cryptography.X509Certificates;
using System.Xml.Linq;
using Microsoft.AspNetCore.DataProtection;
using Microsoft.AspNetCore.DataProtection.KeyManagement;
using Microsoft.AspNetCore.DataProtection.Repositories;
using Microsoft.Extensions.Options;
using Npgsql;

namespace UsageDashboard.Access;

/// <summary>
/// Data-protection keys (they sign sign-in cookies and anti-forgery tokens) kept in the events database,
/// so every instance behind a load balancer accepts the cookies the others issued, and a restarted or
/// replaced container does not sign everyone out. Keys are XML the framework encrypts as configured;
/// rows are only ever added (the key manager expires keys itself).
/// </summary>
public sealed class PostgresXmlRepository(NpgsqlDataSource dataSource) : IXmlRepository
{
    public IReadOnlyCollection<XElement> GetAllElements()
    {
        using var cmd = dataSource.CreateCommand("SELECT xml FROM data_protection_keys ORDER BY id");
        using var reader = cmd.ExecuteReader();
        var elements = new List<XElement>();
        while (reader.Read())
        {
            elements.Add(XElement.Parse(reader.GetString(0)));
        }
        return elements;
    }

    public void StoreElement(XElement element, string friendlyName)
    {
        using var cmd = dataSource.CreateCommand("INSERT INTO data_protection_keys (friendly_name, xml) VALUES (@name, @xml)");
        cmd.Parameters.AddWithValue("name", friendlyName);
        cmd.Parameters.AddWithValue("xml", element.ToString(SaveOptions.DisableFormatting));
        cmd.ExecuteNonQuery();
    }
}

/// <summary><c>Access:DataProtection</c>: the certificate that encrypts the key ring at rest.</summary>
public sealed class DataProtectionKeyOptions
{
    /// <summary>A PFX/PKCS#12 file with a private key; every instance needs the same one.</summary>
    public string? CertificatePath { get; set; }
    public string? CertificatePassword { get; set; }

    public bool ProtectsKeys => !string.IsNullOrWhiteSpace(CertificatePath);
}

public static class DataProtectionExtensions
{
    /// <summary>
    /// One application name and one key ring in the database for every instance; with a certificate configured,
    /// the keys are stored encrypted with it, so a copy of the database alone cannot forge sign-in cookies.
    /// </summary>
    public static IServiceCollection AddSharedDataProtection(this IServiceCollection services, DataProtectionKeyOptions? keys = null)
    {
        var builder = services.AddDataProtection().SetApplicationName("UsageDashboard");
        if (keys is { ProtectsKeys: true })
        {
            builder.ProtectKeysWithCertificate(X509CertificateLoader.LoadPkcs12FromFile(keys.CertificatePath!, keys.CertificatePassword));
        }
        services.AddSingleton<IConfigureOptions<KeyManagementOptions>>(sp =>
            new ConfigureOptions<KeyManagementOptions>(o => o.XmlRepository = new PostgresXmlRepository(sp.GetRequiredService<NpgsqlDataSource>())));
        return services;
    }
}
