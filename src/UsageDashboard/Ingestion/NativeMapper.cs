using System.Collections.Frozen;
using System.Text.Json;
using UsageDashboard.Store;
using static UsageDashboard.Ingestion.JsonValues;

namespace UsageDashboard.Ingestion;

/// <summary>The native format (docs/schema/event.schema.json) to canonical form.</summary>
public static class NativeMapper
{
    public const string Source = "native";

    private static readonly FrozenSet<string> s_known = new[]
    {
        "eventId", "tool", "timestamp", "installationId", "userId", "runId", "command", "status", "durationMs", "toolVersion",
        "os", "runtime", "environment", "isCi", "error", "plugins", "properties", "event", "uuid",
    }.ToFrozenSet(StringComparer.Ordinal);

    private static readonly FrozenSet<string> s_statuses = new[]
    {
        RunStatus.Started, RunStatus.Succeeded, RunStatus.Failed, RunStatus.Aborted, RunStatus.Skipped,
    }.ToFrozenSet(StringComparer.Ordinal);

    public static MapResult Map(JsonElement e, IngestContext context)
    {
        if (e.ValueKind != JsonValueKind.Object)
        {
            return MapResult.Reject(Reasons.NotAnObject, "an event is a JSON object");
        }
        if (!OptionalString(e, "tool", out var named, out var bad) || !OptionalString(e, "eventId", out var eventId, out bad)
            || !OptionalString(e, "installationId", out var installation, out bad) || !OptionalString(e, "userId", out var userId, out bad)
            || !OptionalString(e, "runId", out var runId, out bad) || !OptionalString(e, "command", out var command, out bad)
            || !OptionalString(e, "status", out var status, out bad) || !OptionalString(e, "toolVersion", out var toolVersion, out bad)
            || !OptionalString(e, "environment", out var environment, out bad) || !OptionalString(e, "timestamp", out var timestamp, out bad)
            || !OptionalString(e, "event", out var eventName, out bad))
        {
            return MapResult.Reject(Reasons.InvalidField, bad);
        }
        var tool = context.ResolveTool(named);
        if (tool is null)
        {
            return named is null
                ? MapResult.Reject(Reasons.MissingTool, "this write key belongs to several tools: name one in \"tool\"")
                : MapResult.Reject(Reasons.ToolNotAllowed, "this write key may not send events for that tool");
        }
        if (string.IsNullOrWhiteSpace(installation))
        {
            return MapResult.Reject(Reasons.MissingInstallationId, "installationId is required", tool);
        }
        DateTime? time = null;
        if (timestamp is not null)
        {
            if (!Canon.TryParseTimestamp(timestamp, out var t))
            {
                return MapResult.Reject(Reasons.InvalidField, "timestamp must be an RFC 3339 date-time", tool);
            }
            time = t;
        }
        var canonicalStatus = RunStatus.Unknown;
        if (status is not null)
        {
            canonicalStatus = status.Trim().ToLowerInvariant();
            if (!s_statuses.Contains(canonicalStatus))
            {
                return MapResult.Reject(Reasons.InvalidField, "status must be one of started, succeeded, failed, aborted, skipped", tool);
            }
        }
        long? duration = null;
        if (Get(e, "durationMs") is { } d)
        {
            if (d.ValueKind != JsonValueKind.Number || !d.TryGetDouble(out var ms) || ms < 0 || ms > TimeSpan.FromDays(366).TotalMilliseconds)
            {
                return MapResult.Reject(Reasons.InvalidField, "durationMs must be a non-negative number of milliseconds", tool);
            }
            duration = (long)Math.Round(ms);
        }
        bool isCi = false;
        if (Get(e, "isCi") is { } ci)
        {
            if (ci.ValueKind is not (JsonValueKind.True or JsonValueKind.False))
            {
                return MapResult.Reject(Reasons.InvalidField, "isCi must be a boolean", tool);
            }
            isCi = ci.ValueKind == JsonValueKind.True;
        }
        if (!NameVersion(e, "os", out var os, out bad) || !NameVersion(e, "runtime", out var runtime, out bad))
        {
            return MapResult.Reject(Reasons.InvalidField, bad, tool);
        }
        string? errorType = null;
        if (Get(e, "error") is { } error)
        {
            if (error.ValueKind != JsonValueKind.Object || !OptionalString(error, "type", out var type, out _))
            {
                return MapResult.Reject(Reasons.InvalidField, "error must be an object {type}", tool);
            }
            // Only the class name is kept; a message is free text and is never stored.
            errorType = Canon.ErrorType(type) ?? "error";
        }
        var plugins = new List<PluginRef>();
        if (Get(e, "plugins") is { } list)
        {
            if (list.ValueKind != JsonValueKind.Array)
            {
                return MapResult.Reject(Reasons.InvalidField, "plugins must be an array", tool);
            }
            foreach (var p in list.EnumerateArray())
            {
                if (p.ValueKind != JsonValueKind.Object || !OptionalString(p, "name", out var name, out _) || string.IsNullOrWhiteSpace(name)
                    || !OptionalString(p, "type", out var ptype, out _) || !OptionalString(p, "version", out var pversion, out _)
                    || !OptionalString(p, "status", out var pstatus, out _))
                {
                    return MapResult.Reject(Reasons.InvalidField, "each plugin is an object with a string name and optional string type, version, status", tool);
                }
                if (pstatus is not null && !s_statuses.Contains(pstatus.Trim().ToLowerInvariant()))
                {
                    return MapResult.Reject(Reasons.InvalidField, "plugin status must be one of started, succeeded, failed, aborted, skipped", tool);
                }
                plugins.Add(new PluginRef { Name = name, Type = ptype, Version = pversion, Status = pstatus });
            }
        }
        var properties = new PropertyBag();
        if (Get(e, "properties") is { } props)
        {
            if (props.ValueKind != JsonValueKind.Object)
            {
                return MapResult.Reject(Reasons.InvalidField, "properties must be an object", tool);
            }
            foreach (var p in props.EnumerateObject())
            {
                if (NameOf(p) is { } key)
                {
                    properties.Add(key, p.Value);
                }
            }
        }
        foreach (var p in e.EnumerateObject())
        {
            if (NameOf(p) is { } key && !s_known.Contains(key))
            {
                properties.Add(key, p.Value);
            }
        }

        var ev = new TelemetryEvent
        {
            Tool = tool,
            Source = Source,
            // installationId is meant to be a random UUID (kept); userId may name a person (always hashed).
            InstallationId = context.Identifiers.Installation(installation),
            UserId = string.IsNullOrWhiteSpace(userId) ? null : context.Identifiers.Personal(userId),
            EventName = eventName ?? "command",
            RunKey = runId ?? "",
            Command = command,
            Status = canonicalStatus,
            DurationMs = duration,
            ToolVersion = toolVersion,
            OsName = Canon.OsName(os.Name),
            OsVersion = os.Version,
            RuntimeName = runtime.Name?.Trim().ToLowerInvariant(),
            RuntimeVersion = runtime.Version,
            Environment = environment,
            IsCi = isCi,
            ErrorType = errorType,
            Plugins = plugins,
        };
        // PostHog-style clients call the id "uuid".
        return MapResult.Ok(ev, properties, eventId ?? JsonValues.String(e, "uuid"), time);
    }

    /// <summary>False when the field is present with a type other than string (null counts as absent).</summary>
    private static bool OptionalString(JsonElement obj, string name, out string? value, out string? problem)
    {
        value = null;
        problem = null;
        if (Get(obj, name) is not { } v)
        {
            return true;
        }
        value = AsString(v);
        if (value is null)
        {
            problem = $"{name} must be a string";
            return false;
        }
        return true;
    }

    private static bool NameVersion(JsonElement obj, string field, out (string? Name, string? Version) result, out string? problem)
    {
        result = default;
        problem = null;
        if (Get(obj, field) is not { } v)
        {
            return true;
        }
        if (v.ValueKind != JsonValueKind.Object || !OptionalString(v, "name", out var name, out _) || !OptionalString(v, "version", out var version, out _))
        {
            problem = $"{field} must be an object {{name, version}} of strings";
            return false;
        }
        result = (name, version);
        return true;
    }
}
