using System.Globalization;
using System.Threading.Channels;
using Microsoft.Extensions.Options;
using Npgsql;
using UsageDashboard.Database;
using UsageDashboard.Operations;

namespace UsageDashboard.Ingestion;

/// <summary>
/// Group commit for the HTTP endpoints: requests that arrive while a transaction is running are written
/// together in the next one, so a burst of single-event requests costs a few transactions instead of one
/// each. Every request still waits for the commit that holds its events, so its 2xx means durable, and
/// gets its own accepted/duplicate counts. Two writers run side by side (one per core of a small server).
/// The queue holds at most <see cref="QueueOptions.MaxEvents"/> events and <see cref="QueueOptions.MaxBytes"/>
/// bytes (waiting or being written); past that, or when a request waited <see cref="QueueOptions.Deadline"/>
/// without its commit starting, it is refused with 503 and Retry-After, and nothing of it is written.
/// </summary>
public sealed class CommitQueue(IServiceProvider services, IOptions<IngestionOptions> options, AppMetrics metrics, ILogger<CommitQueue> logger) : BackgroundService
{
    // Resolved on first use: hosted services are constructed before DatabaseStartup has opened the database.
    private Collector Collector => field ??= services.GetRequiredService<Collector>();

    /// <summary>A group is closed at this many events; the rest waits for the next transaction.</summary>
    public const int MaxGroupEvents = 5000;
    internal const int Writers = 2;

    /// <summary>Retry-After of a request refused because the queue was full: a burst drains in well under a second.</summary>
    internal const int FullRetryAfterSeconds = 1;

    // Unbounded as a channel: admission (TryAdmit) bounds what it holds, by events and bytes rather than requests.
    private readonly Channel<Pending> _queue = Channel.CreateUnbounded<Pending>(new UnboundedChannelOptions { SingleReader = false });
    private readonly Lock _gate = new();
    private long _heldEvents;
    private long _heldBytes;

    /// <summary>
    /// A request's batch in the queue: taken by a writer (then written whatever happens) or dropped, never
    /// both. It counts against the bounds until both its request is answered and a writer is done with it:
    /// a dropped batch still sits in the channel, and with the database stuck, releasing it at the answer
    /// would let the channel grow without bound.
    /// </summary>
    internal sealed class Pending(Collector.Batch batch)
    {
        private const int Queued = 0, Taken = 1, Dropped = 2;
        private int _state;
        private int _holders = 2;

        /// <summary>True for the second of the request and the writer to let go.</summary>
        public bool LetGo() => Interlocked.Decrement(ref _holders) == 0;

        public Collector.Batch Batch { get; } = batch;
        public long QueuedAt { get; } = System.Diagnostics.Stopwatch.GetTimestamp();
        /// <summary>The request's trace, which the commit's span joins.</summary>
        public System.Diagnostics.ActivityContext Caller { get; } = System.Diagnostics.Activity.Current?.Context ?? default;
        public TaskCompletionSource<CommitOutcome> Done { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
        public bool TryTake() => Interlocked.CompareExchange(ref _state, Taken, Queued) == Queued;
        public bool TryDrop() => Interlocked.CompareExchange(ref _state, Dropped, Queued) == Queued;
    }

