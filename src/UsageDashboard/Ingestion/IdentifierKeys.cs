using System.Security.Cryptography;
using System.Text;
using Microsoft.Extensions.Options;
using Npgsql;
using UsageDashboard.Database;
using UsageDashboard.Hosting;

namespace UsageDashboard.Ingestion;

/// <summary>
/// Loads the secret of <see cref="IdentifierHasher"/> before the collector takes a request: the configured
/// <c>Privacy:IdentifierKey</c>, or a random one generated once and kept in <c>identifier_keys</c> so
/// hashes are the same across restarts and instances. Only a fingerprint of a configured key is stored.
/// A key whose fingerprint differs from the active one is a rotation: it is logged as a warning and
/// recorded (the old row retired, the new one active), never applied silently.
/// When the database is down at start the app starts anyway (as it does for every other feature): the
/// key loads in the background as soon as the database answers, and until then the collector answers 503.
/// </summary>
public sealed class IdentifierKeys(NpgsqlDataSource dataSource, IOptions<PrivacyOptions> options, StartupReadiness readiness, ILogger<IdentifierKeys> logger)
    : IHostedService
{
    public const string Generated = "generated";
    public const string Configured = "configured";
    internal const string StartupWork = "identifier key";

    private static readonly TimeSpan s_retryEvery = TimeSpan.FromSeconds(5);

    private readonly SemaphoreSlim _gate = new(1, 1);
    private readonly CancellationTokenSource _stopping = new();
    private IdentifierHasher? _hasher;
    private Exception? _lastFailure;

    /// <summary>
    /// The loaded hasher. Before the key is loaded this throws; when loading failed because the database is
    /// down, the failure is the inner exception, so the request is answered 503 like any other outage.
    /// </summary>
    public IdentifierHasher Hasher => _hasher ?? throw new InvalidOperationException("The identifier key is not loaded yet.", _lastFailure);

    public async Task StartAsync(CancellationToken cancellationToken)
    {
        try
        {
            await LoadAsync(cancellationToken);
        }
        catch (Exception e) when (DatabaseUnavailable.IsDatabaseUnavailable(e))
        {
            _lastFailure = e;
            logger.LogWarning("The identifier key could not be loaded ({Error}); the collector answers 503 until the database answers.", e.Message);
            _ = RetryAsync(_stopping.Token);
        }
    }

    public async Task StopAsync(CancellationToken cancellationToken) => await _stopping.CancelAsync();

    private async Task RetryAsync(CancellationToken ct)
    {
        while (_hasher is null && !ct.IsCancellationRequested)
        {
            try
            {
                await Task.Delay(s_retryEvery, ct);
                await LoadAsync(ct);
            }
            catch (OperationCanceledException) when (ct.IsCancellationRequested)
            {
                return;
            }
            catch (Exception e) when (DatabaseUnavailable.IsDatabaseUnavailable(e))
            {
                _lastFailure = e;
            }
        }
    }

    /// <summary>Loads (or creates, or rotates to) the key once; later calls return at once.</summary>
    public async Task<IdentifierHasher> LoadAsync(CancellationToken ct)
    {
        if (_hasher is { } loaded)
        {
            return loaded;
        }
        await _gate.WaitAsync(ct);
        try
        {
            if (_hasher is null)
            {
                _hasher = new IdentifierHasher(await LoadKeyAsync(ct));
                readiness.Finished(StartupWork);
            }
            return _hasher;
        }
        finally
        {
            _gate.Release();
        }
    }

    /// <summary>What a stored row says about a key without revealing it: 16 bytes of an HMAC of a fixed text.</summary>
    public static string Fingerprint(byte[] key) =>
        Convert.ToHexStringLower(HMACSHA256.HashData(key, "UsageDashboard identifier key fingerprint"u8)[..16]);

    private async Task<byte[]> LoadKeyAsync(CancellationToken ct)
    {
        var configured = string.IsNullOrWhiteSpace(options.Value.IdentifierKey) ? null : Encoding.UTF8.GetBytes(options.Value.IdentifierKey);
        await using var conn = await dataSource.OpenConnectionAsync(ct);
        await using var tx = await conn.BeginTransactionAsync(ct);
        // Instances starting together agree on one generated key: the second waits, then reads the first's.
        await using (var lockCmd = new NpgsqlCommand("SELECT pg_advisory_xact_lock(hashtext('identifier_keys'))", conn, tx))
        {
            await lockCmd.ExecuteNonQueryAsync(ct);
        }
        (long Id, string Fingerprint, byte[]? Secret, string Origin, DateTime Since)? active = null;
        await using (var read = new NpgsqlCommand("SELECT id, fingerprint, secret, origin, activated_at FROM identifier_keys WHERE retired_at IS NULL", conn, tx))
        await using (var reader = await read.ExecuteReaderAsync(ct))
        {
            if (await reader.ReadAsync(ct))
            {
                active = (reader.GetInt64(0), reader.GetString(1), reader.IsDBNull(2) ? null : (byte[])reader[2], reader.GetString(3), reader.GetDateTime(4));
            }
        }

        byte[] key;
        if (configured is not null)
        {
            key = configured;
            if (active is { } a && a.Fingerprint == Fingerprint(key))
            {
                await tx.CommitAsync(ct);
                return key;
            }
        }
        else if (active is { Secret: { } secret })
        {
            await tx.CommitAsync(ct);
            return secret;
        }
        else
        {
            key = RandomNumberGenerator.GetBytes(32);
        }

        var fingerprint = Fingerprint(key);
        if (active is { } old)
        {
            logger.LogWarning(
                "Identifier key rotated: identifiers have been hashed with the {OldOrigin} key {OldFingerprint} since {Since:u}; from now on the " +
                "{NewOrigin} key {NewFingerprint} is used, so the same user or installation id is stored as a different hash and counts as new. " +
                "{Hint} The rotation is recorded in the identifier_keys table.",
                old.Origin, old.Fingerprint, old.Since, configured is null ? Generated : Configured, fingerprint,
                configured is null ? "Privacy:IdentifierKey is no longer set." : "Privacy:IdentifierKey differs from the key in use.");
            await using var retire = new NpgsqlCommand("UPDATE identifier_keys SET retired_at = now() WHERE id = @id", conn, tx);
            retire.Parameters.AddWithValue("id", old.Id);
            await retire.ExecuteNonQueryAsync(ct);
        }
        else
        {
            logger.LogInformation("Identifier key {Fingerprint} ({Origin}) in use for hashing personal identifiers.", fingerprint, configured is null ? Generated : Configured);
        }
        await using (var insert = new NpgsqlCommand("INSERT INTO identifier_keys (fingerprint, secret, origin) VALUES (@fingerprint, @secret, @origin)", conn, tx))
        {
            insert.Parameters.AddWithValue("fingerprint", fingerprint);
            // A configured key stays in the configuration only; a generated one must live somewhere.
            insert.Parameters.Add(new NpgsqlParameter("secret", NpgsqlTypes.NpgsqlDbType.Bytea) { Value = configured is null ? key : DBNull.Value });
            insert.Parameters.AddWithValue("origin", configured is null ? Generated : Configured);
            await insert.ExecuteNonQueryAsync(ct);
        }
        await tx.CommitAsync(ct);
        return key;
    }
}
