namespace UsageDashboard.Store;

/// <summary>
/// Every event's (tool, event id), whatever its month: the idempotency check, since the partitioned
/// <c>events</c> can hold no unique index without its partition key (<c>event_keys</c>).
/// </summary>
public sealed class EventKey
{
    public required string Tool { get; set; }
    public Guid EventId { get; set; }
}

/// <summary>
/// The secret that non-UUID identifiers are hashed with (stored as <c>h:</c>…); at most one is active, the
/// retired ones stay so their fingerprints can be told apart (<c>identifier_keys</c>).
/// </summary>
public sealed class IdentifierKey
{
    public long Id { get; set; }
    public required string Fingerprint { get; set; }
    /// <summary>Null for a configured key, whose secret lives in configuration, not the database.</summary>
    public byte[]? Secret { get; set; }
    /// <summary><c>generated</c> or <c>configured</c>.</summary>
    public required string Origin { get; set; }
    public DateTime ActivatedAt { get; set; }
    public DateTime? RetiredAt { get; set; }
}

/// <summary>An ASP.NET data-protection key, shared by every app instance (Access/DataProtectionKeys.cs; <c>data_protection_keys</c>).</summary>
public sealed class StoredDataProtectionKey
{
    public long Id { get; set; }
    public string? FriendlyName { get; set; }
    public required string Xml { get; set; }
}
