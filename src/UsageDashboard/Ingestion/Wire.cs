using System.Text.Json.Serialization;

namespace UsageDashboard.Ingestion;

/// <summary>
/// One event in the native format (docs/schema/event.schema.json). The body of <c>POST /api/v1/events</c>
/// is one of these, a JSON array of them, or NDJSON with one per line. Fields not listed here are kept
/// in <c>properties</c> under a size cap.
/// </summary>
public sealed record NativeEvent
{
    /// <summary>Stable id of the event (a UUID is recommended): re-sending the same id never counts twice. Without it the id is a hash of tool and content.</summary>
    public string? EventId { get; init; }
    /// <summary>The tool the event is about; optional when the write key belongs to exactly one tool.</summary>
    public string? Tool { get; init; }
    /// <summary>When it happened, RFC 3339. More than 10 minutes in the future: replaced by the receipt time and flagged; more than a day ahead, or older than the raw-event retention (400 days): rejected. Default: receipt time.</summary>
    public DateTimeOffset? Timestamp { get; init; }
    /// <summary>Random, stable id of the installation (machine or project). Required.</summary>
    public required string InstallationId { get; init; }
    /// <summary>Random id of the user, when the tool has one apart from the installation.</summary>
    public string? UserId { get; init; }
    /// <summary>Joins the events of one command invocation (e.g. its start and its end).</summary>
    public string? RunId { get; init; }
    /// <summary>Event name within the run, e.g. "command" (default), "model_run".</summary>
    public string? Event { get; init; }
    /// <summary>The command, e.g. "run", "config set".</summary>
    public string? Command { get; init; }
    /// <summary>One of started, succeeded, failed, aborted, skipped. Absent: outcome unknown.</summary>
    public string? Status { get; init; }
    /// <summary>How long the command took, in milliseconds.</summary>
    public double? DurationMs { get; init; }
    public string? ToolVersion { get; init; }
    public NameVersion? Os { get; init; }
    public NameVersion? Runtime { get; init; }
    /// <summary>Where it ran: "prod", "dev", "github-actions"...</summary>
    public string? Environment { get; init; }
    /// <summary>True when it ran in continuous integration.</summary>
    public bool? IsCi { get; init; }
    /// <summary>The error class; any message is dropped, never stored.</summary>
    public ErrorInfo? Error { get; init; }
    public IReadOnlyList<NativePlugin>? Plugins { get; init; }
    /// <summary>Free-form extra data, kept under a size cap after privacy scrubbing.</summary>
    public Dictionary<string, object?>? Properties { get; init; }
}

public sealed record NameVersion(string? Name, string? Version);

/// <summary>The error of a failed run: its class name only.</summary>
public sealed record ErrorInfo(string? Type);

/// <summary>A plugin, connector or adapter that took part, with its own outcome when known.</summary>
public sealed record NativePlugin(string Name, string? Type, string? Version, string? Status);

/// <summary>Answer of <c>POST /api/v1/events</c>: what was stored, and what was not and why.</summary>
public sealed record IngestResponse(int Accepted, int Duplicates, IReadOnlyList<RejectedEvent> Rejected);

/// <summary>An event of the request that was quarantined instead of stored: its position in the body and a machine-readable reason.</summary>
public sealed record RejectedEvent(int Index, string Reason, [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] string? Detail = null);

/// <summary>Every error answer of the ingestion endpoints.</summary>
public sealed record ErrorResponse
{
    /// <summary>Machine-readable: unauthorized, malformed_json, unsupported_body, invalid_text, string_too_long, too_many_properties, payload_too_large, too_many_events, template_too_large, unsupported_media_type, rate_limited, database_unavailable, queue_full, database_slow, rejected_by_database.</summary>
    public required string Error { get; init; }
    public required string Message { get; init; }
    /// <summary>For malformed_json and the scan's errors (invalid_text, string_too_long, too_many_properties): the 1-based line of the error.</summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public long? Line { get; init; }
    /// <summary>For malformed_json and the scan's errors: the 1-based byte position within that line.</summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public long? Position { get; init; }
}

/// <summary>What a Jitsu classic server answers, so Jitsu clients see success.</summary>
public sealed record JitsuResponse(string Status);
