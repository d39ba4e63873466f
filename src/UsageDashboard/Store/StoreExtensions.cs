using UsageDashboard.Hosting;

namespace UsageDashboard.Store;

public static class StoreExtensions
{
    /// <summary>The write path (events → runs, installations) and the sweep that aborts stale runs.</summary>
    public static IServiceCollection AddRunDerivation(this IServiceCollection services, IConfiguration configuration)
    {
        services.Configure<RunOptions>(configuration.GetSection("Runs"));
        services.AddSingleton<EventWriter>();
        return services;
    }

    /// <summary>Monthly partitions of events: created ahead, dropped after Retention:RawEventsDays.</summary>
    public static IServiceCollection AddEventPartitions(this IServiceCollection services, IConfiguration configuration)
    {
        // Validated at start: the collector rejects events older than RawEventsDays, so a typo such as 1
        // would make it refuse nearly everything (and retention drop nearly everything).
        services.AddOptions<RetentionOptions>()
            .Bind(configuration.GetSection("Retention"))
            .Validate(o => o.RawEventsDays >= RetentionOptions.MinRawEventsDays,
                $"Retention:RawEventsDays must be at least {RetentionOptions.MinRawEventsDays} days (raw events are kept that long, and the collector rejects older events)")
            .ValidateOnStart();
        services.AddSingleton<EventPartitions>();
        return services;
    }

    public static IServiceCollection AddEventPartitionMaintenance(this IServiceCollection services)
    {
        services.AddStartupWork(EventPartitionMaintenance.StartupWork);
        services.AddSingleton<EventPartitionMaintenance>();
        services.AddHostedService(sp => sp.GetRequiredService<EventPartitionMaintenance>());
        return services;
    }

    public static IServiceCollection AddRunSweeper(this IServiceCollection services)
    {
        services.AddHostedService<RunSweeper>();
        return services;
    }
}
