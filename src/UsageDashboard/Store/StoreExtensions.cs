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

    public static IServiceCollection AddRunSweeper(this IServiceCollection services)
    {
        services.AddHostedService<RunSweeper>();
        return services;
    }
}
