using System.Collections.Concurrent;
using Npgsql;

namespace UsageDashboard.Access;

/// <summary>
/// Resolves write keys created on the admin page for the collector. Answers are cached briefly so a
/// busy collector does not query the database per request; a revoked key stops working within
/// <see cref="CacheFor"/>.
/// </summary>
public sealed class ManagedWriteKeys(NpgsqlDataSource dataSource, TimeProvider time)
{
    public static readonly TimeSpan CacheFor = TimeSpan.FromSeconds(30);

    private readonly ConcurrentDictionary<string, (string? Tool, DateTimeOffset Until)> _cache = new(StringComparer.Ordinal);

    /// <summary>The tool a managed key (<c>udw_…</c>) belongs to, or null when unknown or revoked.</summary>
    public async Task<string?> FindToolAsync(string presented, CancellationToken ct)
    {
        if (!presented.StartsWith(WriteKeyService.Prefix, StringComparison.Ordinal) || presented.Length > 200)
        {
            return null;
        }
        var hash = SecretHasher.Hash(presented);
        var cacheKey = Convert.ToHexString(hash);
        var now = time.GetUtcNow();
        if (_cache.TryGetValue(cacheKey, out var hit) && hit.Until > now)
        {
            return hit.Tool;
        }
        await using var cmd = dataSource.CreateCommand("SELECT tool FROM write_keys WHERE secret_hash = $1 AND revoked_at IS NULL");
        cmd.Parameters.Add(new NpgsqlParameter { Value = hash });
        var tool = await cmd.ExecuteScalarAsync(ct) as string;
        // Bounded: unknown keys are cached too (so guessing costs no queries), but the map is cleared when it grows.
        if (_cache.Count > 10_000)
        {
            _cache.Clear();
        }
        _cache[cacheKey] = (tool, now + CacheFor);
        return tool;
    }

    /// <summary>
    /// Whether <paramref name="presented"/> is a managed key found active by a recent <see cref="FindToolAsync"/>,
    /// without a query: the rate limiter's partitioning is synchronous, and only keys known to be valid get a
    /// bucket of their own (an unknown key shares its client address's).
    /// </summary>
    public bool IsKnownActive(string presented) =>
        presented.StartsWith(WriteKeyService.Prefix, StringComparison.Ordinal) && presented.Length <= 200
        && _cache.TryGetValue(Convert.ToHexString(SecretHasher.Hash(presented)), out var hit)
        && hit.Tool is not null && hit.Until > time.GetUtcNow();
}
