using System.Buffers;
using System.Text.Json;

namespace UsageDashboard.Ingestion;

/// <summary>A request body parsed into its events, or why it could not be.</summary>
public sealed class ParsedBody : IDisposable
{
    private readonly List<JsonDocument> _documents = [];

    public List<JsonElement> Items { get; } = [];

    public ErrorResponse? Error { get; private set; }

    public int StatusCode { get; private set; } = StatusCodes.Status200OK;

    internal JsonDocument Keep(JsonDocument document)
    {
        _documents.Add(document);
        return document;
    }

    internal ParsedBody Fail(int statusCode, ErrorResponse error)
    {
        StatusCode = statusCode;
        Error = error;
        return this;
    }

    public void Dispose()
    {
        foreach (var d in _documents)
        {
            d.Dispose();
        }
    }
}

/// <summary>
/// Reading bodies within the limits: at most MaxBodyBytes read (413 beyond), JSON parsed with a depth
/// cap of 64 so nesting cannot exhaust the stack, and a malformed body answered with its line and byte.
/// </summary>
public static class RequestBody
{
    public static bool IsJson(string? contentType) => MediaType(contentType) is null or "application/json" or "text/json" or "text/plain" || (MediaType(contentType)?.EndsWith("+json", StringComparison.Ordinal) ?? false);

    public static bool IsNdjson(string? contentType) => MediaType(contentType) is "application/x-ndjson" or "application/ndjson" or "application/jsonlines" or "application/x-jsonlines";

    private static string? MediaType(string? contentType)
    {
        if (string.IsNullOrWhiteSpace(contentType))
        {
            return null;
        }
        var semicolon = contentType.IndexOf(';', StringComparison.Ordinal);
        return (semicolon >= 0 ? contentType[..semicolon] : contentType).Trim().ToLowerInvariant();
    }

    public static ErrorResponse TooLarge(int maxBytes) => new()
    {
        Error = "payload_too_large",
        Message = string.Create(System.Globalization.CultureInfo.InvariantCulture, $"the body is larger than {maxBytes} bytes; send smaller batches"),
    };