    /// <summary>
    /// Queues <paramref name="batch"/> and completes when it is committed, refused (queue full, deadline
    /// passed, its data rejected by the database) or failed. When <paramref name="ct"/> (the request's
    /// abort) fires before a writer took the batch, it is not written and the task is canceled; once taken,
    /// the commit completes (one transaction, never half a batch).
    /// </summary>
    public async Task<CommitOutcome> CommitAsync(Collector.Batch batch, CancellationToken ct)
    {
        if (batch.Events.Count == 0 && batch.Quarantine.Count == 0)
        {
            return CommitOutcome.Committed(new IngestResult(0, 0, batch.Rejected));
        }
        ct.ThrowIfCancellationRequested();
        var limits = options.Value.Queue;
        if (!TryAdmit(batch, limits))
        {
            metrics.RequestRefused("queue_full");
            return CommitOutcome.Refuse(StatusCodes.Status503ServiceUnavailable, "queue_full", FullRetryAfterSeconds, string.Create(CultureInfo.InvariantCulture,
                $"the collector holds its maximum of {limits.MaxEvents} events or {limits.MaxBytes} bytes waiting for the database; retry after {FullRetryAfterSeconds} s"));
        }
        var pending = new Pending(batch);
        if (!_queue.Writer.TryWrite(pending))
        {
            Release(batch);
            throw new ObjectDisposedException(nameof(CommitQueue));
        }
        try
        {
            using var deadline = new CancellationTokenSource(limits.Deadline);
            var retryAfter = Math.Max(1, (int)Math.Ceiling(limits.Deadline.TotalSeconds));
            await using var onDeadline = deadline.Token.Register(() =>
            {
                if (pending.TryDrop())
                {
                    pending.Done.TrySetResult(CommitOutcome.Refuse(StatusCodes.Status503ServiceUnavailable, "database_slow", retryAfter, string.Create(CultureInfo.InvariantCulture,
                        $"the database did not start writing this request within {limits.Deadline.TotalSeconds} s; nothing of it was stored; retry after {retryAfter} s")));
                }
            });
            await using var onAbort = ct.Register(() =>
            {
                if (pending.TryDrop())
                {
                    pending.Done.TrySetCanceled(ct);
                }
            });
            var outcome = await pending.Done.Task;
            metrics.Committed(batch.ToolLabel, batch.Endpoint, outcome.Result is { } r ? (r.Accepted, r.Duplicates) : null, outcome.Refusal?.Error);
            return outcome;
        }
        finally
        {
            LetGo(pending);
        }
    }

    /// <summary>Events (and quarantined items) of the requests waiting for or in a commit now.</summary>
    internal long HeldEvents
    {
        get
        {
            lock (_gate)
            {
                return _heldEvents;
            }
        }
    }

    /// <summary>
    /// Counts <paramref name="batch"/> in if it fits; a batch larger than the limits on its own still
    /// passes an empty queue, or it could never be written.
    /// </summary>
    private bool TryAdmit(Collector.Batch batch, QueueOptions limits)
    {
        var events = batch.Events.Count + batch.Quarantine.Count;
        lock (_gate)
        {
            if (_heldEvents > 0 && (_heldEvents + events > limits.MaxEvents || _heldBytes + batch.Bytes > limits.MaxBytes))
            {
                return false;
            }
            _heldEvents += events;
            metrics.QueueChanged(events);
            _heldBytes += batch.Bytes;
            return true;
        }
    }

    private void LetGo(Pending pending)
    {
        if (pending.LetGo())
        {
            Release(pending.Batch);
        }
    }

    private void Release(Collector.Batch batch)
    {
        lock (_gate)
        {
            _heldEvents -= batch.Events.Count + batch.Quarantine.Count;
            metrics.QueueChanged(-(batch.Events.Count + batch.Quarantine.Count));
            _heldBytes -= batch.Bytes;
        }
    }

    protected override Task ExecuteAsync(CancellationToken stoppingToken) =>
        Task.WhenAll(Enumerable.Range(0, Writers).Select(_ => WriteLoopAsync(stoppingToken)));

    public override async Task StopAsync(CancellationToken cancellationToken)
    {
        _queue.Writer.TryComplete();
        await base.StopAsync(cancellationToken);
        while (_queue.Reader.TryRead(out var left))
        {
            if (left.TryDrop())
            {
                left.Done.TrySetCanceled(cancellationToken);
            }
            LetGo(left);
        }
    }

    private async Task WriteLoopAsync(CancellationToken ct)
    {
        var group = new List<Pending>();
        try
        {
            while (await _queue.Reader.WaitToReadAsync(ct))
            {
                group.Clear();
                var events = 0;
                while (events < MaxGroupEvents && _queue.Reader.TryRead(out var next))
                {
                    // A request abandoned or past its deadline was answered already and is not written.
                    if (next.TryTake())
                    {
                        metrics.QueueWaited(next.QueuedAt);
                        group.Add(next);
                        events += next.Batch.Events.Count;
                    }
                    else
                    {
                        LetGo(next);
                    }
                }
                if (group.Count > 0)
                {
                    await WriteGroupAsync(group, ct);
                    group.ForEach(LetGo);
                    group.Clear();
                }
            }
        }
        catch (OperationCanceledException) when (ct.IsCancellationRequested)
        {
            foreach (var p in group)
            {
                p.Done.TrySetCanceled(ct);
                LetGo(p);
            }
        }
    }

