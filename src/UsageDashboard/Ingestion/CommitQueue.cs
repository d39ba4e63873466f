using System.Threading.Channels;
using Npgsql;
using NpgsqlTypes;

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

    private NpgsqlDataSource DataSource => field ??= services.GetRequiredKeyedService<NpgsqlDataSource>(IngestionExtensions.DataSourceKey);

    /// <summary>A group is closed at this many events; the rest waits for the next transaction.</summary>
    public const int MaxGroupEvents = 5000;
    private const int Writers = 2;

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
            // Which events are already stored decides each request's own accepted/duplicate split.
            var stored = await StoredAsync(merged, ct);
            await Collector.CommitAsync(merged, ct);
            foreach (var p in group)
            {
                int accepted = 0, duplicates = 0;
                foreach (var e in p.Batch.Events)
                {
                    if (stored.Add((e.Tool, e.EventId)))
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

    private async Task<HashSet<(string, Guid)>> StoredAsync(Collector.Batch batch, CancellationToken ct)
    {
        var stored = new HashSet<(string, Guid)>();
        if (batch.Events.Count == 0)
        {
            return stored;
        }
        await using var cmd = DataSource.CreateCommand("SELECT e.tool, e.event_id FROM events e JOIN unnest(@tools, @ids) AS x(tool, id) ON e.tool = x.tool AND e.event_id = x.id");
        cmd.Parameters.Add(new NpgsqlParameter<string[]>("tools", NpgsqlDbType.Array | NpgsqlDbType.Text) { TypedValue = [.. batch.Events.Select(e => e.Tool)] });
        cmd.Parameters.Add(new NpgsqlParameter<Guid[]>("ids", NpgsqlDbType.Array | NpgsqlDbType.Uuid) { TypedValue = [.. batch.Events.Select(e => e.EventId)] });
        await using var reader = await cmd.ExecuteReaderAsync(ct);
        while (await reader.ReadAsync(ct))
        {
            stored.Add((reader.GetString(0), reader.GetGuid(1)));
        }
        return stored;
    }
}
