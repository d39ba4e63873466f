using Microsoft.AspNetCore.Identity;

namespace UsageDashboard.Store;

/// <summary>A person who may sign in to the dashboards. Roles: viewer, maintainer, admin.</summary>
public sealed class DashboardUser : IdentityUser
{
    public DateTime CreatedAt { get; set; }
}

/// <summary>What a personal API token may do with its owner's role.</summary>
public static class TokenScopes
{
    /// <summary>The default: the read APIs (<c>/api/insights/*</c>, <c>GET /api/health/flags</c>); never pages, forms or admin endpoints.</summary>
    public const string Read = "read";
    /// <summary>Everything the owner's role allows, pages and forms included.</summary>
    public const string Admin = "admin";

    public static readonly IReadOnlyList<string> All = [Read, Admin];
}

/// <summary>
/// A personal API token for <c>/api/insights/*</c>. Only a SHA-256 hash of the secret is stored; the
/// secret is shown once, when created.
/// </summary>
public sealed class ApiToken
{
    public long Id { get; set; }
    public required string UserId { get; set; }
    public required string Name { get; set; }
    /// <summary>The first characters of the token, safe to show, to tell tokens apart.</summary>
    public required string Prefix { get; set; }
    public required byte[] SecretHash { get; set; }
    public DateTime CreatedAt { get; set; }
    public DateTime? ExpiresAt { get; set; }
    public DateTime? RevokedAt { get; set; }
    public DateTime? LastUsedAt { get; set; }
    /// <summary><see cref="TokenScopes.Read"/> or <see cref="TokenScopes.Admin"/>.</summary>
    public string Scope { get; set; } = TokenScopes.Read;
}

/// <summary>A tool's ingestion write key managed in the admin pages (hashed, like tokens), used alongside configured keys.</summary>
public sealed class WriteKey
{
    public long Id { get; set; }
    public required string Tool { get; set; }
    public required string Name { get; set; }
    public required string Prefix { get; set; }
    public required byte[] SecretHash { get; set; }
    public DateTime CreatedAt { get; set; }
    public DateTime? RevokedAt { get; set; }
}
