using System.Buffers;
using System.Collections.Frozen;
using System.Text.Json;
using UsageDashboard.Store;
using static UsageDashboard.Ingestion.JsonValues;

namespace UsageDashboard.Ingestion;

/// <summary>
/// The Jetty CLI's usage event (seed 000), as plain JSON or as the Firestore document the CLI actually
/// POSTs. Jetty reports before the command runs, so the outcome is unknown.
/// </summary>
public static class JettyMapper
{
    public const string Source = "jetty";
    public const string Tool = "jetty";

    private static readonly FrozenSet<string> s_known = new[]
    {
        "created", "user_id", "jetty_version", "platform", "environment", "event",
    }.ToFrozenSet(StringComparer.Ordinal);

    public static bool Looks(JsonElement e) =>
        e.ValueKind == JsonValueKind.Object && Get(e, "installationId") is null
        && (Get(e, "jetty_version") is not null || (Object(e, "event") is { } ev && Get(ev, "name") is not null && Get(e, "schema_version") is not null));

    /// <summary>A Firestore REST document: <c>{"fields": {...typed values...}}</c>.</summary>
    public static bool LooksFirestore(JsonElement e) =>
        e.ValueKind == JsonValueKind.Object && Object(e, "fields") is not null && Get(e, "installationId") is null;

    public static MapResult Map(JsonElement e, IngestContext context)
    {
        var tool = context.ResolveTool(null, Tool);
        if (tool is null)
        {
            return MapResult.Reject(Reasons.ToolNotAllowed, "a Jetty event needs a write key of the jetty tool");
        }
        var installation = String(e, "user_id");
        if (string.IsNullOrWhiteSpace(installation))
        {
            return MapResult.Reject(Reasons.MissingInstallationId, "user_id is required", tool);
        }
        DateTime? time = null;
        if (String(e, "created") is { } created)
        {
            if (!Canon.TryParseTimestamp(created, out var t))
            {
                return MapResult.Reject(Reasons.InvalidField, "created must be an RFC 3339 date-time", tool);
            }
            time = t;
        }
        var ev = Object(e, "event");
        var name = ev is { } evv ? String(evv, "name") : null;
        if (string.IsNullOrWhiteSpace(name))
        {
            return MapResult.Reject(Reasons.InvalidField, "event.name is required", tool);
        }
        var properties = new PropertyBag();
        var plugins = new List<PluginRef>();
        if (ev is { } evObj && Object(evObj, "properties") is { } props)
        {
            foreach (var p in props.EnumerateObject())
            {
                if (NameOf(p) is not { } key)
                {
                    continue;
                }
                if (key == "connector_types" && p.Value.ValueKind == JsonValueKind.Array)
                {
                    foreach (var c in p.Value.EnumerateArray())
                    {
                        if (AsString(c) is { Length: > 0 } connector)
                        {
                            plugins.Add(new PluginRef { Name = connector, Type = "connector" });
                        }
                    }
                }
                else
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
        var panicked = name == "panicked";
        var result = new TelemetryEvent
        {
            Tool = tool,
            Source = Source,
            InstallationId = context.Identifiers.Installation(installation),
            EventName = name,
            RunKey = "",
            // invoked_fetch is `jetty fetch`; invoked_default is `jetty` with no subcommand.
            Command = panicked ? null : name.StartsWith("invoked_", StringComparison.Ordinal) ? name["invoked_".Length..] : name,
            Status = panicked ? RunStatus.Failed : RunStatus.Unknown,
            ErrorType = panicked ? "panic" : null,
            ToolVersion = String(e, "jetty_version"),
            OsName = Canon.OsName(String(e, "platform")),
            Environment = String(e, "environment"),
            Plugins = plugins,
        };
        return MapResult.Ok(result, properties, null, time);
    }

    /// <summary>
    /// Turns Firestore typed values (stringValue, integerValue-as-string, timestampValue, mapValue.fields,
    /// arrayValue.values, ...) back into the plain JSON the CLI serialized. Geo points are dropped.
    /// </summary>
    public static JsonDocument UnwrapFirestore(JsonElement document)
    {
        var buffer = new ArrayBufferWriter<byte>(512);
        using (var w = new Utf8JsonWriter(buffer, new JsonWriterOptions { SkipValidation = true, MaxDepth = MaxDepth + 2 }))
        {
            WriteFields(w, document.GetProperty("fields"));
        }
        return JsonDocument.Parse(buffer.WrittenMemory, DocumentOptions);
    }

    private static void WriteFields(Utf8JsonWriter w, JsonElement fields)
    {
        w.WriteStartObject();
        foreach (var p in fields.EnumerateObject())
        {
            if (NameOf(p) is { } key)
            {
                w.WritePropertyName(Privacy.Clean(key, 128));
                WriteValue(w, p.Value);
            }
        }
        w.WriteEndObject();
    }

    private static void WriteValue(Utf8JsonWriter w, JsonElement typed)
    {
        if (typed.ValueKind != JsonValueKind.Object)
        {
            w.WriteNullValue();
            return;
        }
        foreach (var p in typed.EnumerateObject())
        {
            var v = p.Value;
            switch (NameOf(p))
            {
                case "stringValue" or "timestampValue" or "referenceValue" or "bytesValue":
                    w.WriteStringValue(AsString(v) ?? "");
                    return;
                case "integerValue" when AsNumber(v) is { } n && Math.Abs(n) < 1e18:
                    w.WriteNumberValue((long)n);
                    return;
                case "doubleValue" when AsNumber(v) is { } d:
                    w.WriteNumberValue(d);
                    return;
                case "booleanValue":
                    w.WriteBooleanValue(v.ValueKind == JsonValueKind.True);
                    return;
                case "mapValue" when v.ValueKind == JsonValueKind.Object:
                    if (Object(v, "fields") is { } fields)
                    {
                        WriteFields(w, fields);
                    }
                    else
                    {
                        w.WriteStartObject();
                        w.WriteEndObject();
                    }
                    return;
                case "arrayValue" when v.ValueKind == JsonValueKind.Object:
                    w.WriteStartArray();
                    if (Array(v, "values") is { } values)
                    {
                        foreach (var item in values.EnumerateArray())
                        {
                            WriteValue(w, item);
                        }
                    }
                    w.WriteEndArray();
                    return;
            }
        }
        w.WriteNullValue();
    }
}
