using System.Buffers;
using System.Globalization;
using System.Text.Json;

namespace UsageDashboard.Ingestion;

/// <summary>
/// Reading untrusted JSON without surprises: accessors that answer null instead of throwing on a wrong
/// type or an invalid escape, and a writer that copies a value with privacy scrubbing and size bounds.
/// </summary>
public static class JsonValues
{
    public const int MaxDepth = 64;

    public static readonly JsonDocumentOptions DocumentOptions = new() { MaxDepth = MaxDepth };

    /// <summary>
    /// Parses <paramref name="utf8"/> (one JSON value, as <see cref="DocumentOptions"/> allow) into a document
    /// over arrays of its own, sized to fit. For documents an event keeps: <see cref="JsonDocument.Parse(ReadOnlyMemory{byte}, JsonDocumentOptions)"/>
    /// rents its row table from the shared pool (about twelve bytes per byte of JSON, rounded up to a power
    /// of two), and an event's properties are never disposed, so every event held a pool-sized array of its
    /// own and a bulk load's chunks in flight held gigabytes.
    /// </summary>
    public static JsonDocument ParseDetached(ReadOnlySpan<byte> utf8)
    {
        var reader = new Utf8JsonReader(utf8, new JsonReaderOptions { MaxDepth = MaxDepth });
        return JsonDocument.ParseValue(ref reader);
    }

    /// <summary>The string value, or null when absent, not a string, or not valid UTF-16 (e.g. "\ud800").</summary>
    public static string? AsString(JsonElement e)
    {
        if (e.ValueKind != JsonValueKind.String)
        {
            return null;
        }
        try
        {
            return e.GetString();
        }
        catch (InvalidOperationException)
        {
            return null;
        }
    }

    public static JsonElement? Get(JsonElement obj, string name) =>
        obj.ValueKind == JsonValueKind.Object && obj.TryGetProperty(name, out var v) && v.ValueKind != JsonValueKind.Null ? v : null;

    public static string? String(JsonElement obj, string name) => Get(obj, name) is { } v ? AsString(v) : null;

    /// <summary>A string, or a number/bool rendered invariantly (Snowplow sends every value as a string, some clients don't).</summary>
    public static string? Text(JsonElement obj, string name) => Get(obj, name) is { } v ? v.ValueKind switch
    {
        JsonValueKind.String => AsString(v),
        JsonValueKind.Number => v.GetRawText(),
        JsonValueKind.True => "true",
        JsonValueKind.False => "false",
        _ => null,
    } : null;

    public static JsonElement? Object(JsonElement obj, string name) => Get(obj, name) is { ValueKind: JsonValueKind.Object } v ? v : null;

    public static JsonElement? Array(JsonElement obj, string name) => Get(obj, name) is { ValueKind: JsonValueKind.Array } v ? v : null;

    public static bool? Bool(JsonElement obj, string name) => Get(obj, name) switch
    {
        { ValueKind: JsonValueKind.True } => true,
        { ValueKind: JsonValueKind.False } => false,
        { ValueKind: JsonValueKind.String } s => AsString(s)?.Trim().ToLowerInvariant() switch
        {
            "true" or "1" or "yes" => true,
            "false" or "0" or "no" => false,
            _ => null,
        },
        _ => null,
    };

    public static double? Number(JsonElement obj, string name) => Get(obj, name) is { } v ? AsNumber(v) : null;

    public static double? AsNumber(JsonElement v)
    {
        if (v.ValueKind == JsonValueKind.Number && v.TryGetDouble(out var d) && double.IsFinite(d))
        {
            return d;
        }
        if (v.ValueKind == JsonValueKind.String && double.TryParse(AsString(v), NumberStyles.Float, CultureInfo.InvariantCulture, out d) && double.IsFinite(d))
        {
            return d;
        }
        return null;
    }

    /// <summary>The property name, or null when it holds an invalid escape.</summary>
    public static string? NameOf(JsonProperty p)
    {
        try
        {
            return p.Name;
        }
        catch (InvalidOperationException)
        {
            return null;
        }
    }

    /// <summary>Bounds for <see cref="WriteSanitized"/>.</summary>
    public readonly record struct Bounds(int MaxDepth, int MaxItems, int MaxString, bool Scrub)
    {
        public static readonly Bounds Properties = new(8, 100, 1024, Scrub: true);
        public static readonly Bounds Quarantine = new(JsonValues.MaxDepth, 10_000, 64 * 1024, Scrub: true);
    }

