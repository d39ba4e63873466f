using System.Buffers;
using System.Text.Json;

namespace UsageDashboard.Ingestion;

/// <summary>
/// One forward pass over JSON text before any document is built from it. It enforces the limits that
/// keep the work of a request proportional to its body (string length, properties per object; depth is
/// the reader's own limit) and finds the text PostgreSQL refuses: U+0000 and lone surrogates, which JSON
/// can spell as escapes (<c>\u0000</c>, <c>\ud800</c>) in otherwise valid UTF-8.
/// </summary>
public static class JsonScan
{
    /// <summary>What the scan found: a machine-readable error, a message, and the byte offset of the token.</summary>
    public readonly record struct Finding(string Error, string Message, long Offset);

    public const string InvalidText = "invalid_text";
    public const string StringTooLong = "string_too_long";
    public const string TooManyProperties = "too_many_properties";

    /// <summary>
    /// The first violation in <paramref name="json"/>, or null when there is none or the text is not JSON
    /// (the parser reports that with its own position).
    /// </summary>
    public static Finding? Check(ReadOnlySpan<byte> json, int maxStringBytes, int maxProperties)
    {
        var reader = new Utf8JsonReader(json, new JsonReaderOptions { MaxDepth = JsonValues.MaxDepth });
        // Properties seen so far in each open object, by the object's depth.
        Span<int> properties = stackalloc int[JsonValues.MaxDepth + 2];
        try
        {
            while (reader.Read())
            {
                switch (reader.TokenType)
                {
                    case JsonTokenType.StartObject:
                        properties[reader.CurrentDepth] = 0;
                        break;
                    case JsonTokenType.PropertyName:
                        if (++properties[reader.CurrentDepth - 1] > maxProperties)
                        {
                            return new Finding(TooManyProperties, $"an object has more than {maxProperties} properties", reader.TokenStartIndex);
                        }
                        if (CheckString(ref reader, maxStringBytes) is { } name)
                        {
                            return name;
                        }
                        break;
                    case JsonTokenType.String:
                        if (CheckString(ref reader, maxStringBytes) is { } value)
                        {
                            return value;
                        }
                        break;
                }
            }
        }
        catch (JsonException)
        {
            return null;
        }
        return null;
    }

    /// <summary>The problem with a string's text as <see cref="Check"/> sees it, or null; for values read from a string (Snowplow query parameters).</summary>
    public static string? ProblemWith(string text)
    {
        for (var i = 0; i < text.Length; i++)
        {
            var c = text[i];
            if (c == '\0')
            {
                return "U+0000 (NUL)";
            }
            if (char.IsHighSurrogate(c) && i + 1 < text.Length && char.IsLowSurrogate(text[i + 1]))
            {
                i++;
            }
            else if (char.IsSurrogate(c))
            {
                return "a lone surrogate";
            }
        }
        return null;
    }

    public static string Unstorable(string what) => $"{what}, which PostgreSQL cannot store; send valid Unicode text without NUL characters";

    private static Finding? CheckString(ref Utf8JsonReader reader, int maxStringBytes)
    {
        var raw = reader.ValueSpan;
        if (raw.Length > maxStringBytes)
        {
            return new Finding(StringTooLong, $"a string is longer than {maxStringBytes} bytes", reader.TokenStartIndex);
        }
        // Unescaped UTF-8 has been validated by the reader and cannot hold either; only escapes can.
        if (!reader.ValueIsEscaped || raw.IndexOf("\\u"u8) < 0)
        {
            return null;
        }
        var buffer = ArrayPool<char>.Shared.Rent(raw.Length);
        try
        {
            var length = reader.CopyString(buffer);
            if (buffer.AsSpan(0, length).Contains('\0'))
            {
                return new Finding(InvalidText, Unstorable("a string holds U+0000 (NUL)"), reader.TokenStartIndex);
            }
            return null;
        }
        catch (InvalidOperationException)
        {
            // The reader refuses to unescape a lone surrogate (\ud800 without its pair).
            return new Finding(InvalidText, Unstorable("a string holds a lone surrogate (e.g. \\ud800)"), reader.TokenStartIndex);
        }
        finally
        {
            ArrayPool<char>.Shared.Return(buffer);
        }
    }
}
