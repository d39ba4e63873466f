using System.Globalization;
using System.Text.Json;
using Microsoft.Extensions.Options;
using Npgsql;
using NpgsqlTypes;
using UsageDashboard.Operations;
using UsageDashboard.Store;

namespace UsageDashboard.Ingestion;

/// <summary>What one request (or one import batch) did.</summary>
public sealed record IngestResult(int Accepted, int Duplicates, IReadOnlyList<RejectedEvent> Rejected)
{
    public static readonly IngestResult Empty = new(0, 0, []);
}

/// <summary>
/// Turns parsed wire events into stored rows: each is size-checked, mapped by its format's pure mapper
/// and completed; what cannot be normalised goes to quarantine with the scrubbed payload and a reason.
/// Events and quarantine rows commit in one transaction, so a success answer means all of it is durable.
/// </summary>
public sealed class Collector(EventWriter writer, [FromKeyedServices(IngestionExtensions.DataSourceKey)] NpgsqlDataSource dataSource,
    [FromKeyedServices(IngestionExtensions.SmallWritesDataSourceKey)] NpgsqlDataSource smallWrites, ToolDirectory tools, TimeProvider time,
    IOptions<IngestionOptions> options, IOptions<RetentionOptions> retention, IdentifierKeys identifierKeys, AppMetrics metrics)
{
    /// <summary>The pool for a write of <paramref name="events"/> events (IngestionExtensions says why there are two).</summary>
    private NpgsqlDataSource PoolFor(int events) => events <= EventWriter.PreparedWriteMaxEvents ? smallWrites : dataSource;

    public IngestionOptions Options => options.Value;

    public ToolDirectory Tools => tools;

    public IngestContext CreateContext(IReadOnlyList<string> allowedTools, string? forcedTool = null) => new()
    {
        ReceivedAt = time.GetUtcNow().UtcDateTime,
        OldestAccepted = time.GetUtcNow().UtcDateTime.AddDays(-retention.Value.RawEventsDays),
        AllowedTools = allowedTools,
        ForcedTool = forcedTool,
        Options = options.Value,
        Identifiers = identifierKeys.Hasher,
    };

    /// <summary>Maps every item; the caller commits with <see cref="CommitAsync"/>.</summary>
    public Batch Map(IReadOnlyList<JsonElement> items, IngestContext context, Func<JsonElement, IngestContext, MapResult> map, string endpoint, string source)
    {
        var batch = new Batch { Endpoint = endpoint };
        for (var i = 0; i < items.Count; i++)
        {
            var item = items[i];
            MapResult mapped;
            var size = item.RawLength();
            batch.Bytes += size;
            if (size > context.Options.MaxEventBytes)
            {
                mapped = MapResult.Reject(Reasons.EventTooLarge, $"the event is {size} bytes; the limit is {context.Options.MaxEventBytes}");
            }
            else
            {
                mapped = CheckTime(map(item, context), context);
            }
            if (mapped.IsRejected)
            {
                batch.Rejected.Add(new RejectedEvent(i, mapped.Reason!, mapped.Detail));
                metrics.EventRejected(mapped.Tool is { } t && tools.IsTool(t) ? t : null, endpoint, mapped.Reason!);
                batch.Quarantine.Add(ToQuarantine(item, size, mapped, context, endpoint, source));
            }
            else
            {
                batch.Events.Add(CanonicalEvents.Complete(mapped, context));
            }
        }
        return batch;
    }

    /// <summary>
    /// The time rule at the door: a device time before <see cref="IngestContext.OldestAccepted"/> or more
    /// than <see cref="IngestionOptions.RejectFutureBeyond"/> after receipt rejects the event; a smaller
    /// lead than that but over MaxFutureSkew is a skewed clock, which <see cref="CanonicalEvents.Complete"/> corrects.
    /// </summary>
    private static MapResult CheckTime(MapResult mapped, IngestContext context)
    {
        if (mapped.IsRejected || mapped.DeviceTime is not { } device)
        {
            return mapped;
        }
        if (device < context.OldestAccepted)
        {
            return MapResult.Reject(Reasons.TimestampTooOld, string.Create(CultureInfo.InvariantCulture,
                $"the event is dated {device:yyyy-MM-dd}, before {context.OldestAccepted:yyyy-MM-dd}: raw events are kept {(context.ReceivedAt - context.OldestAccepted).TotalDays:0} days (Retention:RawEventsDays)"), mapped.Tool);
        }
        if (device > context.ReceivedAt + context.Options.RejectFutureBeyond)
        {
            return MapResult.Reject(Reasons.TimestampInFuture, string.Create(CultureInfo.InvariantCulture,
                $"the event is dated {device:O}, more than {context.Options.RejectFutureBeyond} after its receipt"), mapped.Tool);
        }
        return mapped;
    }

    /// <summary>Writes a batch's events and quarantine rows in one transaction.</summary>
    public async Task<IngestResult> CommitAsync(Batch batch, CancellationToken ct, ISet<(string Tool, Guid EventId)>? insertedKeys = null)
    {
        if (batch.Events.Count == 0 && batch.Quarantine.Count == 0)
        {
            return new IngestResult(0, 0, batch.Rejected);
        }
        var started = System.Diagnostics.Stopwatch.GetTimestamp();
        for (var attempt = 1; ; attempt++)
        {
            try
            {
                await using var conn = await PoolFor(batch.Events.Count).OpenConnectionAsync(ct);
                await using var tx = await conn.BeginTransactionAsync(ct);
                await WriteQuarantineAsync(conn, batch.Quarantine, ct);
                insertedKeys?.Clear();
                // The collector's pool creates the work tables on every physical connection.
                var written = await writer.WriteAsync(conn, batch.Events, ct, insertedKeys, workTablesReady: true);
                await tx.CommitAsync(ct);
                metrics.WriteTook(started);
                metrics.EventsQuarantined(batch.Quarantine.Select(q => q.Tool is { } t && tools.IsTool(t) ? t : QuarantineCount.NoTool));
                return new IngestResult(written.Accepted, written.Duplicates, batch.Rejected);
            }
            catch (PostgresException e) when (e.SqlState is PostgresErrorCodes.DeadlockDetected or PostgresErrorCodes.SerializationFailure && attempt < MaxAttempts)
            {
                // Concurrent batches touching the same installations or runs can deadlock on the
                // derived rows; the transaction was rolled back whole, so running it again is safe.
                await Task.Delay(TimeSpan.FromMilliseconds(Random.Shared.Next(5, 50) * attempt), ct);
            }
        }
    }

    private const int MaxAttempts = 5;

    /// <summary>
    /// Writes <paramref name="batches"/> in order in one transaction and rolls it back: the whole write path
    /// runs (statements prepared, the server's caches filled, the code compiled) and nothing stays
    /// behind, not even a rollup mark. The transaction runs on the pool its largest batch would use.
    /// For <see cref="IngestionWarmUp"/>.
    /// </summary>
    internal async Task WriteRolledBackAsync(IReadOnlyList<Batch> batches, CancellationToken ct)
    {
        await using var conn = await PoolFor(batches.Max(b => b.Events.Count)).OpenConnectionAsync(ct);
        await using var tx = await conn.BeginTransactionAsync(ct);
        foreach (var batch in batches)
        {
            await WriteQuarantineAsync(conn, batch.Quarantine, ct);
            await writer.WriteAsync(conn, batch.Events, ct, workTablesReady: true);
        }
        await tx.RollbackAsync(ct);
    }

    public QuarantinedEvent ToQuarantine(JsonElement item, int size, MapResult mapped, IngestContext context, string endpoint, string source)
    {
        var payload = JsonValues.ToSanitizedString(item, JsonValues.Bounds.Quarantine);
        var truncated = false;
        var max = context.Options.MaxQuarantinePayloadBytes;
        if (payload.Length > max)
        {
            var cut = char.IsHighSurrogate(payload[max - 1]) ? max - 1 : max;
            payload = payload[..cut];
            truncated = true;
        }
        return new QuarantinedEvent
        {
            ReceivedAt = context.ReceivedAt,
            Tool = mapped.Tool,
            Source = source,
            Endpoint = endpoint,
            Reason = mapped.Reason!,
            Detail = mapped.Detail is null ? null : Privacy.Clean(mapped.Detail, 500),
            Payload = payload,
            PayloadTruncated = truncated,
            PayloadBytes = size,
        };
    }

    /// <summary>
    /// Counts every rejected event in <c>quarantine_counts</c> (per UTC day, configured tool or none, and
    /// reason) and keeps its payload in <c>quarantine</c> only while fewer than
    /// <see cref="IngestionOptions.QuarantineSamplesPerDay"/> of that day, tool and reason are kept. The
    /// counter row is locked by the upsert until commit, so concurrent writers see each other's counts
    /// and the cap holds exactly; the upsert goes in key order so two of them cannot deadlock.
    /// </summary>
    private async Task WriteQuarantineAsync(NpgsqlConnection conn, List<QuarantinedEvent> rows, CancellationToken ct)
    {
        if (rows.Count == 0)
        {
            return;
        }
        var samples = Math.Max(0, options.Value.QuarantineSamplesPerDay);
        // The label counted under: a configured tool, never a value a client made up (bounded rows a day).
        var labels = rows.Select(r => r.Tool is { } t && tools.IsTool(t) ? t : QuarantineCount.NoTool).ToArray();
        // Payloads past the cap within this batch alone can never be kept: not sent at all.
        var seen = new Dictionary<(DateOnly, string, string), int>();
        var payloads = new string[rows.Count];
        for (var i = 0; i < rows.Count; i++)
        {
            var key = (DateOnly.FromDateTime(rows[i].ReceivedAt), labels[i], rows[i].Reason);
            var n = seen[key] = seen.GetValueOrDefault(key) + 1;
            payloads[i] = n <= samples ? rows[i].Payload : "";
        }
        await using var cmd = new NpgsqlCommand("""
            WITH input AS (
                SELECT t.*, (t.received_at AT TIME ZONE 'UTC')::date AS day,
                       row_number() OVER (PARTITION BY (t.received_at AT TIME ZONE 'UTC')::date, t.label, t.reason ORDER BY t.n) AS k
                FROM unnest(@received_at, @tool, @label, @source, @endpoint, @reason, @detail, @payload, @truncated, @bytes)
                    WITH ORDINALITY AS t(received_at, tool, label, source, endpoint, reason, detail, payload, payload_truncated, payload_bytes, n)
            ), added AS (
                SELECT day, label, reason, count(*) AS added FROM input GROUP BY day, label, reason
            ), counted AS (
                INSERT INTO quarantine_counts AS c (day, tool, reason, count)
                SELECT day, label, reason, added FROM added ORDER BY day, label, reason
                ON CONFLICT (day, tool, reason) DO UPDATE SET count = c.count + excluded.count
                RETURNING c.day, c.tool, c.reason, c.count
            )
            INSERT INTO quarantine (received_at, tool, source, endpoint, reason, detail, payload, payload_truncated, payload_bytes)
            SELECT i.received_at, i.tool, i.source, i.endpoint, i.reason, i.detail, i.payload, i.payload_truncated, i.payload_bytes
            FROM input i
            JOIN added a ON a.day = i.day AND a.label = i.label AND a.reason = i.reason
            JOIN counted c ON c.day = i.day AND c.tool = i.label AND c.reason = i.reason
            WHERE c.count - a.added + i.k <= @samples
            ORDER BY i.n
            """, conn);
        cmd.Parameters.Add(new NpgsqlParameter<DateTime[]>("received_at", NpgsqlDbType.Array | NpgsqlDbType.TimestampTz) { TypedValue = [.. rows.Select(r => r.ReceivedAt)] });
        cmd.Parameters.Add(new NpgsqlParameter<string?[]>("tool", NpgsqlDbType.Array | NpgsqlDbType.Text) { TypedValue = [.. rows.Select(r => r.Tool)] });
        cmd.Parameters.Add(new NpgsqlParameter<string[]>("label", NpgsqlDbType.Array | NpgsqlDbType.Text) { TypedValue = labels });
        cmd.Parameters.Add(new NpgsqlParameter<string[]>("source", NpgsqlDbType.Array | NpgsqlDbType.Text) { TypedValue = [.. rows.Select(r => r.Source)] });
        cmd.Parameters.Add(new NpgsqlParameter<string[]>("endpoint", NpgsqlDbType.Array | NpgsqlDbType.Text) { TypedValue = [.. rows.Select(r => r.Endpoint)] });
        cmd.Parameters.Add(new NpgsqlParameter<string[]>("reason", NpgsqlDbType.Array | NpgsqlDbType.Text) { TypedValue = [.. rows.Select(r => r.Reason)] });
        cmd.Parameters.Add(new NpgsqlParameter<string?[]>("detail", NpgsqlDbType.Array | NpgsqlDbType.Text) { TypedValue = [.. rows.Select(r => r.Detail)] });
        cmd.Parameters.Add(new NpgsqlParameter<string[]>("payload", NpgsqlDbType.Array | NpgsqlDbType.Text) { TypedValue = payloads });
        cmd.Parameters.Add(new NpgsqlParameter<bool[]>("truncated", NpgsqlDbType.Array | NpgsqlDbType.Boolean) { TypedValue = [.. rows.Select(r => r.PayloadTruncated)] });
        cmd.Parameters.Add(new NpgsqlParameter<int[]>("bytes", NpgsqlDbType.Array | NpgsqlDbType.Integer) { TypedValue = [.. rows.Select(r => r.PayloadBytes)] });
        cmd.Parameters.Add(new NpgsqlParameter<long>("samples", NpgsqlDbType.Bigint) { TypedValue = samples });
        await cmd.ExecuteNonQueryAsync(ct);
    }

    /// <summary>Mapped events and quarantine rows waiting for one commit.</summary>
    public sealed class Batch
    {
        public List<TelemetryEvent> Events { get; } = [];
        public List<QuarantinedEvent> Quarantine { get; } = [];
        public List<RejectedEvent> Rejected { get; } = [];
        /// <summary>The items' size as received, what <see cref="CommitQueue"/> bounds besides their number.</summary>
        public long Bytes { get; set; }
        /// <summary>The endpoint the items came in through (a fixed path, or <c>import</c>): a metrics label.</summary>
        public string Endpoint { get; init; } = "";
        /// <summary>The tool the events name, or <c>mixed</c> for a native batch naming several: a metrics label.</summary>
        public string? ToolLabel => Events.Count == 0 ? null : Events.Exists(e => e.Tool != Events[0].Tool) ? "mixed" : Events[0].Tool;
    }
}