    /// <summary>
    /// Copies <paramref name="e"/> to <paramref name="w"/>: sensitive keys and personal values (addresses,
    /// e-mails, URLs, paths, geolocation; <see cref="Privacy.LooksPersonal"/>) removed
    /// (when <see cref="Bounds.Scrub"/>), text cleaned for PostgreSQL, depth, item count and string length
    /// bounded, numbers PostgreSQL cannot hold written as text.
    /// </summary>
    public static void WriteSanitized(Utf8JsonWriter w, JsonElement e, Bounds bounds, int depth = 0)
    {
        switch (e.ValueKind)
        {
            case JsonValueKind.Object:
                if (depth >= bounds.MaxDepth)
                {
                    w.WriteNullValue();
                    return;
                }
                w.WriteStartObject();
                var n = 0;
                foreach (var p in e.EnumerateObject())
                {
                    if (n++ >= bounds.MaxItems)
                    {
                        break;
                    }
                    var name = NameOf(p);
                    if (name is null || (bounds.Scrub && (Privacy.IsSensitiveKey(name) || IsPersonal(p.Value))))
                    {
                        continue;
                    }
                    w.WritePropertyName(Privacy.Clean(name, 128));
                    WriteSanitized(w, p.Value, bounds, depth + 1);
                }
                w.WriteEndObject();
                return;
            case JsonValueKind.Array:
                if (depth >= bounds.MaxDepth)
                {
                    w.WriteNullValue();
                    return;
                }
                w.WriteStartArray();
                var i = 0;
                foreach (var item in e.EnumerateArray())
                {
                    if (i++ >= bounds.MaxItems)
                    {
                        break;
                    }
                    if (bounds.Scrub && IsPersonal(item))
                    {
                        continue;
                    }
                    WriteSanitized(w, item, bounds, depth + 1);
                }
                w.WriteEndArray();
                return;
            case JsonValueKind.String:
                var text = AsString(e) ?? "\uFFFD";
                if (!bounds.Scrub || !TryWriteEmbedded(w, text, bounds))
                {
                    w.WriteStringValue(Privacy.Clean(text, bounds.MaxString));
                }
                return;
            case JsonValueKind.Number:
                WriteNumber(w, e);
                return;
            case JsonValueKind.True:
                w.WriteBooleanValue(true);
                return;
            case JsonValueKind.False:
                w.WriteBooleanValue(false);
                return;
            default:
                w.WriteNullValue();
                return;
        }
    }

    /// <summary>
    /// A string that carries JSON of its own (Snowplow's <c>co</c>/<c>ue_pr</c> as text, <c>cx</c>/<c>ue_px</c> as
    /// base64url) is scrubbed inside and written back in the same encoding; otherwise false.
    /// </summary>
    private static bool TryWriteEmbedded(Utf8JsonWriter w, string text, Bounds bounds)
    {
        var trimmed = text.AsSpan().Trim();
        if (trimmed.Length >= 2 && trimmed[0] is '{' or '[')
        {
            if (TryScrubJson(System.Text.Encoding.UTF8.GetBytes(text), bounds) is { } json)
            {
                w.WriteStringValue(Privacy.Clean(json, bounds.MaxString));
                return true;
            }
            return false;
        }
        if (trimmed.Length >= 16 && IsBase64(trimmed) && SnowplowMapper.DecodeBase64(text) is { Length: > 1 } bytes && bytes[0] is (byte)'{' or (byte)'['
            && TryScrubJson(bytes, bounds) is { } decoded)
        {
            w.WriteStringValue(Convert.ToBase64String(System.Text.Encoding.UTF8.GetBytes(decoded)).TrimEnd('=').Replace('+', '-').Replace('/', '_'));
            return true;
        }
        return false;
    }

    private static string? TryScrubJson(byte[] utf8, Bounds bounds)
    {
        try
        {
            using var doc = JsonDocument.Parse(utf8, DocumentOptions);
            return ToSanitizedString(doc.RootElement, bounds);
        }
        catch (JsonException)
        {
            return null;
        }
    }

    private static bool IsBase64(ReadOnlySpan<char> s)
    {
        foreach (var c in s)
        {
            if (!(char.IsAsciiLetterOrDigit(c) || c is '+' or '/' or '-' or '_' or '='))
            {
                return false;
            }
        }
        return true;
    }

    private static bool IsPersonal(JsonElement e) => e.ValueKind == JsonValueKind.String && AsString(e) is { } s && Privacy.LooksPersonal(s);

