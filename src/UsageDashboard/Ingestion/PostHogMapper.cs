using System.Text.Json;
using UsageDashboard.Store;
using static UsageDashboard.Ingestion.JsonValues;

namespace UsageDashboard.Ingestion;

/// <summary>
/// PostHog capture events (<c>{event, distinct_id, uuid, timestamp, properties}</c>, single or in a
/// <c>{batch: [...]}</c> body), accepted on the native endpoint and by imports, so a tool that reports to
/// PostHog can send or replay the same payloads here. The project <c>api_key</c> is never kept.
/// </summary>
public static class PostHogMapper
{
    public const string Source = "posthog";

    public static bool Looks(JsonElement e) =>
        e.ValueKind == JsonValueKind.Object && Get(e, "installationId") is null && String(e, "event") is not null
        && (Get(e, "distinct_id") is not null || (Object(e, "properties") is { } p && Get(p, "distinct_id") is not null));

    public static MapResult Map(JsonElement e, IngestContext context)
    {
        var properties = Object(e, "properties");
        var tool = context.ResolveTool(properties is { } p0 ? String(p0, "tool") : null);
        if (tool is null)
        {
            return MapResult.Reject(Reasons.MissingTool, "this write key belongs to several tools: name one in properties.tool");
        }
        var installation = Text(e, "distinct_id") ?? (properties is { } p1 ? Text(p1, "distinct_id") : null);
        if (string.IsNullOrWhiteSpace(installation))
        {
            return MapResult.Reject(Reasons.MissingInstallationId, "distinct_id is required", tool);
        }
        DateTime? time = null;
        if (String(e, "timestamp") is { } timestamp)
        {
            if (!Canon.TryParseTimestamp(timestamp, out var t))
            {
                return MapResult.Reject(Reasons.InvalidField, "timestamp must be an ISO 8601 date-time", tool);
            }
            time = t;
        }
        var name = String(e, "event")!;
        var bag = new PropertyBag();
        string? command = null, toolVersion = null, os = null, python = null, errorType = null;
        var status = RunStatus.Unknown;
        long? duration = null;
        if (properties is { } props)
        {
            command = String(props, "command");
            toolVersion = String(props, "tool_version") ?? String(props, "version");
            os = String(props, "os") ?? String(props, "$os");
            python = String(props, "python_version");
            if (Number(props, "exit_code") is { } exit)
            {
                status = exit == 0 ? RunStatus.Succeeded : RunStatus.Failed;
            }
            if (String(props, "status") is { } s)
            {
                status = Canon.Status(s);
            }
            if (Number(props, "duration_ms") is { } ms && ms >= 0)
            {
                duration = (long)ms;
            }
            errorType = Canon.ErrorType(String(props, "error_type"));
            foreach (var p in props.EnumerateObject())
            {
                if (NameOf(p) is { } key && key is not ("command" or "tool_version" or "os" or "$os" or "python_version" or "status" or "duration_ms" or "error_type" or "distinct_id" or "tool"))
                {
                    bag.Add(key, p.Value);
                }
            }
        }
        var ev = new TelemetryEvent
        {
            Tool = tool,
            Source = Source,
            // distinct_id is often an e-mail or an account id: only its keyed hash is stored.
            InstallationId = context.Identifiers.Personal(installation),
            EventName = name,
            RunKey = "",
            Command = command ?? name,
            Status = status,
            DurationMs = duration,
            ErrorType = errorType,
            ToolVersion = toolVersion,
            OsName = Canon.OsName(os),
            RuntimeName = python is null ? null : "python",
            RuntimeVersion = python,
        };
        return MapResult.Ok(ev, bag, String(e, "uuid"), time);
    }
}
