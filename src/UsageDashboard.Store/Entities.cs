using System.Text.Json;

namespace UsageDashboard.Store;

/// <summary>One plugin or connector that took part in an event or run.</summary>
public sealed record PluginRef
{
    public required string Name { get; init; }
    public string? Type { get; init; }
    public string? Version { get; init; }
    /// <summary>The plugin's own outcome where the source says (dbt run_model, native plugins[].status).</summary>
    public string? Status { get; init; }
}

/// <summary>
/// A telemetry event in canonical form. Every wire format maps into this; nothing identifying beyond
/// random ids or one-way hashes is stored (see docs/privacy.md).
/// </summary>
public sealed class TelemetryEvent
{
    public long Id { get; set; }
    /// <summary>Stable id: the source's own, or a deterministic hash of tool + canonical payload.</summary>
    public Guid EventId { get; set; }
    public required string Tool { get; set; }
    /// <summary>Wire format it arrived in: native, snowplow, jitsu, jetty, evidently, demo.</summary>
    public required string Source { get; set; }
    public required string InstallationId { get; set; }
    public string? UserId { get; set; }
    public DateTime OccurredAt { get; set; }
    public DateTime ReceivedAt { get; set; }
    /// <summary>True when the device clock was in the future and occurred-at was clamped to receipt.</summary>
    public bool ClockAdjusted { get; set; }
    public required string EventName { get; set; }
    /// <summary>
    /// Joins the events of one run: the invocation id the source carries (dbt invocation_id, Meltano
    /// context uuid, native runId), or the event's own id for single-event sources.
    /// </summary>
    public required string RunKey { get; set; }
    public string? Command { get; set; }
    public string Status { get; set; } = RunStatus.Unknown;
    public long? DurationMs { get; set; }
    public string? ToolVersion { get; set; }
    public string? OsName { get; set; }
    public string? OsVersion { get; set; }
    public string? RuntimeName { get; set; }
    public string? RuntimeVersion { get; set; }
    public string? Environment { get; set; }
    public bool IsCi { get; set; }
    /// <summary>An exception class name, never a message.</summary>
    public string? ErrorType { get; set; }
    public List<PluginRef> Plugins { get; set; } = [];
    public JsonDocument? Properties { get; set; }
}

/// <summary>One command invocation, derived from its events. Success rates are computed from runs.</summary>
public sealed class Run
{
    public long Id { get; set; }
    public required string Tool { get; set; }
    /// <summary>The invocation id, or the event id for single-event sources.</summary>
    public required string RunKey { get; set; }
    public required string InstallationId { get; set; }
    public string? UserId { get; set; }
    /// <summary>When the run happened: its start, else its end. Dashboards filter on this.</summary>
    public DateTime OccurredAt { get; set; }
    public DateTime? StartedAt { get; set; }
    public DateTime? EndedAt { get; set; }
    public string? Command { get; set; }
    public string Status { get; set; } = RunStatus.Unknown;
    public long? DurationMs { get; set; }
    public string? ToolVersion { get; set; }
    public string? OsName { get; set; }
    public string? OsVersion { get; set; }
    public string? RuntimeName { get; set; }
    public string? RuntimeVersion { get; set; }
    public string? Environment { get; set; }
    public bool IsCi { get; set; }
    public string? ErrorType { get; set; }
    public int EventCount { get; set; }
    public List<PluginRef> Plugins { get; set; } = [];
    public DateTime UpdatedAt { get; set; }
}

/// <summary>A plugin's part in a run, flattened for per-plugin and per-version aggregation.</summary>
public sealed class RunPlugin
{
    public long RunId { get; set; }
    public required string Tool { get; set; }
    public required string Name { get; set; }
    public string Type { get; set; } = "";
    public string Version { get; set; } = "";
    public string Status { get; set; } = RunStatus.Unknown;
    public DateTime OccurredAt { get; set; }
    public required string InstallationId { get; set; }
    public bool IsCi { get; set; }
}

/// <summary>First and last sighting of an installation, kept at ingest so "new installations" needs no scan.</summary>
public sealed class Installation
{
    /// <summary>A dense integer key: what the rollup month tables store instead of the installation id.</summary>
    public int Id { get; set; }
    public required string Tool { get; set; }
    public required string InstallationId { get; set; }
    public DateTime FirstSeen { get; set; }
    public DateTime LastSeen { get; set; }
}

/// <summary>An event that could not be normalised, kept (size-capped) with a machine-readable reason.</summary>
public sealed class QuarantinedEvent
{
    public long Id { get; set; }
    public DateTime ReceivedAt { get; set; }
    public string? Tool { get; set; }
    public required string Source { get; set; }
    public required string Endpoint { get; set; }
    /// <summary>Machine-readable reason, e.g. <c>missing_installation_id</c>, <c>unknown_app_id</c>.</summary>
    public required string Reason { get; set; }
    public string? Detail { get; set; }
    public required string Payload { get; set; }
    public bool PayloadTruncated { get; set; }
    public int PayloadBytes { get; set; }
}

/// <summary>
/// How many events were rejected per UTC day, tool and reason: every rejection is counted here, while
/// <see cref="QuarantinedEvent"/> keeps only a few samples of each. The tool is a configured tool or
/// empty (unknown), never a value a client sent, so the table grows by a bounded number of rows a day.
/// </summary>
public sealed class QuarantineCount
{
    public DateOnly Day { get; set; }
    /// <summary>The configured tool, or <see cref="NoTool"/> when the event's tool is unknown.</summary>
    public required string Tool { get; set; }
    public required string Reason { get; set; }
    public long Count { get; set; }

    public const string NoTool = "";
}
