using System.Diagnostics;

namespace UsageDashboard.Operations;

/// <summary>
/// The app's own spans (ActivitySource "UsageDashboard"), for work that leaves its request: the collector's
/// group commit runs on a background writer, so its database statements would otherwise be traces of their own.
/// </summary>
public static class AppTracing
{
    public static readonly ActivitySource Source = new(AppMetrics.MeterName);

    /// <summary>
    /// A span around one group commit: the child of its request when it writes one request's events, else
    /// a root linked to every request it writes (a span has one parent).
    /// </summary>
    public static Activity? StartCommit(IReadOnlyList<ActivityContext> callers)
    {
        if (!Source.HasListeners())
        {
            return null;
        }
        var parent = callers.Count == 1 ? callers[0] : default;
        var links = callers.Count == 1 ? null : callers.Where(c => c != default).Select(c => new ActivityLink(c)).ToList();
        var activity = Source.StartActivity("usagedashboard.ingest.commit", ActivityKind.Internal, parent, links: links);
        activity?.SetTag("usagedashboard.requests", callers.Count);
        return activity;
    }
}
