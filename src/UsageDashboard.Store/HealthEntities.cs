namespace UsageDashboard.Store;

/// <summary>
/// A plugin version (or CLI release) detected as failing clearly more than its baseline, with the
/// evidence of its latest evaluation and its lifecycle (open → acknowledged → resolved).
/// </summary>
public sealed class HealthFlag
{
    public long Id { get; set; }
    public required string Tool { get; set; }
    /// <summary><c>plugin</c> or <c>tool</c> (a release of the CLI itself).</summary>
    public required string Kind { get; set; }
    public required string Name { get; set; }
    public string Version { get; set; } = "";
    /// <summary><c>degraded</c> or <c>broken</c>; only ever rises while the flag is active.</summary>
    public required string Severity { get; set; }
    /// <summary><c>open</c>, <c>acknowledged</c> or <c>resolved</c>.</summary>
    public required string State { get; set; }
    /// <summary>Which comparison found it: peers, history, spike or drift.</summary>
    public required string Method { get; set; }
    /// <summary>The plain-words explanation with numbers, as of the latest evaluation that found it.</summary>
    public required string Reason { get; set; }
    /// <summary>The detector's numbers (HealthEvidence) as JSON.</summary>
    public required string Evidence { get; set; }
    public DateTime FirstSeen { get; set; }
    public DateTime OpenedAt { get; set; }
    public DateTime UpdatedAt { get; set; }
    /// <summary>Since when the rate has been back near baseline; null while it is not.</summary>
    public DateTime? ClearSince { get; set; }
    public DateTime? AcknowledgedAt { get; set; }
    public string? AcknowledgedBy { get; set; }
    public string? AcknowledgeNote { get; set; }
    public DateTime? ResolvedAt { get; set; }
    /// <summary>Who resolved it; null when it resolved itself.</summary>
    public string? ResolvedBy { get; set; }
    public string? ResolveNote { get; set; }
}

/// <summary>One step in a flag's history: opened, escalated, acknowledged, resolved.</summary>
public sealed class HealthFlagEvent
{
    public long Id { get; set; }
    public long FlagId { get; set; }
    public DateTime At { get; set; }
    public required string Action { get; set; }
    public required string Severity { get; set; }
    /// <summary>The user's email, or null for the detector.</summary>
    public string? Actor { get; set; }
    public string? Note { get; set; }
    public required string Reason { get; set; }
}

/// <summary>
/// Outbox of webhook messages: written in the same transaction as the flag change it reports, sent
/// (and retried with backoff) by a background sender, so detection never waits on a receiver.
/// </summary>
public sealed class WebhookMessage
{
    public long Id { get; set; }
    public long FlagEventId { get; set; }
    public required string Url { get; set; }
    public required string Payload { get; set; }
    public DateTime CreatedAt { get; set; }
    public int Attempts { get; set; }
    public DateTime NextAttemptAt { get; set; }
    public DateTime? SentAt { get; set; }
    /// <summary>Set when the message was given up on after the last attempt.</summary>
    public DateTime? FailedAt { get; set; }
    public string? LastError { get; set; }
}
