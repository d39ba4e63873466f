using System.Diagnostics;
using System.Text;
using System.Text.Json;
using System.Threading.Channels;
using UsageDashboard.Operations;

namespace UsageDashboard.Ingestion;

/// <summary>What an import did.</summary>
public sealed record ImportResult(long Lines, long Events, long Accepted, long Duplicates, long Rejected, TimeSpan Elapsed)
{
    public double EventsPerSecond => Elapsed.TotalSeconds > 0 ? Events / Elapsed.TotalSeconds : 0;
}

/// <summary>
/// Bulk import of NDJSON history (one event or one request body per line) through the same mappers and
/// the same idempotent write path as the API: importing a file twice stores nothing new. Lines and events
/// that cannot be normalised are written, with their reasons, to a side file instead of the store.
/// Parsing and writing overlap: one task maps lines while the previous batch commits.
/// Counted in the collector's event metrics with endpoint <c>import</c>, as the API's requests are by path.
/// </summary>
public sealed class EventImporter(Collector collector, IdentifierKeys identifierKeys, AppMetrics metrics)
{
    public const int BatchSize = 5000;

    /// <summary>The endpoint label of imported events in the metrics.</summary>
    public const string Endpoint = "import";
    private const int Writers = 2;

    public async Task<ImportResult> ImportAsync(string path, string? tool, string format, string rejectsPath, IProgress<long>? bytesRead, CancellationToken ct)
    {
        if (tool is not null && !collector.Tools.IsTool(tool))
        {
            throw new ArgumentException($"unknown tool '{tool}': configure it under Tools in appsettings.json", nameof(tool));
        }
        // A CLI host runs no hosted services: load the identifier key the mappers hash with here.
        await identifierKeys.LoadAsync(ct);
        var (map, unwrap) = Format(format);
        var stopwatch = Stopwatch.StartNew();
        var batches = Channel.CreateBounded<Collector.Batch>(new BoundedChannelOptions(Writers) { SingleWriter = true });
        long accepted = 0, duplicates = 0;
        // Two transactions in flight keep both cores of the database busy while this one maps the next lines.
        var writer = Task.WhenAll(Enumerable.Range(0, Writers).Select(_ => Task.Run(async () =>
        {
            await foreach (var batch in batches.Reader.ReadAllAsync(ct))
            {
                var result = await collector.CommitAsync(batch, ct);
                metrics.EventsStored(batch.ToolLabel, Endpoint, result.Accepted, result.Duplicates);
                Interlocked.Add(ref accepted, result.Accepted);
                Interlocked.Add(ref duplicates, result.Duplicates);
            }
        }, ct)));

        long lines = 0, events = 0, rejected = 0;
        await using var rejects = new StreamWriter(rejectsPath, append: false, new UTF8Encoding(false));
        var context = NewContext(tool);
        var batch = new Collector.Batch();
        var pending = new List<JsonElement>(BatchSize);
        var pendingLines = new List<long>(BatchSize);
        var documents = new List<JsonDocument>();

        // A line refused before mapping is one rejected event, as the import's summary counts it.
        void RejectLine(string reason)
        {
            rejected++;
            metrics.EventRejected(tool, Endpoint, reason);
        }

        async Task FlushAsync()
        {
                // The collector counts the events its mappers refuse; lines refused whole are counted by RejectLine.
            var mapped = collector.Map(pending, context, map, Endpoint, format);
            foreach (var r in mapped.Rejected)
            {
                rejected++;
                await WriteRejectAsync(rejects, pendingLines[r.Index], r.Reason, r.Detail, pending[r.Index]);
            }
            events += pending.Count;
            if (mapped.Events.Count > 0)
            {
                // Quarantine rows are for the API; an import's rejects go to the side file.
                var toWrite = new Collector.Batch { Endpoint = Endpoint };
                toWrite.Events.AddRange(mapped.Events);
                await batches.Writer.WriteAsync(toWrite, ct);
            }
            pending.Clear();
            pendingLines.Clear();
            foreach (var d in documents)
            {
                d.Dispose();
            }
            documents.Clear();
            context = NewContext(tool);
        }

        try
        {
            await using var file = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16, FileOptions.SequentialScan);
            var reader = new LineReader(file);
            while (await reader.ReadLineAsync(ct) is { } line)
            {
                lines++;
                if (line.Span.Trim(" \t\r"u8).IsEmpty)
                {
                    continue;
                }
                // The API's scan: a line with text PostgreSQL refuses, or over the string and property limits, is rejected whole.
                if (JsonScan.Check(line.Span, collector.Options.MaxStringBytes, collector.Options.MaxPropertiesPerObject) is { } finding)
                {
                    RejectLine(finding.Error);
                    await WriteRejectAsync(rejects, lines, finding.Error, finding.Message, null);
                    continue;
                }
                JsonDocument document;
                try
                {
                    document = JsonDocument.Parse(line, JsonValues.DocumentOptions);
                }
                catch (JsonException x)
                {
                    RejectLine("malformed_json");
                    await WriteRejectAsync(rejects, lines, "malformed_json", $"byte {(x.BytePositionInLine ?? 0) + 1}: {x.Message.Split(" Path:")[0]}", null);
                    continue;
                }
                IEnumerable<JsonElement>? items;
                string? problem;
                try
                {
                    (items, problem) = unwrap(document.RootElement);
                }
                catch (BodyLimitException x)
                {
                    RejectLine(x.Error.Error);
                    await WriteRejectAsync(rejects, lines, x.Error.Error, x.Error.Message, null);
                    document.Dispose();
                    continue;
                }
                if (items is null)
                {
                    RejectLine(Reasons.UnsupportedSchema);
                    await WriteRejectAsync(rejects, lines, Reasons.UnsupportedSchema, problem, document.RootElement);
                    document.Dispose();
                    continue;
                }
                documents.Add(document);
                foreach (var item in items)
                {
                    pending.Add(item);
                    pendingLines.Add(lines);
                }
                if (pending.Count >= BatchSize)
                {
                    await FlushAsync();
                    bytesRead?.Report(file.Position);
                }
            }
            await FlushAsync();
            bytesRead?.Report(file.Length);
        }
        finally
        {
            batches.Writer.TryComplete();
        }
        await writer;
        return new ImportResult(lines, events, accepted, duplicates, rejected, stopwatch.Elapsed);
    }

    private IngestContext NewContext(string? tool) => collector.CreateContext(collector.Tools.Tools.ToList(), tool);

    private (Func<JsonElement, IngestContext, MapResult> Map, Func<JsonElement, (IEnumerable<JsonElement>?, string?)> Unwrap) Format(string format) => format switch
    {
        WireFormats.Auto => ((e, c) => WireFormats.MapAny(e, c, collector.Tools), WireFormats.UnwrapAny),
        WireFormats.Native => (WireFormats.MapNativeEndpoint, WireFormats.UnwrapNative),
        WireFormats.Snowplow => ((e, c) => SnowplowMapper.Map(e, c, collector.Tools),
            root => root.ValueKind == JsonValueKind.Object && JsonValues.Get(root, "e") is not null ? ([root], null) : WireFormats.UnwrapSnowplow(root)),
        WireFormats.Jitsu => (EvidentlyMapper.MapJitsu, root => WireFormats.UnwrapJitsu(root, collector.Options)),
        _ => throw new ArgumentException($"unknown format '{format}': use auto, native, snowplow or jitsu", nameof(format)),
    };

    private static async Task WriteRejectAsync(StreamWriter rejects, long line, string reason, string? detail, JsonElement? payload)
    {
        var buffer = new System.Buffers.ArrayBufferWriter<byte>(256);
        using (var w = new Utf8JsonWriter(buffer, new JsonWriterOptions { SkipValidation = true, MaxDepth = JsonValues.MaxDepth + 2 }))
        {
            w.WriteStartObject();
            w.WriteNumber("line", line);
            w.WriteString("reason", reason);
            if (detail is not null)
            {
                w.WriteString("detail", Privacy.Clean(detail, 500));
            }
            if (payload is { } p)
            {
                w.WritePropertyName("event");
                JsonValues.WriteSanitized(w, p, JsonValues.Bounds.Quarantine);
            }
            w.WriteEndObject();
        }
        await rejects.WriteLineAsync(Encoding.UTF8.GetString(buffer.WrittenSpan));
    }

    /// <summary>UTF-8 lines of a stream as bytes, without decoding to strings.</summary>
    private sealed class LineReader(Stream stream)
    {
        private byte[] _buffer = new byte[1 << 20];
        private int _start;
        private int _end;
        private bool _eof;

        public async ValueTask<ReadOnlyMemory<byte>?> ReadLineAsync(CancellationToken ct)
        {
            while (true)
            {
                var newline = _buffer.AsSpan(_start, _end - _start).IndexOf((byte)'\n');
                if (newline >= 0)
                {
                    var line = _buffer.AsMemory(_start, newline).ToArray();
                    _start += newline + 1;
                    return line;
                }
                if (_eof)
                {
                    if (_start == _end)
                    {
                        return null;
                    }
                    var last = _buffer.AsMemory(_start, _end - _start).ToArray();
                    _start = _end;
                    return last;
                }
                if (_start > 0)
                {
                    Buffer.BlockCopy(_buffer, _start, _buffer, 0, _end - _start);
                    _end -= _start;
                    _start = 0;
                }
                if (_end == _buffer.Length)
                {
                    if (_buffer.Length >= 1 << 26)
                    {
                        throw new InvalidDataException("a line is longer than 64 MiB; is this NDJSON?");
                    }
                    Array.Resize(ref _buffer, _buffer.Length * 2);
                }
                var read = await stream.ReadAsync(_buffer.AsMemory(_end), ct);
                if (read == 0)
                {
                    _eof = true;
                }
                _end += read;
            }
        }
    }
}