    private static void WriteNumber(Utf8JsonWriter w, JsonElement e)
    {
        if (e.TryGetInt64(out var l))
        {
            w.WriteNumberValue(l);
        }
        else if (e.TryGetDouble(out var d) && double.IsFinite(d) && Math.Abs(d) < 1e300)
        {
            w.WriteNumberValue(d);
        }
        else
        {
            // 1e999999 is valid JSON but overflows PostgreSQL numeric: keep the text, not the number.
            w.WriteStringValue(Privacy.Clean(e.GetRawText(), 64));
        }
    }

    /// <summary>A sanitized copy as a JSON string, for quarantine rows.</summary>
    public static string ToSanitizedString(JsonElement e, Bounds bounds)
    {
        var buffer = new ArrayBufferWriter<byte>(256);
        using (var w = new Utf8JsonWriter(buffer, new JsonWriterOptions { SkipValidation = true, MaxDepth = MaxDepth + 2 }))
        {
            WriteSanitized(w, e, bounds);
        }
        return System.Text.Encoding.UTF8.GetString(buffer.WrittenSpan);
    }
}

/// <summary>
/// The extra, non-canonical fields of one event, serialized under a byte budget: entries are kept in
/// the order added while they fit; when one doesn't, it is left out and <c>_truncated</c> says so.
/// </summary>
public sealed class PropertyBag
{
    private readonly List<(string Key, object Value)> _entries = [];
    private readonly HashSet<string> _keys = new(StringComparer.Ordinal);

    public int Count => _entries.Count;

    public void Add(string key, JsonElement value)
    {
        if (value.ValueKind is not JsonValueKind.Undefined && !Privacy.IsSensitiveKey(key)
            && !(value.ValueKind == JsonValueKind.String && JsonValues.AsString(value) is { } s && Privacy.LooksPersonal(s)))
        {
            AddEntry(key, value);
        }
    }

    public void Add(string key, JsonElement? value)
    {
        if (value is { } v)
        {
            Add(key, v);
        }
    }

    /// <summary>A value the mapper names itself: kept unless it is personal (<see cref="Privacy.LooksPersonal"/>).</summary>
    public void Add(string key, string? value)
    {
        if (value is not null && !Privacy.LooksPersonal(value))
        {
            AddEntry(key, value);
        }
    }

    public void Add(string key, double? value)
    {
        if (value is { } v && double.IsFinite(v))
        {
            AddEntry(key, v);
        }
    }

    public void Add(string key, bool? value)
    {
        if (value is { } v)
        {
            AddEntry(key, v);
        }
    }

    private void AddEntry(string key, object value)
    {
        if (_keys.Add(key))
        {
            _entries.Add((key, value));
        }
    }

    public JsonDocument? Build(int maxBytes)
    {
        if (_entries.Count == 0)
        {
            return null;
        }
        var output = new ArrayBufferWriter<byte>(256);
        var scratch = new ArrayBufferWriter<byte>(256);
        var truncated = false;
        var used = 2;
        var writerOptions = new JsonWriterOptions { SkipValidation = true, MaxDepth = JsonValues.MaxDepth + 2 };
        using (var w = new Utf8JsonWriter(output, writerOptions))
        {
            w.WriteStartObject();
            foreach (var (key, value) in _entries)
            {
                scratch.ResetWrittenCount();
                using (var sw = new Utf8JsonWriter(scratch, writerOptions))
                {
                    switch (value)
                    {
                        case JsonElement e:
                            JsonValues.WriteSanitized(sw, e, JsonValues.Bounds.Properties);
                            break;
                        case string s:
                            sw.WriteStringValue(Privacy.Clean(s, JsonValues.Bounds.Properties.MaxString));
                            break;
                        case double d:
                            sw.WriteNumberValue(d);
                            break;
                        case bool b:
                            sw.WriteBooleanValue(b);
                            break;
                    }
                }
                var name = Privacy.Clean(key, 128);
                var size = scratch.WrittenCount + name.Length + 4;
                if (used + size > maxBytes)
                {
                    truncated = true;
                    continue;
                }
                used += size;
                w.WritePropertyName(name);
                w.WriteRawValue(scratch.WrittenSpan, skipInputValidation: true);
            }
            if (truncated)
            {
                w.WriteBoolean("_truncated", true);
            }
            w.WriteEndObject();
        }
        return JsonValues.ParseDetached(output.WrittenSpan);
    }
}
