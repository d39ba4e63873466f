using System.Diagnostics;
using System.Diagnostics.Metrics;

namespace UsageDashboard.Operations;

/// <summary>
/// The app's one <see cref="Meter"/> ("UsageDashboard") and every domain instrument an operator alerts on.
/// Labels are low-cardinality by construction: a configured tool (or <c>none</c>), an endpoint or reason
/// from a fixed list, an outcome. Never an installation, a plugin name from a request, a URL or a key.
/// Exported by OpenTelemetry (Prometheus at /metrics, OTLP); the names in docs/operations/ come from here.
/// </summary>
public sealed class AppMetrics
{
    public const string MeterName = "UsageDashboard";

    /// <summary>From a millisecond commit to a minute-long rebuild (the SDK's default buckets are for milliseconds).</summary>
    private static readonly InstrumentAdvice<double> s_seconds = new()
    {
        HistogramBucketBoundaries = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300],
    };

    private readonly Counter<long> _events;
    private readonly Counter<long> _rejected;
    private readonly Counter<long> _quarantined;
    private readonly Counter<long> _refused;
    private readonly UpDownCounter<long> _queueEvents;
    private readonly Histogram<double> _queueWait;
    private readonly Histogram<double> _writeDuration;
    private readonly Histogram<double> _refreshDuration;
    private readonly Counter<long> _refreshFailures;
    private readonly Histogram<double> _cacheReload;
    private readonly Counter<long> _evaluations;
    private readonly Histogram<double> _evaluationDuration;
    private readonly Counter<long> _webhooks;
    private readonly Counter<long> _hubRequests;
    private readonly TimeProvider _time;
    /// <summary>A <see cref="TimeProvider.GetTimestamp"/>: the refresh lag is how long ago this was.</summary>
    private long _caughtUpAt;
    private long _openFlags = -1;
    private Func<long>? _cacheRows;

    public AppMetrics(IMeterFactory meters, TimeProvider time)
    {
        _time = time;
        _caughtUpAt = time.GetTimestamp();
        var meter = meters.Create(MeterName);
        _events = meter.CreateCounter<long>("usagedashboard.ingest.events", "{event}",
            "Events the collector stored (outcome=accepted) or already had (outcome=duplicate)");
        _rejected = meter.CreateCounter<long>("usagedashboard.ingest.rejected", "{event}",
            "Events the collector refused, by reason (each is counted in the quarantine)");
        _quarantined = meter.CreateCounter<long>("usagedashboard.ingest.quarantined", "{event}",
            "Refused events written to the quarantine tables (counts, and samples up to the daily limit)");
        _refused = meter.CreateCounter<long>("usagedashboard.ingest.refused", "{request}",
            "Requests the commit queue answered 503 or 422 without storing them (queue_full, database_slow, rejected_by_database)");
        _queueEvents = meter.CreateUpDownCounter<long>("usagedashboard.ingest.queue.events", "{event}",
            "Events of requests waiting for, or in, a database commit");
        _queueWait = meter.CreateHistogram<double>("usagedashboard.ingest.queue.wait", "s",
            "Time a request waited in the commit queue before a writer took it", advice: s_seconds);
        _writeDuration = meter.CreateHistogram<double>("usagedashboard.ingest.write.duration", "s",
            "One commit transaction (events and quarantine rows) including retries after deadlocks", advice: s_seconds);
        _refreshDuration = meter.CreateHistogram<double>("usagedashboard.rollups.refresh.duration", "s",
            "One rollup refresher pass", advice: s_seconds);
        _refreshFailures = meter.CreateCounter<long>("usagedashboard.rollups.refresh.failures", "{pass}",
            "Rollup refresher passes that failed");
        meter.CreateObservableGauge("usagedashboard.rollups.refresh.lag", () => RefreshLag.TotalSeconds, "s",
            "Upper bound on the age of the oldest change not yet in the rollups: time since the start of the last pass that left nothing older behind");
        _cacheReload = meter.CreateHistogram<double>("usagedashboard.rollups.cache.reload.duration", "s",
            "One sync of the in-memory rollup cache (segments reloaded and indexes rebuilt)", advice: s_seconds);
        meter.CreateObservableGauge("usagedashboard.rollups.cache.rows", () => _cacheRows?.Invoke() ?? 0, "{row}",
            "Rollup rows held in memory");
        _evaluations = meter.CreateCounter<long>("usagedashboard.health.evaluations", "{evaluation}",
            "Plugin-health evaluations, by outcome (ok, failed, skipped when another instance was evaluating)");
        _evaluationDuration = meter.CreateHistogram<double>("usagedashboard.health.evaluation.duration", "s",
            "One plugin-health evaluation", advice: s_seconds);
        meter.CreateObservableGauge("usagedashboard.health.flags.open", ObserveOpenFlags, "{flag}",
            "Health flags active after the last evaluation of this instance");
        _webhooks = meter.CreateCounter<long>("usagedashboard.webhooks.deliveries", "{attempt}",
            "Webhook delivery attempts, by outcome (delivered, retry, failed: given up)");
        _hubRequests = meter.CreateCounter<long>("usagedashboard.hub.requests", "{request}",
            "Hub API and badge requests, by endpoint and result (ok, not_modified: the client's cached copy was current, not_found, invalid)");
        // The series alerts divide or rate exist from the start, at zero, rather than appearing with the first failure.
        foreach (var outcome in (string[])["delivered", "retry", "failed"])
        {
            _webhooks.Add(0, new KeyValuePair<string, object?>("outcome", outcome));
        }
        foreach (var outcome in (string[])["ok", "failed", "skipped"])
        {
            _evaluations.Add(0, new KeyValuePair<string, object?>("outcome", outcome));
        }
        _refreshFailures.Add(0);
        foreach (var reason in (string[])["queue_full", "database_slow", "rejected_by_database"])
        {
            _refused.Add(0, new KeyValuePair<string, object?>("reason", reason));
        }
    }

    /// <summary>The tool label: a configured tool's name, or <c>none</c> for what names none.</summary>
    private static string ToolLabel(string? tool) => string.IsNullOrEmpty(tool) ? "none" : tool;

    public void EventsStored(string? tool, string endpoint, int accepted, int duplicates)
    {
        if (accepted > 0)
        {
            _events.Add(accepted, new("tool", ToolLabel(tool)), new("endpoint", endpoint), new("outcome", "accepted"));
        }
        if (duplicates > 0)
        {
            _events.Add(duplicates, new("tool", ToolLabel(tool)), new("endpoint", endpoint), new("outcome", "duplicate"));
        }
    }

    /// <summary>An event refused; <paramref name="tool"/> only when it is a configured tool (the caller checks), else null.</summary>
    public void EventRejected(string? tool, string endpoint, string reason) =>
        _rejected.Add(1, new("tool", ToolLabel(tool)), new("endpoint", endpoint), new("reason", reason));

    /// <summary>Quarantined events: one configured tool (or QuarantineCount.NoTool) per event.</summary>
    public void EventsQuarantined(IEnumerable<string> tools)
    {
        foreach (var group in tools.CountBy(t => t))
        {
            _quarantined.Add(group.Value, new KeyValuePair<string, object?>("tool", group.Key));
        }
    }

    /// <summary>A collector request's commit: its counts when stored, else the error it was refused with.</summary>
    public void Committed(string? tool, string endpoint, (int Accepted, int Duplicates)? stored, string? refusal)
    {
        if (stored is { } s)
        {
            EventsStored(tool, endpoint, s.Accepted, s.Duplicates);
        }
        else if (refusal is not null)
        {
            RequestRefused(refusal);
        }
    }

    public void RequestRefused(string reason) => _refused.Add(1, new KeyValuePair<string, object?>("reason", reason));

    public void QueueChanged(long events) => _queueEvents.Add(events);

    public void QueueWaited(long queuedAt) => _queueWait.Record(Stopwatch.GetElapsedTime(queuedAt).TotalSeconds);

    public void WriteTook(long startedAt) => _writeDuration.Record(Stopwatch.GetElapsedTime(startedAt).TotalSeconds);

    /// <summary>A refresher pass ended; <paramref name="caughtUp"/> when it left no change older than its start.</summary>
    public void RefreshPassed(TimeSpan elapsed, bool caughtUp)
    {
        _refreshDuration.Record(elapsed.TotalSeconds);
        if (caughtUp)
        {
            Interlocked.Exchange(ref _caughtUpAt, _time.GetTimestamp() - (long)(elapsed.TotalSeconds * _time.TimestampFrequency));
        }
    }

    public void RefreshFailed() => _refreshFailures.Add(1);

    public TimeSpan RefreshLag => _time.GetElapsedTime(Interlocked.Read(ref _caughtUpAt));

    public void CacheSynced(TimeSpan elapsed, Func<long> rows)
    {
        _cacheRows = rows;
        _cacheReload.Record(elapsed.TotalSeconds);
    }

    public void HealthEvaluated(string outcome, TimeSpan elapsed, int? activeFlags)
    {
        _evaluations.Add(1, new KeyValuePair<string, object?>("outcome", outcome));
        if (outcome == "ok")
        {
            _evaluationDuration.Record(elapsed.TotalSeconds);
        }
        if (activeFlags is { } active)
        {
            Interlocked.Exchange(ref _openFlags, active);
        }
    }

    private IEnumerable<Measurement<long>> ObserveOpenFlags()
    {
        var open = Interlocked.Read(ref _openFlags);
        return open < 0 ? [] : [new Measurement<long>(open)];
    }

    public void WebhookAttempt(string outcome) => _webhooks.Add(1, new KeyValuePair<string, object?>("outcome", outcome));

    /// <summary>A hub or badge answer; <paramref name="endpoint"/> is the endpoint's name (GetBadge, GetHubPlugins, …), never the URL.</summary>
    public void HubRequest(string endpoint, int status) =>
        _hubRequests.Add(1, new("endpoint", endpoint), new("result", status switch
        {
            StatusCodes.Status200OK => "ok",
            StatusCodes.Status304NotModified => "not_modified",
            StatusCodes.Status404NotFound => "not_found",
            _ => "invalid",
        }));
}
