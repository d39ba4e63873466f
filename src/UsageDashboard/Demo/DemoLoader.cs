using UsageDashboard.Store;

namespace UsageDashboard.Demo;

/// <summary>Loads generated demo telemetry through the same write path as the collector.</summary>
public sealed class DemoLoader(EventWriter writer)
{
    public Task<DemoLoadResult> LoadAsync(DemoOptions options, IProgress<long>? progress, CancellationToken ct)
    {
        _ = writer;
        _ = options;
        _ = progress;
        _ = ct;
        // REVIEW: placeholder until the generator lands in this folder.
        throw new NotSupportedException("demo generator not written yet");
    }
}
