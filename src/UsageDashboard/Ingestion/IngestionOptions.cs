namespace UsageDashboard.Ingestion;

/// <summary>One tool that may send events: <c>Tools:&lt;name&gt;</c> in configuration.</summary>
public sealed class ToolOptions
{
    /// <summary>Keys accepted on the native and Jitsu endpoints (Bearer, X-Write-Key, Jitsu token).</summary>
    public List<string> WriteKeys { get; set; } = [];

    /// <summary>Snowplow <c>aid</c> values attributed to this tool (dbt sends <c>dbt</c>, Meltano <c>meltano</c>).</summary>
    public List<string> SnowplowAppIds { get; set; } = [];
}

/// <summary>Limits and policies of the collector: <c>Ingestion</c> in configuration.</summary>
public sealed class IngestionOptions
{
    public int MaxBodyBytes { get; set; } = 1024 * 1024;
    public int MaxEventBytes { get; set; } = 64 * 1024;
    public int MaxEventsPerRequest { get; set; } = 1000;
    /// <summary>Serialized size of an event's extra properties; entries beyond it are dropped and flagged.</summary>
    public int MaxPropertiesBytes { get; set; } = 8 * 1024;
    /// <summary>Raw payload kept per quarantined event; the rest is cut and flagged.</summary>
    public int MaxQuarantinePayloadBytes { get; set; } = 16 * 1024;
    /// <summary>A device clock further ahead than this is not believed: the event takes its receipt time.</summary>
    public TimeSpan MaxFutureSkew { get; set; } = TimeSpan.FromMinutes(10);
    /// <summary>
    /// A device time further ahead than this is not a skewed clock but a wrong date: the event is rejected
    /// (<c>timestamp_in_future</c>) instead of being moved to its receipt time.
    /// </summary>
    public TimeSpan RejectFutureBeyond { get; set; } = TimeSpan.FromDays(1);
    /// <summary>No JSON string (value or property name) of a body may be longer than this many bytes as sent.</summary>
    public int MaxStringBytes { get; set; } = 256 * 1024;
    /// <summary>No JSON object of a body may have more properties than this.</summary>
    public int MaxPropertiesPerObject { get; set; } = 1000;
    /// <summary>
    /// A Jitsu <c>{template, events}</c> body's size once the template is copied under every event
    /// (template bytes × events + body); checked before anything is copied.
    /// </summary>
    public int MaxExpandedBytes { get; set; } = 4 * 1024 * 1024;
    /// <summary>Quarantine: raw payloads kept per (tool, reason) and UTC day; every rejection is counted, only these are kept.</summary>
    public int QuarantineSamplesPerDay { get; set; } = 20;
    /// <summary>Quarantine: days a kept payload stays before the retention pass deletes it.</summary>
    public int QuarantineSampleDays { get; set; } = 30;
    /// <summary>Quarantine: days the per-day rejection counters are kept.</summary>
    public int QuarantineCountDays { get; set; } = 400;
    public RateLimitOptions RateLimit { get; set; } = new();

    /// <summary>
    /// Rounds of rolled-back writes per collector writer at start-up (<see cref="IngestionWarmUp"/>), before
    /// <c>/readyz</c> answers 200; 0 turns the warm-up off.
    /// </summary>
    public int WarmUpRounds { get; set; } = 60;

    /// <summary>The commit queue's bounds (<see cref="CommitQueue"/>): <c>Ingestion:Queue</c>.</summary>
    public QueueOptions Queue { get; set; } = new();
}

/// <summary>
/// What the collector holds for the database before it refuses requests with 503 and Retry-After
/// (<see cref="CommitQueue"/>). A refused request stored nothing; clients retry it.
/// </summary>
public sealed class QueueOptions
{
    /// <summary>Events (and quarantined items) waiting for or in a commit.</summary>
    public int MaxEvents { get; set; } = 50_000;

    /// <summary>Their size as received, in bytes.</summary>
    public long MaxBytes { get; set; } = 64L * 1024 * 1024;

    /// <summary>The longest a request waits for its commit to start; past it, the answer is 503 <c>database_slow</c>.</summary>
    public TimeSpan Deadline { get; set; } = TimeSpan.FromSeconds(5);
}

/// <summary>Token bucket per write key (per client address for Snowplow, which has no key).</summary>
public sealed class RateLimitOptions
{
    public int RequestsPerSecond { get; set; } = 500;
    public int Burst { get; set; } = 1000;
}
