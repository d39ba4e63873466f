namespace UsageDashboard.Operations;

/// <summary><c>Operations</c> in configuration: the metrics endpoint and trace sampling.</summary>
public sealed class OperationsOptions
{
    public MetricsEndpointOptions Metrics { get; set; } = new();
    public TracingOptions Tracing { get; set; } = new();
}

/// <summary>
/// The Prometheus scrape endpoint, <c>/metrics</c>. Off by default; on, it answers only requests that reach
/// the app directly (no forwarded-for header) from loopback or <see cref="AllowedNetworks"/>, and, with
/// <see cref="Port"/> set, only on that port (which must be one of the <c>Urls</c>). Anything else falls
/// through to the app, which does not know the path.
/// </summary>
public sealed class MetricsEndpointOptions
{
    public bool Enabled { get; set; }

    /// <summary>A management port of its own, e.g. 9464 with <c>Urls=http://0.0.0.0:8080;http://0.0.0.0:9464</c>.</summary>
    public int? Port { get; set; }

    /// <summary>Scraper networks in CIDR notation besides loopback, e.g. <c>10.0.0.0/8</c>.</summary>
    public List<string> AllowedNetworks { get; set; } = [];
}

public sealed class TracingOptions
{
    /// <summary>Share of traces recorded (0 to 1), when OTLP export is on; a caller's sampled flag is followed.</summary>
    public double SampleRatio { get; set; } = 0.1;
}
