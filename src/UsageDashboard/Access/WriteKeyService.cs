using Microsoft.EntityFrameworkCore;
using UsageDashboard.Store;

namespace UsageDashboard.Access;

public sealed record CreatedWriteKey(long Id, string Tool, string Name, string Secret);

public sealed record WriteKeyInfo(long Id, string Tool, string Name, string Prefix, DateTime CreatedAt, DateTime? RevokedAt);

/// <summary>Write keys managed from the admin pages: shown once, stored hashed, revocable.</summary>
public sealed class WriteKeyService(UsageDbContext db, TimeProvider time)
{
    public const string Prefix = "udw_";

    public async Task<CreatedWriteKey> CreateAsync(string tool, string name, CancellationToken ct)
    {
        tool = tool.Trim();
        if (tool.Length is 0 or > 64 || !tool.All(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_' or '.'))
        {
            throw new ArgumentException("a tool name is 1 to 64 letters, digits, '-', '_' or '.'", nameof(tool));
        }
        if (string.IsNullOrWhiteSpace(name) || name.Length > 100)
        {
            throw new ArgumentException("a write key needs a name of 1 to 100 characters", nameof(name));
        }
        var secret = SecretHasher.NewSecret(Prefix);
        var key = new WriteKey
        {
            Tool = tool,
            Name = name.Trim(),
            Prefix = SecretHasher.DisplayPrefix(secret),
            SecretHash = SecretHasher.Hash(secret),
            CreatedAt = time.GetUtcNow().UtcDateTime,
        };
        db.WriteKeys.Add(key);
        await db.SaveChangesAsync(ct);
        return new CreatedWriteKey(key.Id, key.Tool, key.Name, secret);
    }

    /// <summary>The tool a presented key belongs to, or null when it is unknown or revoked.</summary>
    public async Task<string?> FindToolAsync(string presented, CancellationToken ct)
    {
        if (!presented.StartsWith(Prefix, StringComparison.Ordinal) || presented.Length > 200)
        {
            return null;
        }
        var hash = SecretHasher.Hash(presented);
        return await db.WriteKeys.AsNoTracking()
            .Where(k => k.SecretHash == hash && k.RevokedAt == null)
            .Select(k => k.Tool)
            .SingleOrDefaultAsync(ct);
    }

    public async Task<IReadOnlyList<WriteKeyInfo>> ListAsync(CancellationToken ct) =>
        await db.WriteKeys.AsNoTracking()
            .OrderBy(k => k.Tool).ThenByDescending(k => k.CreatedAt)
            .Select(k => new WriteKeyInfo(k.Id, k.Tool, k.Name, k.Prefix, k.CreatedAt, k.RevokedAt))
            .ToListAsync(ct);

    public async Task<bool> RevokeAsync(long id, CancellationToken ct)
    {
        var now = time.GetUtcNow().UtcDateTime;
        return await db.WriteKeys.Where(k => k.Id == id && k.RevokedAt == null)
            .ExecuteUpdateAsync(s => s.SetProperty(k => k.RevokedAt, now), ct) > 0;
    }
}
