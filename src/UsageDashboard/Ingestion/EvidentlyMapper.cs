using System.Collections.Frozen;
using System.Globalization;
using System.Text.Json;
using UsageDashboard.Store;
using static UsageDashboard.Ingestion.JsonValues;

namespace UsageDashboard.Ingestion;

/// <summary>
/// Evidently's two telemetry eras: the 0.1 CLI event (seed 002, native endpoint) and the Jitsu classic
/// server-to-server events of 0.4 and later (seed 003, <c>/api/v1/s2s/event</c>), which also serve as
/// the mapping for any other Jitsu-style sender.
/// </summary>
public static class EvidentlyMapper
{
    public const string Tool = "evidently";
    public const string LegacySource = "evidently";
    public const string JitsuSource = "jitsu";

    /// <summary>Evidently 0.1 sends no identifier at all; its events count as runs, not as installations.</summary>
    public const string UnidentifiedInstallation = "unidentified";

    private static readonly FrozenSet<string> s_jitsuKnown = new[]
    {
        "eventn_ctx_event_id", "event_id", "_timestamp", "timestamp", "utc_time", "user_id", "anonymous_id", "action", "event_type",
        "error", "python_version", "os_name", "os_version", "tool_name", "tool_version", "interface", "extra", "group_id",
        "eventn_ctx", "src",
    }.ToFrozenSet(StringComparer.Ordinal);

    public static bool LooksLegacy(JsonElement e) =>
        e.ValueKind == JsonValueKind.Object && Get(e, "installationId") is null && Object(e, "evidently") is not null
        && (Get(e, "usage") is not null || Get(e, "environment") is not null);

    /// <summary>A Jitsu-style event (what Evidently ≥ 0.4 sends): a flat object with action/event_type and user_id.</summary>
    public static bool LooksJitsu(JsonElement e) =>
        e.ValueKind == JsonValueKind.Object && Get(e, "installationId") is null
        && (Get(e, "tool_name") is not null || Get(e, "eventn_ctx_event_id") is not null || (Get(e, "action") is not null && Get(e, "user_id") is not null));

    public static MapResult MapLegacy(JsonElement e, IngestContext context)
    {
        var tool = context.ResolveTool(null, Tool);
        if (tool is null)
        {
            return MapResult.Reject(Reasons.ToolNotAllowed, "an Evidently event needs a write key of the evidently tool");
        }
        var environment = Object(e, "environment");
        var python = environment is { } env ? Object(env, "python") : null;
        var (osName, osVersion) = Canon.Platform(environment is { } env2 ? String(env2, "os") : null);
        var usage = Object(e, "usage");
        var properties = new PropertyBag();
        if (usage is { } u)
        {
            foreach (var p in u.EnumerateObject())
            {
                if (NameOf(p) is { } key && key != "type")
                {
                    properties.Add(key, p.Value);
                }
            }
        }
        if (python is { } py)
        {
            properties.Add("pythonImplementation", String(py, "interpreter"));
            properties.Add("conda", Bool(py, "conda"));
            properties.Add("venv", Bool(py, "venv"));
        }
        foreach (var p in e.EnumerateObject())
        {
            if (NameOf(p) is { } key && key is not ("environment" or "evidently" or "usage"))
            {
                properties.Add(key, p.Value);
            }
        }
        var ev = new TelemetryEvent
        {
            Tool = tool,
            Source = LegacySource,
            InstallationId = UnidentifiedInstallation,
            EventName = "cli_usage",
            RunKey = "",
            Command = usage is { } u2 ? String(u2, "type") : null,
            Status = RunStatus.Unknown,
            ToolVersion = String(Object(e, "evidently")!.Value, "version"),
            OsName = osName,
            OsVersion = osVersion,
            RuntimeName = python is null ? null : "python",
            RuntimeVersion = python is { } py2 ? String(py2, "version") : null,
        };
        return MapResult.Ok(ev, properties, null, null);
    }

