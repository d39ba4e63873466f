using System.Diagnostics;
using System.Threading.Channels;
using UsageDashboard.Store;

namespace UsageDashboard.Demo;

/// <summary>Loads generated demo telemetry through the same write path as the collector.</summary>
public sealed class DemoLoader(EventWriter writer)
{
    /// <summary>Events per write. Measured on 2 cores: larger chunks amortise the per-write run derivation.</summary>
    public const int ChunkSize = 50_000;

    public async Task<DemoLoadResult> LoadAsync(DemoOptions options, IProgress<long>? progress, CancellationToken ct)
    {
        var started = Stopwatch.GetTimestamp();
        // Generation overlaps with writing: the next chunk is built while the database stores this one.
        var chunks = Channel.CreateBounded<List<TelemetryEvent>>(new BoundedChannelOptions(2) { SingleReader = true, SingleWriter = true });
        var producer = Task.Run(async () =>
        {
            try
            {
                var chunk = new List<TelemetryEvent>(ChunkSize);
                foreach (var e in DemoDataGenerator.Generate(options))
                {
                    chunk.Add(e);
                    if (chunk.Count == ChunkSize)
                    {
                        await chunks.Writer.WriteAsync(chunk, ct);
                        chunk = new List<TelemetryEvent>(ChunkSize);
                    }
                }
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
        var result = WriteResult.Empty;
        await foreach (var chunk in chunks.Reader.ReadAllAsync(ct))
        {
            result = result.Add(await writer.WriteAsync(chunk, ct));
            events += chunk.Count;
            progress?.Report(events);
        }
        await producer;
        return new DemoLoadResult(events, result.Accepted, result.Duplicates, Stopwatch.GetElapsedTime(started));
    }
}
