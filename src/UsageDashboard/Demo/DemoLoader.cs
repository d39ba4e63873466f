using System.Diagnostics;
using System.Threading.Channels;
using UsageDashboard.Rollups;
using UsageDashboard.Store;

namespace UsageDashboard.Demo;

/// <summary>Loads generated demo telemetry through the same write path as the collector.</summary>
public sealed class DemoLoader(EventWriter writer, RollupRefresher rollups, ILogger<DemoLoader>? logger = null)
{
    /// <summary>Events handed to the writer at a time; large enough to keep COPY streaming, small enough to stay off the GC's back.</summary>
    public const int ChunkSize = 50_000;

    /// <summary>
    /// Into an empty store this is one bulk load (<see cref="EventWriter.BulkLoadAsync"/>); into a store
    /// that has events, chunk by chunk through the idempotent write, so the same seed twice adds nothing.
    /// </summary>
    public async Task<DemoLoadResult> LoadAsync(DemoOptions options, IProgress<long>? progress, CancellationToken ct)
    {
        var started = Stopwatch.GetTimestamp();
        // Generation overlaps with writing: the next chunk is built while the database stores this one.
        var chunks = Channel.CreateBounded<List<TelemetryEvent>>(new BoundedChannelOptions(2) { SingleReader = true, SingleWriter = true });
        var producer = Task.Run(async () =>
        {
            try
            {
                // Generation's own time, without the waits for the writer: whether the COPY waits for it.
                var generating = Stopwatch.StartNew();
                var chunk = new List<TelemetryEvent>(ChunkSize);
                foreach (var e in DemoDataGenerator.Generate(options))
                {
                    chunk.Add(e);
                    if (chunk.Count == ChunkSize)
                    {
                        generating.Stop();
                        await chunks.Writer.WriteAsync(chunk, ct);
                        generating.Start();
                        chunk = new List<TelemetryEvent>(ChunkSize);
                    }
                }
                logger?.LogDebug("Demo load: generating the events took {Elapsed} ms", generating.ElapsedMilliseconds);
                if (chunk.Count > 0)
                {
                    await chunks.Writer.WriteAsync(chunk, ct);
                }
                chunks.Writer.Complete();
            }
            catch (Exception e)
            {
                chunks.Writer.Complete(e);
            }
        }, ct);

        long events = 0;
        var counting = new Progress(n =>
        {
            events = n;
            progress?.Report(n);
        });
        var result = await writer.BulkLoadAsync(chunks.Reader.ReadAllAsync(ct), counting, ct, DemoDataGenerator.Months(options));
        await producer;
        var refreshing = Stopwatch.StartNew();
        // The dashboards read rollups: build them now so the demo shows complete at once.
        await rollups.RefreshAsync(ct);
        logger?.LogDebug("Demo load: the rollup refresh after the load took {Elapsed} ms", refreshing.ElapsedMilliseconds);
        return new DemoLoadResult(events, result.Accepted, result.Duplicates, Stopwatch.GetElapsedTime(started));
    }

    /// <summary>Reports on the writer's thread (System.Progress would post to the thread pool and arrive late).</summary>
    private sealed class Progress(Action<long> report) : IProgress<long>
    {
        public void Report(long value) => report(value);
    }
}
