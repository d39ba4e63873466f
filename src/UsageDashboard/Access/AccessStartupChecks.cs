using Microsoft.Extensions.Options;
using Npgsql;
using UsageDashboard.Database;
using UsageDashboard.Ingestion;

namespace UsageDashboard.Access;

/// <summary>
/// Start-up warnings for what a public deployment should not run without: tools that accept no write key
/// (their events are refused), and (outside Development) data-protection keys stored unencrypted.
/// </summary>
public sealed class AccessStartupChecks(
    IServiceProvider services, IOptions<Dictionary<string, ToolOptions>> tools, IOptions<AccessOptions> options, IHostEnvironment environment, ILogger<AccessStartupChecks> logger)
    : IHostedService
{
    public async Task StartAsync(CancellationToken cancellationToken)
    {
        if (!environment.IsDevelopment() && !options.Value.DataProtection.ProtectsKeys)
        {
            logger.LogWarning(
                "Data-protection keys (they sign sign-in cookies and antiforgery tokens) are stored unencrypted in the database. " +
                "Set Access__DataProtection__CertificatePath (a PFX file) and Access__DataProtection__CertificatePassword to encrypt them.");
        }
        var keyless = tools.Value
            .Where(t => !t.Value.WriteKeys.Any(k => !string.IsNullOrWhiteSpace(k)))
            .Select(t => t.Key.Trim().ToLowerInvariant())
            .Order(StringComparer.Ordinal)
            .ToList();
        if (keyless.Count == 0)
        {
            return;
        }
        try
        {
            await services.GetRequiredService<EventsDatabaseHolder>().OpenAsync(cancellationToken);
            await using var cmd = services.GetRequiredService<NpgsqlDataSource>().CreateCommand("SELECT DISTINCT tool FROM write_keys WHERE revoked_at IS NULL");
            await using var reader = await cmd.ExecuteReaderAsync(cancellationToken);
            while (await reader.ReadAsync(cancellationToken))
            {
                keyless.Remove(reader.GetString(0));
            }
        }
        catch (NpgsqlException)
        {
            // The database is not there yet: the warning then names every tool without a configured key.
        }
        if (keyless.Count > 0)
        {
            logger.LogWarning(
                "No write key for {Tools}: the collector refuses their events (Snowplow by app id still works). " +
                "Create one at /admin/write-keys, or configure Tools__<tool>__WriteKeys__0.", string.Join(", ", keyless));
        }
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
}
