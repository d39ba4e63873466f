using UsageDashboard.Catalog;

namespace UsageDashboard.Hub;

public static class HubExtensions
{
    public static IServiceCollection AddHub(this IServiceCollection services, IConfiguration configuration)
    {
        services.Configure<HubOptions>(configuration.GetSection("Hub"));
        services.AddPluginCatalog(configuration);
        services.AddSingleton<HubService>();
        services.AddSingleton<HubHistoryService>();
        return services;
    }
}