    /// <summary>
    /// Writes <paramref name="group"/> (taken requests) in one transaction. When that fails for a reason
    /// other than an outage, each request is written again on its own, so only the one whose data the
    /// database rejects fails (<see cref="CommitOneAsync"/>); its group-mates are stored.
    /// </summary>
    internal async Task WriteGroupAsync(List<Pending> group, CancellationToken ct)
    {
        using var span = AppTracing.StartCommit([.. group.Select(p => p.Caller)]);
        if (group.Count == 1)
        {
            await CommitOneAsync(group[0], ct);
            return;
        }
        try
        {
            var merged = new Collector.Batch();
            foreach (var p in group)
            {
                merged.Events.AddRange(p.Batch.Events);
                merged.Quarantine.AddRange(p.Batch.Quarantine);
            }
            // The write reports exactly which events it stored for the first time; each of those counts
            // as accepted for the first request (in arrival order) that carried it, everything else as a
            // duplicate. Asking the table beforehand would race with other groups committing meanwhile.
            var inserted = new HashSet<(string Tool, Guid EventId)>();
            await Collector.CommitAsync(merged, ct, inserted);
            foreach (var p in group)
            {
                int accepted = 0, duplicates = 0;
                foreach (var e in p.Batch.Events)
                {
                    if (inserted.Remove((e.Tool, e.EventId)))
                    {
                        accepted++;
                    }
                    else
                    {
                        duplicates++;
                    }
                }
                p.Done.TrySetResult(CommitOutcome.Committed(new IngestResult(accepted, duplicates, p.Batch.Rejected)));
            }
        }
        catch (Exception e) when (e is not OperationCanceledException || !ct.IsCancellationRequested)
        {
            if (DatabaseUnavailable.IsDatabaseUnavailable(e))
            {
                logger.LogDebug(e, "group commit of {Requests} requests failed: the database is unavailable", group.Count);
                foreach (var p in group)
                {
                    p.Done.TrySetException(e);
                }
                return;
            }
            // The transaction was rolled back whole, so writing each request again stores nothing twice.
            logger.LogDebug(e, "group commit of {Requests} requests failed; writing them one by one", group.Count);
            foreach (var p in group)
            {
                await CommitOneAsync(p, ct);
            }
        }
    }

    private async Task CommitOneAsync(Pending p, CancellationToken ct)
    {
        try
        {
            p.Done.TrySetResult(CommitOutcome.Committed(await Collector.CommitAsync(p.Batch, ct)));
        }
        catch (PostgresException e) when (IsDataError(e))
        {
            logger.LogInformation("a request's events were rejected by the database: {SqlState} {Message}", e.SqlState, e.MessageText);
            p.Done.TrySetResult(CommitOutcome.Refuse(StatusCodes.Status422UnprocessableEntity, "rejected_by_database", null,
                "the database rejected this request's events (" + e.SqlState + "); nothing of it was stored; do not retry it unchanged"));
        }
        catch (Exception e) when (e is not OperationCanceledException || !ct.IsCancellationRequested)
        {
            logger.LogDebug(e, "commit failed");
            p.Done.TrySetException(e);
        }
    }

    /// <summary>Errors caused by the values written (data exceptions, constraint violations), not by the server's state.</summary>
    private static bool IsDataError(PostgresException e) => e.SqlState.StartsWith("22", StringComparison.Ordinal) || e.SqlState.StartsWith("23", StringComparison.Ordinal);
}

/// <summary>How a request's commit ended: committed (<see cref="Result"/>) or refused with a status, an error body and maybe a Retry-After.</summary>
public sealed record CommitOutcome(IngestResult? Result, int StatusCode, ErrorResponse? Refusal, int? RetryAfterSeconds)
{
    public static CommitOutcome Committed(IngestResult result) => new(result, StatusCodes.Status200OK, null, null);

    public static CommitOutcome Refuse(int statusCode, string error, int? retryAfterSeconds, string message) =>
        new(null, statusCode, new ErrorResponse { Error = error, Message = message }, retryAfterSeconds);
}
