using System.Net;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Npgsql;
using OpenTelemetry;
using OpenTelemetry.Metrics;
using OpenTelemetry.Resources;
using OpenTelemetry.Trace;

namespace UsageDashboard.Operations;

public static class OperationsExtensions
{
    public const string MetricsPath = "/metrics";

    /// <summary>The app's meter; with the CLI too, since the collector and refresher record into it.</summary>
    public static IServiceCollection AddAppMetrics(this IServiceCollection services)
    {
        services.AddMetrics();
        services.TryAddSingleton(TimeProvider.System);
        services.AddSingleton<AppMetrics>();
        return services;
    }

    /// <summary>
    /// OpenTelemetry: metrics for the Prometheus endpoint (<c>Operations:Metrics:Enabled</c>) and, when
    /// <c>OTEL_EXPORTER_OTLP_ENDPOINT</c> is set, metrics, traces (sampled by <c>Operations:Tracing:SampleRatio</c>)
    /// and logs over OTLP. Neither configured, nothing of OpenTelemetry runs. Start-up checks for a public deployment.
    /// </summary>
    public static IServiceCollection AddOperations(this IServiceCollection services, IConfiguration configuration)
    {
        services.AddAppMetrics();
        services.AddHostedService<OperationsStartupChecks>();
        var options = configuration.GetSection("Operations").Get<OperationsOptions>() ?? new OperationsOptions();
        services.Configure<OperationsOptions>(configuration.GetSection("Operations"));
        var otlp = !string.IsNullOrWhiteSpace(configuration["OTEL_EXPORTER_OTLP_ENDPOINT"]);
        if (!options.Metrics.Enabled && !otlp)
        {
            return services;
        }
        var telemetry = services.AddOpenTelemetry()
            .ConfigureResource(r => r.AddService("usagedashboard"))
            .WithMetrics(m =>
            {
                m.AddMeter(AppMetrics.MeterName)
                    .AddAspNetCoreInstrumentation()
                    .AddHttpClientInstrumentation()
                    .AddRuntimeInstrumentation()
                    .AddNpgsqlInstrumentation();
                if (options.Metrics.Enabled)
                {
                    m.AddPrometheusExporter();
                }
            });
        if (otlp)
        {
            var ratio = Math.Clamp(options.Tracing.SampleRatio, 0, 1);
            telemetry.WithTracing(t => t
                .SetSampler(new ParentBasedSampler(new TraceIdRatioBasedSampler(ratio)))
                // Probes and scrapes every few seconds would drown the requests worth a trace.
                .AddAspNetCoreInstrumentation(o => o.Filter = http => !IsProbe(http.Request.Path))
                .AddHttpClientInstrumentation()
                .AddSource(AppMetrics.MeterName)
                .AddNpgsql());
            telemetry.UseOtlpExporter();
        }
        return services;
    }

    /// <summary>
    /// The CLI's metrics (the <c>import</c> verb's event counts) pushed over OTLP when
    /// <c>OTEL_EXPORTER_OTLP_ENDPOINT</c> is set: a verb's process serves no <c>/metrics</c> to scrape.
    /// </summary>
    public static IServiceCollection AddCliMetricsExport(this IServiceCollection services, IConfiguration configuration)
    {
        if (!string.IsNullOrWhiteSpace(configuration["OTEL_EXPORTER_OTLP_ENDPOINT"]))
        {
            services.AddOpenTelemetry()
                .ConfigureResource(r => r.AddService("usagedashboard-cli"))
                // Only the collector's counters: the gauges of a short-lived process (a refresher lag near zero)
                // would stand beside the servers' series and mask theirs in a min() across instances.
                .WithMetrics(m => m.AddMeter(AppMetrics.MeterName)
                    .AddView(i => i.Name.StartsWith("usagedashboard.ingest.", StringComparison.Ordinal) ? null : MetricStreamConfiguration.Drop))
                .UseOtlpExporter();
        }
        return services;
    }

    private static bool IsProbe(PathString path) =>
        path.StartsWithSegments(MetricsPath) || path.StartsWithSegments("/healthz") || path.StartsWithSegments("/readyz");

    /// <summary>Serves <c>/metrics</c> when enabled, to the callers <see cref="MetricsEndpointOptions"/> allows.</summary>
    public static IApplicationBuilder UseMetricsEndpoint(this IApplicationBuilder app, IConfiguration configuration)
    {
        var options = configuration.GetSection("Operations:Metrics").Get<MetricsEndpointOptions>() ?? new MetricsEndpointOptions();
        if (!options.Enabled)
        {
            return app;
        }
        var networks = options.AllowedNetworks.Where(n => !string.IsNullOrWhiteSpace(n))
            .Select(n => System.Net.IPNetwork.TryParse(n.Trim(), out var parsed)
                ? parsed
                : throw new InvalidOperationException($"Operations:Metrics:AllowedNetworks: '{n}' is not a network such as 10.0.0.0/8"))
            .ToList();
        return app.UseOpenTelemetryPrometheusScrapingEndpoint(http => http.Request.Path == MetricsPath && MayScrape(http, options.Port, networks));
    }

    /// <summary>
    /// Loopback or an allowed network, reached directly: a request that came through a proxy (it carries a
    /// forwarded-for header, believed or not) is refused even from loopback, since the proxy's own address
    /// is loopback in the usual nginx-on-the-same-host set-up.
    /// </summary>
    internal static bool MayScrape(HttpContext http, int? port, IReadOnlyList<System.Net.IPNetwork> networks)
    {
        if (port is { } p && http.Connection.LocalPort != p)
        {
            return false;
        }
        var headers = http.Request.Headers;
        if (headers.ContainsKey("X-Forwarded-For") || headers.ContainsKey("X-Original-For") || headers.ContainsKey("Forwarded"))
        {
            return false;
        }
        var remote = http.Connection.RemoteIpAddress;
        if (remote is null)
        {
            // No IP peer: a unix-socket listener or an in-process host, both on this machine.
            return true;
        }
        if (remote.IsIPv4MappedToIPv6)
        {
            remote = remote.MapToIPv4();
        }
        return IPAddress.IsLoopback(remote) || networks.Any(n => n.Contains(remote));
    }
}
