using System.Buffers;
using System.Text.Json;

namespace UsageDashboard.Ingestion;

/// <summary>Recognising which wire format a JSON value is in, and routing it to its mapper.</summary>
public static class WireFormats
{
    public const string Auto = "auto";
    public const string Native = "native";
    public const string Snowplow = "snowplow";
    public const string Jitsu = "jitsu";

    /// <summary>
    /// The native endpoint's events: native, and unchanged the Jetty usage event (plain or as the
    /// Firestore document the CLI writes) and the Evidently 0.1 CLI event.
    /// </summary>
    public static MapResult MapNativeEndpoint(JsonElement e, IngestContext context)
    {
        if (JettyMapper.LooksFirestore(e))
        {
            // Not disposed: the mapped event's properties may point into it until the batch is completed.
            var plain = JettyMapper.UnwrapFirestore(e);
            return JettyMapper.Map(plain.RootElement, context);
        }
        if (JettyMapper.Looks(e))
        {
            return JettyMapper.Map(e, context);
        }
        if (EvidentlyMapper.LooksLegacy(e))
        {
            return EvidentlyMapper.MapLegacy(e, context);
        }
        if (PostHogMapper.Looks(e))
        {
            return PostHogMapper.Map(e, context);
        }
        return NativeMapper.Map(e, context);
    }

    /// <summary>For imports: any format, recognised per event.</summary>
    public static MapResult MapAny(JsonElement e, IngestContext context, ToolDirectory tools)
    {
        if (SnowplowMapper.Looks(e))
        {
            return SnowplowMapper.Map(e, context, tools);
        }
        if (EvidentlyMapper.LooksJitsu(e))
        {
            return EvidentlyMapper.MapJitsu(e, context);
        }
        return MapNativeEndpoint(e, context);
    }

    public static string SourceOf(JsonElement e) =>
        JettyMapper.LooksFirestore(e) || JettyMapper.Looks(e) ? JettyMapper.Source
        : EvidentlyMapper.LooksLegacy(e) ? EvidentlyMapper.LegacySource
        : SnowplowMapper.Looks(e) ? SnowplowMapper.Source
        : EvidentlyMapper.LooksJitsu(e) ? EvidentlyMapper.JitsuSource
        : NativeMapper.Source;

    /// <summary>Native endpoint bodies: an event, an array, or a PostHog <c>{batch: [...]}</c> body.</summary>
    public static (IEnumerable<JsonElement>? Events, string? Problem) UnwrapNative(JsonElement root) =>
        root.ValueKind == JsonValueKind.Array ? (root.EnumerateArray(), null)
        : root.ValueKind == JsonValueKind.Object && JsonValues.Array(root, "batch") is { } batch && JsonValues.Get(root, "installationId") is null ? (batch.EnumerateArray(), null)
        : ([root], null);

    /// <summary>Jitsu bodies: an object, an array of objects, or <c>{template, events}</c> (template fields under each event's own).</summary>
    public static (IEnumerable<JsonElement>? Events, string? Problem) UnwrapJitsu(JsonElement root) => UnwrapJitsu(root, s_defaults);

    private static readonly IngestionOptions s_defaults = new();

