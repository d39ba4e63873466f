using System.Threading.Channels;

namespace UsageDashboard.Ingestion;

/// <summary>
/// Group commit for the HTTP endpoints: requests that arrive while a transaction is running are written
/// together in the next one, so a burst of single-event requests costs a few transactions instead of one
/// each. Every request still waits for the commit that holds its events, so its 2xx means durable, and
/// gets its own accepted/duplicate counts. Two writers run side by side (one per core of a small server).
/// </summary>
public sealed class CommitQueue(IServiceProvider services, ILogger<CommitQueue> logger) : BackgroundService
{
    // Resolved on first use: hosted services are constructed before DatabaseStartup has opened the database.
    private Collector Collector => field ??= services.GetRequiredService<Collector>();

    /// <summary>A group is closed at this many events; the rest waits for the next transaction.</summary>
    public const int MaxGroupEvents = 5000;
    internal const int Writers = 2;

    private readonly Channel<Pending> _queue = Channel.CreateUnbounded<Pending>(new UnboundedChannelOptions { SingleReader = false });

    private sealed record Pending(Collector.Batch Batch, TaskCompletionSource<IngestResult> Done);

    /// <summary>Queues <paramref name="batch"/> and completes when it is committed (or the commit failed).</summary>
    public Task<IngestResult> CommitAsync(Collector.Batch batch)
    {
        if (batch.Events.Count == 0 && batch.Quarantine.Count == 0)
        {
            return Task.FromResult(new IngestResult(0, 0, batch.Rejected));
        }
        var done = new TaskCompletionSource<IngestResult>(TaskCreationOptions.RunContinuationsAsynchronously);
        if (!_queue.Writer.TryWrite(new Pending(batch, done)))
        {
            done.SetException(new ObjectDisposedException(nameof(CommitQueue)));
        }
        return done.Task;
    }

    protected override Task ExecuteAsync(CancellationToken stoppingToken) =>
        Task.WhenAll(Enumerable.Range(0, Writers).Select(_ => WriteLoopAsync(stoppingToken)));

    public override async Task StopAsync(CancellationToken cancellationToken)
    {
        _queue.Writer.TryComplete();
        await base.StopAsync(cancellationToken);
        while (_queue.Reader.TryRead(out var left))
        {
            left.Done.TrySetCanceled(cancellationToken);
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
                    group.Add(next);
                    events += next.Batch.Events.Count;
                }
                if (group.Count > 0)
                {
                    await WriteGroupAsync(group, ct);
                }
            }
        }
        catch (OperationCanceledException) when (ct.IsCancellationRequested)
        {
            foreach (var p in group)
            {
                p.Done.TrySetCanceled(ct);
            }
        }
    }

    private async Task WriteGroupAsync(List<Pending> group, CancellationToken ct)
    {
        try
        {
            if (group.Count == 1)
            {
                group[0].Done.TrySetResult(await Collector.CommitAsync(group[0].Batch, ct));
                return;
            }
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
                p.Done.TrySetResult(new IngestResult(accepted, duplicates, p.Batch.Rejected));
            }
        }
        catch (Exception e) when (e is not OperationCanceledException || !ct.IsCancellationRequested)
        {
            logger.LogDebug(e, "group commit of {Requests} requests failed", group.Count);
            foreach (var p in group)
            {
                p.Done.TrySetException(e);
            }
        }
    }
}
