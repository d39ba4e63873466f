using System.Text.Json;
using UsageDashboard.Store;

namespace UsageDashboard.Ingestion;

/// <summary>What the request the events came in says about who may send what, and when it arrived.</summary>
public sealed record IngestContext
{
    public required DateTime ReceivedAt { get; init; }
    /// <summary>Tools the caller may send for (the write key's tools; every configured tool for imports).</summary>
    public required IReadOnlyList<string> AllowedTools { get; init; }
    /// <summary>Set by <c>import --tool</c>: every event is attributed to this tool.</summary>
    public string? ForcedTool { get; init; }
    public required IngestionOptions Options { get; init; }
    /// <summary>
    /// Events the device dates before this are rejected: retention (Retention:RawEventsDays) would drop
    /// them at its next pass, so accepting them would acknowledge what is then silently lost.
    /// </summary>
    public DateTime OldestAccepted { get; init; } = DateTime.MinValue;
    /// <summary>Hashes identifiers that may be personal (docs/privacy.md); mappers apply it to the fields they know.</summary>
    public required IdentifierHasher Identifiers { get; init; }

    /// <summary>The tool of an event whose format implies <paramref name="formatTool"/> (Jetty, Evidently) or says nothing.</summary>
    public string? ResolveTool(string? named, string? formatTool = null)
    {
        if (ForcedTool is not null)
        {
            return ForcedTool;
        }
        if (named is not null)
        {
            var tool = named.Trim().ToLowerInvariant();
            return AllowedTools.Contains(tool) ? tool : null;
        }
        if (AllowedTools.Count == 1)
        {
            return AllowedTools[0];
        }
        return formatTool is not null && AllowedTools.Contains(formatTool) ? formatTool : null;
    }
}

/// <summary>
/// One wire event mapped to canonical form, or the reason it can't be. Mappers are pure functions of the
/// wire JSON and the <see cref="IngestContext"/>; <see cref="CanonicalEvents.Complete"/> then applies the
/// rules every source shares (ids, clock, text hygiene, property budget).
/// </summary>
public sealed class MapResult
{
    private MapResult()
    {
    }

    public TelemetryEvent? Event { get; private init; }
    public PropertyBag? Properties { get; private init; }
    /// <summary>The source's own event id (eid, eventId, eventn_ctx_event_id, uuid), if it has one.</summary>
    public string? SourceId { get; private init; }
    /// <summary>When the device says the event happened; null means "at receipt".</summary>
    public DateTime? DeviceTime { get; private init; }
    public string? Reason { get; private init; }
    public string? Detail { get; private init; }
    /// <summary>The tool, when known even for a rejection (quarantine rows keep it).</summary>
    public string? Tool { get; private init; }

    public bool IsRejected => Reason is not null;

    public static MapResult Ok(TelemetryEvent e, PropertyBag properties, string? sourceId, DateTime? deviceTime) =>
        new() { Event = e, Properties = properties, SourceId = sourceId, DeviceTime = deviceTime, Tool = e.Tool };

    public static MapResult Reject(string reason, string? detail = null, string? tool = null) => new() { Reason = reason, Detail = detail, Tool = tool };
}

/// <summary>Machine-readable rejection reasons (documented in docs/ingestion.md).</summary>
public static class Reasons
{
    public const string NotAnObject = "not_an_object";
    public const string MissingInstallationId = "missing_installation_id";
    public const string InvalidField = "invalid_field";
    public const string MissingTool = "missing_tool";
    public const string ToolNotAllowed = "tool_not_allowed";
    public const string EventTooLarge = "event_too_large";
    public const string UnknownAppId = "unknown_app_id";
    public const string UnsupportedEvent = "unsupported_event";
    public const string InvalidBase64 = "invalid_base64";
    public const string InvalidJson = "invalid_json";
    public const string UnsupportedSchema = "unsupported_schema";
    public const string InvalidText = JsonScan.InvalidText;
    public const string TimestampTooOld = "timestamp_too_old";
    public const string TimestampInFuture = "timestamp_in_future";
}

internal static class JsonElementExtensions
{
    /// <summary>Size of the element's JSON text in bytes, without copying it.</summary>
    public static int RawLength(this JsonElement e) => System.Runtime.InteropServices.JsonMarshal.GetRawUtf8Value(e).Length;
}
