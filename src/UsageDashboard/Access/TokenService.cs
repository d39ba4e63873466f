using System.Security.Claims;
using Microsoft.AspNetCore.Identity;
using Microsoft.EntityFrameworkCore;
using UsageDashboard.Store;

namespace UsageDashboard.Access;

public sealed record CreatedToken(long Id, string Name, string Secret, DateTime? ExpiresAt, string Scope);

public sealed record TokenInfo(long Id, string UserEmail, string Name, string Prefix, DateTime CreatedAt, DateTime? ExpiresAt, DateTime? RevokedAt, DateTime? LastUsedAt, string Scope)
{
    public bool IsActive(DateTime now) => RevokedAt is null && (ExpiresAt is null || ExpiresAt > now);
}

/// <summary>
/// Personal API tokens: created for a user, shown once, stored hashed, revocable, optionally expiring, with a
/// scope (<see cref="TokenScopes"/>): read tokens reach only the read APIs, admin tokens whatever the owner's role allows.
/// </summary>
public sealed class TokenService(UsageDbContext db, UserManager<DashboardUser> users, TimeProvider time)
{
    public const string Prefix = "udt_";

    /// <summary>The claim that carries a token's scope; only principals authenticated by a token have it.</summary>
    public const string ScopeClaim = "token_scope";

    /// <summary>A read-scoped token.</summary>
    public Task<CreatedToken> CreateAsync(DashboardUser user, string name, TimeSpan? expiresIn, CancellationToken ct) =>
        CreateAsync(user, name, expiresIn, TokenScopes.Read, ct);

    public async Task<CreatedToken> CreateAsync(DashboardUser user, string name, TimeSpan? expiresIn, string scope, CancellationToken ct)
    {
        if (string.IsNullOrWhiteSpace(name) || name.Length > 100)
        {
            throw new ArgumentException("a token needs a name of 1 to 100 characters", nameof(name));
        }
        if (!TokenScopes.All.Contains(scope))
        {
            throw new ArgumentException($"a token's scope is one of {string.Join(", ", TokenScopes.All)}", nameof(scope));
        }
        var now = time.GetUtcNow().UtcDateTime;
        var secret = SecretHasher.NewSecret(Prefix);
        var token = new ApiToken
        {
            UserId = user.Id,
            Name = name.Trim(),
            Prefix = SecretHasher.DisplayPrefix(secret),
            SecretHash = SecretHasher.Hash(secret),
            CreatedAt = now,
            ExpiresAt = expiresIn is { } e ? now + e : null,
            Scope = scope,
        };
        db.ApiTokens.Add(token);
        await db.SaveChangesAsync(ct);
        return new CreatedToken(token.Id, token.Name, secret, token.ExpiresAt, token.Scope);
    }

    /// <summary>The principal a presented token stands for, or null when it is unknown, altered, revoked or expired.</summary>
    public async Task<ClaimsPrincipal?> AuthenticateAsync(string presented, string scheme, CancellationToken ct)
    {
        if (!presented.StartsWith(Prefix, StringComparison.Ordinal) || presented.Length > 200)
        {
            return null;
        }
        var hash = SecretHasher.Hash(presented);
        var now = time.GetUtcNow().UtcDateTime;
        var token = await db.ApiTokens.SingleOrDefaultAsync(t => t.SecretHash == hash, ct);
        if (token is null || token.RevokedAt is not null || (token.ExpiresAt is { } exp && exp <= now))
        {
            return null;
        }
        // A locked-out account's tokens keep working: sign-in throttling (SignInThrottle) guards passwords, and
        // a stranger's failed sign-ins must not cut off the owner's scripts.
        var user = await users.FindByIdAsync(token.UserId);
        if (user is null)
        {
            return null;
        }
        // Last use is for the admin page; minute precision is enough and spares a write per request.
        if (token.LastUsedAt is null || now - token.LastUsedAt > TimeSpan.FromMinutes(1))
        {
            await db.ApiTokens.Where(t => t.Id == token.Id).ExecuteUpdateAsync(s => s.SetProperty(t => t.LastUsedAt, now), ct);
        }
        var roles = await users.GetRolesAsync(user);
        var claims = new List<Claim>
        {
            new(ClaimTypes.NameIdentifier, user.Id),
            new(ClaimTypes.Name, user.Email ?? user.UserName ?? user.Id),
            new("token_id", token.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)),
            new(ScopeClaim, token.Scope),
        };
        claims.AddRange(roles.Select(r => new Claim(ClaimTypes.Role, r)));
        return new ClaimsPrincipal(new ClaimsIdentity(claims, scheme));
    }

    public async Task<IReadOnlyList<TokenInfo>> ListAsync(string? userId, CancellationToken ct)
    {
        var query = from t in db.ApiTokens.AsNoTracking()
                    join u in db.Users.AsNoTracking() on t.UserId equals u.Id
                    where userId == null || t.UserId == userId
                    orderby t.CreatedAt descending
                    select new TokenInfo(t.Id, u.Email ?? u.UserName ?? u.Id, t.Name, t.Prefix, t.CreatedAt, t.ExpiresAt, t.RevokedAt, t.LastUsedAt, t.Scope);
        return await query.ToListAsync(ct);
    }

    /// <summary>Revokes a token; with <paramref name="userId"/>, only if it belongs to that user. Returns whether one was revoked.</summary>
    public async Task<bool> RevokeAsync(long id, string? userId, CancellationToken ct)
    {
        var now = time.GetUtcNow().UtcDateTime;
        var changed = await db.ApiTokens
            .Where(t => t.Id == id && t.RevokedAt == null && (userId == null || t.UserId == userId))
            .ExecuteUpdateAsync(s => s.SetProperty(t => t.RevokedAt, now), ct);
        return changed > 0;
    }
}