    public static MapResult MapJitsu(JsonElement e, IngestContext context)
    {
        if (e.ValueKind != JsonValueKind.Object)
        {
            return MapResult.Reject(Reasons.NotAnObject, "an event is a JSON object");
        }
        var named = String(e, "tool_name");
        var tool = context.ResolveTool(named, Tool) ?? (named is not null ? context.ResolveTool(null, Tool) : null);
        if (tool is null)
        {
            return MapResult.Reject(Reasons.ToolNotAllowed, "this token may not send events for that tool");
        }
        var ctx = Object(e, "eventn_ctx");
        var userId = String(e, "user_id");
        var anonymousId = userId is null ? String(e, "anonymous_id") : null;
        var installation = userId ?? anonymousId ?? (ctx is { } c1 ? String(c1, "user_id") : null);
        if (string.IsNullOrWhiteSpace(installation))
        {
            return MapResult.Reject(Reasons.MissingInstallationId, "user_id is required", tool);
        }
        var sourceId = NonEmpty(String(e, "eventn_ctx_event_id")) ?? (ctx is { } c2 ? NonEmpty(String(c2, "event_id")) : null) ?? NonEmpty(String(e, "event_id"));
        DateTime? time = null;
        var timestamp = String(e, "_timestamp") ?? String(e, "timestamp") ?? String(e, "utc_time") ?? (ctx is { } c3 ? String(c3, "utc_time") : null);
        if (timestamp is not null && Canon.TryParseTimestamp(timestamp, out var t))
        {
            time = t;
        }
        var action = String(e, "action") ?? String(e, "event_type");

        // Evidently sends "error": null on success and the exception class name on failure; an event
        // without the field says nothing about the outcome.
        var status = RunStatus.Unknown;
        string? errorType = null;
        if (e.TryGetProperty("error", out var error))
        {
            if (error.ValueKind == JsonValueKind.Null)
            {
                status = RunStatus.Succeeded;
            }
            else
            {
                status = RunStatus.Failed;
                errorType = Canon.ErrorType(AsString(error)) ?? "error";
            }
        }
        var (runtimeVersion, runtimeName) = Python(e);
        var groupId = String(e, "group_id");
        var properties = new PropertyBag();
        properties.Add("interface", String(e, "interface"));
        if (Object(e, "extra") is { } extra)
        {
            foreach (var p in extra.EnumerateObject())
            {
                if (NameOf(p) is { } key)
                {
                    properties.Add(key, p.Value);
                }
            }
        }
        // In CI Evidently derives user_id and group_id from the CI identity (UUIDv5 of names, which a
        // dictionary reverses); group_id is the organisation, so only its keyed hash is kept.
        properties.Add("groupId", groupId is null ? null : context.Identifiers.Personal(groupId));
        foreach (var p in e.EnumerateObject())
        {
            if (NameOf(p) is { } key && !s_jitsuKnown.Contains(key))
            {
                properties.Add(key, p.Value);
            }
        }
        var ev = new TelemetryEvent
        {
            Tool = tool,
            Source = JitsuSource,
            // Evidently's user_id is a random UUID (kept; a derived v5 one is hashed); Jitsu's anonymous_id is a cookie id (hashed).
            InstallationId = anonymousId is not null ? context.Identifiers.Personal(installation) : context.Identifiers.Installation(installation),
            EventName = action ?? "event",
            RunKey = "",
            Command = action,
            Status = status,
            ErrorType = errorType,
            ToolVersion = String(e, "tool_version"),
            OsName = Canon.OsName(String(e, "os_name")),
            OsVersion = Text(e, "os_version"),
            RuntimeName = runtimeName,
            RuntimeVersion = runtimeVersion,
            IsCi = groupId is not null,
        };
        return MapResult.Ok(ev, properties, sourceId, time);
    }

    private static (string? Version, string? Name) Python(JsonElement e)
    {
        switch (Get(e, "python_version"))
        {
            case { ValueKind: JsonValueKind.Object } v:
                var parts = new[] { "major", "minor", "patch" }
                    .Select(k => Number(v, k) is { } n && n >= 0 && n < 1e6 ? ((long)n).ToString(CultureInfo.InvariantCulture) : null)
                    .TakeWhile(p => p is not null)
                    .ToList();
                return parts.Count == 0 ? (null, null) : (string.Join('.', parts), "python");
            case { ValueKind: JsonValueKind.String } s:
                return (AsString(s), "python");
            default:
                return (null, null);
        }
    }

    private static string? NonEmpty(string? s) => string.IsNullOrWhiteSpace(s) ? null : s;
}
