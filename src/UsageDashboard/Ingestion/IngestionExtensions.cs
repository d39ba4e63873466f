using System.Globalization;
using System.Threading.RateLimiting;
using Microsoft.Extensions.Options;
using Npgsql;
using UsageDashboard.Access;
using UsageDashboard.Database;
using UsageDashboard.Hosting;
using UsageDashboard.Store;

namespace UsageDashboard.Ingestion;

public static class IngestionExtensions
{
    public const string RateLimitPolicy = "ingestion";
    public const string DataSourceKey = "ingestion";

    /// <summary>The collector's pool for writes of at most <see cref="EventWriter.PreparedWriteMaxEvents"/> events.</summary>
    public const string SmallWritesDataSourceKey = "ingestion-small";

    private static NpgsqlDataSource CollectorDataSource(IServiceProvider services, string applicationName)
    {
        var builder = new NpgsqlDataSourceBuilder(services.GetRequiredService<EventsDatabase>().ConnectionString);
        builder.ConnectionStringBuilder.NoResetOnClose = true;
        builder.ConnectionStringBuilder.ApplicationName = applicationName;
        builder.UsePhysicalConnectionInitializer(
            conn => EventWriter.CreateWorkTablesAsync(conn, CancellationToken.None).GetAwaiter().GetResult(),
            conn => EventWriter.CreateWorkTablesAsync(conn, CancellationToken.None));
        return builder.Build();
    }

    /// <summary>The collector: tools and keys (<c>Tools</c>), limits (<c>Ingestion</c>), per-key rate limiting.</summary>
    public static IServiceCollection AddIngestion(this IServiceCollection services, IConfiguration configuration)
    {
        services.Configure<Dictionary<string, ToolOptions>>(configuration.GetSection("Tools"));
        services.Configure<IngestionOptions>(configuration.GetSection("Ingestion"));
        services.AddSingleton<ToolDirectory>();
        // The identifier key loads before the collector's first request (and before the warm-up below).
        services.Configure<PrivacyOptions>(configuration.GetSection("Privacy"));
        services.AddSingleton<IdentifierKeys>();
        services.AddStartupWork(IdentifierKeys.StartupWork);
        services.AddHostedService(sp => sp.GetRequiredService<IdentifierKeys>());
        // The collector's own pool over the same database. The write path keeps its staging tables as
        // session temp tables (emptied by each write); without a reset on close they survive between
        // requests instead of being dropped by DISCARD ALL and created again on every write. Each
        // physical connection creates them once when it opens, so a small write can be sent as one
        // prepared command (EventWriter's workTablesReady).
        //
        // Small writes (single-event requests and their group commits) get a pool of their own. Their
        // prepared statements are planned against the session's work tables, whose row estimates come
        // from the tables' current size; on a connection that had just staged a large batch they were
        // re-planned on every call (1.6 ms for the derivation alone, `pg_stat_statements`), and at 300
        // single-event requests/s PostgreSQL used 40 % more CPU and the median request took 8-10 ms
        // instead of 4-6 (docs/benchmarks.md, 2026-12-02).
        services.AddKeyedSingleton(DataSourceKey, (sp, _) => CollectorDataSource(sp, "UsageDashboard collector"));
        services.AddKeyedSingleton(SmallWritesDataSourceKey, (sp, _) => CollectorDataSource(sp, "UsageDashboard collector, small writes"));
        services.AddSingleton<Collector>();
        services.AddSingleton<CommitQueue>();
        services.AddHostedService(sp => sp.GetRequiredService<CommitQueue>());
        services.AddStartupWork(IngestionWarmUp.StartupWork);
        services.AddSingleton<IngestionWarmUp>();
        services.AddHostedService(sp => sp.GetRequiredService<IngestionWarmUp>());
        services.AddSingleton<EventImporter>();
        services.AddSingleton<QuarantineStore>();
        services.AddRateLimiter(options =>
        {
            options.AddPolicy(RateLimitPolicy, Partition);
            options.RejectionStatusCode = StatusCodes.Status429TooManyRequests;
            options.OnRejected = async (context, ct) =>
            {
                var retryAfter = context.Lease.TryGetMetadata(MetadataName.RetryAfter, out var wait) ? Math.Max(1, (int)Math.Ceiling(wait.TotalSeconds)) : 1;
                context.HttpContext.Response.Headers.RetryAfter = retryAfter.ToString(CultureInfo.InvariantCulture);
                await context.HttpContext.Response.WriteAsJsonAsync(new ErrorResponse
                {
                    Error = "rate_limited",
                    Message = string.Create(CultureInfo.InvariantCulture, $"too many requests for this write key; retry after {retryAfter} s"),
                }, ct);
            };
        });
        return services;
    }

    /// <summary>The quarantine's upkeep: old samples and counters deleted at start and every Retention:RunEvery.</summary>
    public static IServiceCollection AddQuarantinePruning(this IServiceCollection services)
    {
        services.AddHostedService<QuarantinePruning>();
        return services;
    }

    /// <summary>
    /// One token bucket per valid write key: configured, or managed and recently confirmed active
    /// (<see cref="ManagedWriteKeys.IsKnownActive"/>; a managed key's first request after a while counts against
    /// its address). Requests without a valid key (Snowplow has none; a wrong key gets 401 anyway) share a bucket
    /// per client address (the proxy's client behind a configured proxy, <c>ForwardedHeaders:*</c>), held in
    /// memory only and never stored.
    /// </summary>
    private static RateLimitPartition<string> Partition(HttpContext http)
    {
        var tools = http.RequestServices.GetRequiredService<ToolDirectory>();
        var limits = http.RequestServices.GetRequiredService<IOptions<IngestionOptions>>().Value.RateLimit;
        var key = IngestionApi.WriteKey(http.Request, jitsu: true);
        var valid = key is not null
            && (tools.ToolsForKey(key).Count > 0 || http.RequestServices.GetRequiredService<ManagedWriteKeys>().IsKnownActive(key));
        var partition = valid ? "key:" + key : "addr:" + http.Connection.RemoteIpAddress;
        return RateLimitPartition.GetTokenBucketLimiter(partition, _ => new TokenBucketRateLimiterOptions
        {
            TokenLimit = Math.Max(1, limits.Burst),
            TokensPerPeriod = Math.Max(1, limits.RequestsPerSecond),
            ReplenishmentPeriod = TimeSpan.FromSeconds(1),
            QueueLimit = 0,
            AutoReplenishment = true,
        });
    }
}

/// <summary>The native event's JSON Schema, embedded from docs/schema/event.schema.json.</summary>
public static class EventSchema
{
    public static string Json { get; } = Load();

    private static string Load()
    {
        using var stream = typeof(EventSchema).Assembly.GetManifestResourceStream("UsageDashboard.Ingestion.event.schema.json")
            ?? throw new InvalidOperationException("event.schema.json is not embedded");
        using var reader = new StreamReader(stream);
        return reader.ReadToEnd();
    }
}