    /// <summary>The body bytes, or null when there are more than <paramref name="maxBytes"/>.</summary>
    public static async Task<byte[]?> ReadAsync(HttpRequest request, int maxBytes, CancellationToken ct)
    {
        if (request.ContentLength > maxBytes)
        {
            return null;
        }
        var buffer = ArrayPool<byte>.Shared.Rent(Math.Min(maxBytes + 1, (int)(request.ContentLength ?? 16 * 1024) + 1));
        var length = 0;
        try
        {
            while (true)
            {
                if (length == buffer.Length)
                {
                    if (buffer.Length > maxBytes)
                    {
                        return null;
                    }
                    var bigger = ArrayPool<byte>.Shared.Rent(Math.Min(buffer.Length * 2, maxBytes + 1));
                    buffer.AsSpan(0, length).CopyTo(bigger);
                    ArrayPool<byte>.Shared.Return(buffer);
                    buffer = bigger;
                }
                var read = await request.Body.ReadAsync(buffer.AsMemory(length), ct);
                if (read == 0)
                {
                    break;
                }
                length += read;
                if (length > maxBytes)
                {
                    return null;
                }
            }
            return buffer.AsSpan(0, length).ToArray();
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    /// <summary>
    /// One JSON value (an object is one event, an array is many; <paramref name="unwrap"/> may pick the
    /// events out of an envelope) or NDJSON (one event or array per line).
    /// </summary>
    /// <remarks>
    /// Every limit is checked before the work it bounds: <see cref="JsonScan"/> reads the text once before a
    /// document is built, the number of events is checked before each one is taken (an unwrap that copies,
    /// such as a Jitsu template, is enumerated lazily), and an unwrap may refuse a body with
    /// <see cref="BodyLimitException"/> before it copies anything.
    /// </remarks>
    public static ParsedBody Parse(ReadOnlyMemory<byte> body, bool ndjson, int maxEvents, Func<JsonElement, (IEnumerable<JsonElement>? Events, string? Problem)>? unwrap = null,
        IngestionOptions? limits = null)
    {
        limits ??= s_defaults;
        var parsed = new ParsedBody();
        body = SkipBom(body);
        var lineNumber = 0;
        foreach (var (line, number) in ndjson ? Lines(body) : [(body, 1)])
        {
            lineNumber = number;
            if (JsonScan.Check(line.Span, limits.MaxStringBytes, limits.MaxPropertiesPerObject) is { } finding)
            {
                var (where, position) = LineAndPosition(line.Span, finding.Offset);
                where += ndjson ? number - 1 : 0;
                return parsed.Fail(StatusCodes.Status400BadRequest, new ErrorResponse
                {
                    Error = finding.Error,
                    Message = string.Create(System.Globalization.CultureInfo.InvariantCulture, $"{finding.Message} (line {where}, byte {position})"),
                    Line = where,
                    Position = position,
                });
            }
            JsonDocument document;
            try
            {
                document = parsed.Keep(JsonDocument.Parse(line, JsonValues.DocumentOptions));
            }
            catch (JsonException x)
            {
                var where = (x.LineNumber ?? 0) + (ndjson ? number : 1);
                return parsed.Fail(StatusCodes.Status400BadRequest, new ErrorResponse
                {
                    Error = "malformed_json",
                    Message = $"malformed JSON at line {where}, byte {(x.BytePositionInLine ?? 0) + 1}: {FirstSentence(x.Message)}",
                    Line = where,
                    Position = (x.BytePositionInLine ?? 0) + 1,
                });
            }
            var root = document.RootElement;
            IEnumerable<JsonElement> events;
            if (unwrap is not null)
            {
                IEnumerable<JsonElement>? unwrapped;
                string? problem;
                try
                {
                    (unwrapped, problem) = unwrap(root);
                }
                catch (BodyLimitException x)
                {
                    return parsed.Fail(x.StatusCode, x.Error);
                }
                if (unwrapped is null)
                {
                    return parsed.Fail(StatusCodes.Status400BadRequest, new ErrorResponse { Error = "unsupported_body", Message = problem ?? "unsupported body", Line = ndjson ? number : null });
                }
                events = unwrapped;
            }
            else
            {
                events = root.ValueKind == JsonValueKind.Array ? root.EnumerateArray() : [root];
            }
            try
            {
                foreach (var e in events)
                {
                    if (parsed.Items.Count == maxEvents)
                    {
                        return parsed.Fail(StatusCodes.Status413PayloadTooLarge, TooManyEvents(maxEvents));
                    }
                    parsed.Items.Add(e);
                }
            }
            catch (BodyLimitException x)
            {
                return parsed.Fail(x.StatusCode, x.Error);
            }
        }
        if (lineNumber == 0)
        {
            return parsed.Fail(StatusCodes.Status400BadRequest, new ErrorResponse { Error = "malformed_json", Message = "the body is empty", Line = 1, Position = 1 });
        }
        return parsed;
    }

    private static readonly IngestionOptions s_defaults = new();

    public static ErrorResponse TooManyEvents(int maxEvents) => new()
    {
        Error = "too_many_events",
        Message = string.Create(System.Globalization.CultureInfo.InvariantCulture, $"more than {maxEvents} events in one request; split the batch"),
    };

    /// <summary>The 1-based line and byte-in-line of <paramref name="offset"/>, as the parser's errors give them.</summary>
    private static (long Line, long Position) LineAndPosition(ReadOnlySpan<byte> text, long offset)
    {
        var before = text[..(int)Math.Min(offset, text.Length)];
        var lastNewline = before.LastIndexOf((byte)'\n');
        return (before.Count((byte)'\n') + 1, offset - lastNewline);
    }

    private static string FirstSentence(string message)
    {
        // System.Text.Json appends "Path: $ | LineNumber: 0 | BytePositionInLine: 5." (zero-based); ours is above.
        var cut = message.IndexOf(" Path:", StringComparison.Ordinal);
        return cut > 0 ? message[..cut] : message;
    }

    private static ReadOnlyMemory<byte> SkipBom(ReadOnlyMemory<byte> body) =>
        body.Span.StartsWith((ReadOnlySpan<byte>)[0xEF, 0xBB, 0xBF]) ? body[3..] : body;

    /// <summary>Non-blank lines with their 1-based numbers.</summary>
    public static IEnumerable<(ReadOnlyMemory<byte> Line, int Number)> Lines(ReadOnlyMemory<byte> body)
    {
        var number = 0;
        while (body.Length > 0)
        {
            number++;
            var newline = body.Span.IndexOf((byte)'\n');
            var line = newline < 0 ? body : body[..newline];
            body = newline < 0 ? ReadOnlyMemory<byte>.Empty : body[(newline + 1)..];
            if (!line.Span.Trim(" \t\r"u8).IsEmpty)
            {
                yield return (line, number);
            }
        }
    }
}

/// <summary>
/// Thrown by an unwrap (<see cref="RequestBody.Parse"/>) that finds, before copying anything, that a body
/// would exceed a limit; the request is answered with <see cref="StatusCode"/> and <see cref="Error"/>.
/// </summary>
public sealed class BodyLimitException(int statusCode, ErrorResponse error) : Exception(error.Message)
{
    public int StatusCode { get; } = statusCode;

    public ErrorResponse Error { get; } = error;
}
