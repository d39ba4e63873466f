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
        services.Configure<RetentionOptions>(configuration.GetSection("Retention"));
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