    /// <summary>
    /// <see cref="UnwrapJitsu(JsonElement)"/> within <paramref name="limits"/>. The template is copied under
    /// each event only as the caller takes it, after its count was checked, and a body whose copies would
    /// exceed <see cref="IngestionOptions.MaxExpandedBytes"/> or <see cref="IngestionOptions.MaxEventsPerRequest"/>
    /// is refused (<see cref="BodyLimitException"/>) before the first copy: a small template under many
    /// empty events would otherwise ask for many times the body in memory.
    /// </summary>
    public static (IEnumerable<JsonElement>? Events, string? Problem) UnwrapJitsu(JsonElement root, IngestionOptions limits)
    {
        if (root.ValueKind == JsonValueKind.Array)
        {
            return (root.EnumerateArray(), null);
        }
        if (root.ValueKind != JsonValueKind.Object)
        {
            return (null, "a Jitsu body is an object, an array of objects, or {template, events}");
        }
        if (JsonValues.Array(root, "events") is { } events && (JsonValues.Object(root, "template") is { } || root.EnumerateObject().Count() == 1))
        {
            if (JsonValues.Object(root, "template") is not { } template)
            {
                return (events.EnumerateArray(), null);
            }
            var count = events.GetArrayLength();
            if (count > limits.MaxEventsPerRequest)
            {
                throw new BodyLimitException(StatusCodes.Status413PayloadTooLarge, RequestBody.TooManyEvents(limits.MaxEventsPerRequest));
            }
            var expanded = (long)template.RawLength() * count + root.RawLength();
            if (expanded > limits.MaxExpandedBytes)
            {
                throw new BodyLimitException(StatusCodes.Status413PayloadTooLarge, new ErrorResponse
                {
                    Error = "template_too_large",
                    Message = string.Create(System.Globalization.CultureInfo.InvariantCulture,
                        $"the template copied under each of the {count} events would make {expanded} bytes; the limit is {limits.MaxExpandedBytes}: send a smaller template or fewer events"),
                });
            }
            return (events.EnumerateArray().Select(e => Merge(template, e)), null);
        }
        return ([root], null);
    }

    /// <summary>Snowplow POST bodies: payload_data <c>{schema, data: [...]}</c> (a bare array is accepted too).</summary>
    public static (IEnumerable<JsonElement>? Events, string? Problem) UnwrapSnowplow(JsonElement root) =>
        SnowplowMapper.TryGetEvents(root, out var events, out var problem) ? (events.EnumerateArray(), null) : (null, problem);

    /// <summary>
    /// An import line in any format: a payload_data body, a Jitsu <c>{template, events}</c> body, a
    /// PostHog-style <c>{batch}</c>, an array, or one event.
    /// </summary>
    public static (IEnumerable<JsonElement>? Events, string? Problem) UnwrapAny(JsonElement root)
    {
        if (root.ValueKind == JsonValueKind.Array)
        {
            return (root.EnumerateArray(), null);
        }
        if (root.ValueKind == JsonValueKind.Object)
        {
            if (JsonValues.String(root, "schema") is { } schema && schema.Contains("payload_data", StringComparison.Ordinal))
            {
                return UnwrapSnowplow(root);
            }
            if (JsonValues.Array(root, "events") is not null)
            {
                return UnwrapJitsu(root);
            }
            if (JsonValues.Array(root, "batch") is not null)
            {
                return UnwrapNative(root);
            }
        }
        return ([root], null);
    }

    private static JsonElement Merge(JsonElement template, JsonElement e)
    {
        if (e.ValueKind != JsonValueKind.Object)
        {
            return e;
        }
        // A set, not TryGetProperty per template field: that is a linear search, and a template and an
        // event with many fields each would cost their product.
        var own = new HashSet<string>(StringComparer.Ordinal);
        foreach (var p in e.EnumerateObject())
        {
            if (JsonValues.NameOf(p) is { } name)
            {
                own.Add(name);
            }
        }
        var buffer = new ArrayBufferWriter<byte>(template.RawLength() + e.RawLength() + 2);
        using (var w = new Utf8JsonWriter(buffer, new JsonWriterOptions { SkipValidation = true, MaxDepth = JsonValues.MaxDepth + 2 }))
        {
            w.WriteStartObject();
            foreach (var p in template.EnumerateObject())
            {
                if (JsonValues.NameOf(p) is { } name && !own.Contains(name))
                {
                    p.WriteTo(w);
                }
            }
            foreach (var p in e.EnumerateObject())
            {
                p.WriteTo(w);
            }
            w.WriteEndObject();
        }
        return JsonDocument.Parse(buffer.WrittenMemory, JsonValues.DocumentOptions).RootElement;
    }
}
