using Npgsql;

namespace UsageDashboard.Operations;

/// <summary>
/// A session-level PostgreSQL advisory lock on a connection of its own, so that of several app instances
/// on one database only one migrates, or runs a background pass, at a time. Released on dispose, and by the
/// server if the session dies (a killed instance never leaves it held).
/// </summary>
public sealed class AdvisoryLock : IAsyncDisposable
{
    /// <summary>"migrate" as ASCII: held around applying migrations.</summary>
    public const long MigrationKey = 0x6D696772617465;

    /// <summary>"healthev" as ASCII: held around a plugin-health evaluation.</summary>
    public const long HealthEvaluationKey = 0x6865616C74686576;

    private readonly NpgsqlConnection _connection;
    private readonly long _key;

    private AdvisoryLock(NpgsqlConnection connection, long key) => (_connection, _key) = (connection, key);

    /// <summary>
    /// Waits for the lock (a second instance migrating waits for the first, then finds nothing to do);
    /// <paramref name="waiting"/> runs first when another session holds it, so the wait is visible in the log.
    /// </summary>
    public static async Task<AdvisoryLock> AcquireAsync(string connectionString, long key, CancellationToken ct, Action? waiting = null)
    {
        var conn = new NpgsqlConnection(connectionString);
        try
        {
            await conn.OpenAsync(ct);
            await using (var tryCmd = new NpgsqlCommand("SELECT pg_try_advisory_lock(@key)", conn))
            {
                tryCmd.Parameters.AddWithValue("key", key);
                if ((bool)(await tryCmd.ExecuteScalarAsync(ct))!)
                {
                    return new AdvisoryLock(conn, key);
                }
            }
            waiting?.Invoke();
            await using var cmd = new NpgsqlCommand("SELECT pg_advisory_lock(@key)", conn) { CommandTimeout = 0 };
            cmd.Parameters.AddWithValue("key", key);
            await cmd.ExecuteNonQueryAsync(ct);
            return new AdvisoryLock(conn, key);
        }
        catch
        {
            await conn.DisposeAsync();
            throw;
        }
    }

    /// <summary>The lock if it is free now, else null (another instance holds it: skip this pass).</summary>
    public static async Task<AdvisoryLock?> TryAcquireAsync(NpgsqlDataSource dataSource, long key, CancellationToken ct)
    {
        var conn = await dataSource.OpenConnectionAsync(ct);
        try
        {
            await using var cmd = new NpgsqlCommand("SELECT pg_try_advisory_lock(@key)", conn);
            cmd.Parameters.AddWithValue("key", key);
            if ((bool)(await cmd.ExecuteScalarAsync(ct))!)
            {
                return new AdvisoryLock(conn, key);
            }
        }
        catch
        {
            await conn.DisposeAsync();
            throw;
        }
        await conn.DisposeAsync();
        return null;
    }

    public async ValueTask DisposeAsync()
    {
        try
        {
            if (_connection.State == System.Data.ConnectionState.Open)
            {
                await using var cmd = new NpgsqlCommand("SELECT pg_advisory_unlock(@key)", _connection);
                cmd.Parameters.AddWithValue("key", _key);
                await cmd.ExecuteNonQueryAsync(CancellationToken.None);
            }
        }
        catch (NpgsqlException)
        {
            // The session is gone, and its lock with it.
        }
        await _connection.DisposeAsync();
    }
}
