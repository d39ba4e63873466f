using Microsoft.Extensions.Options;

namespace UsageDashboard.Hub;

public static class HubExtensions
{
    public static IServiceCollection AddHub(this IServiceCollection services, IConfiguration configuration)
    {
        services.Configure<HubOptions>(configuration.GetSection("Hub"));
        services.AddSingleton(sp => PluginCatalog.FromOptions(sp.GetRequiredService<IOptions<HubOptions>>(), sp.GetRequiredService<IHostEnvironment>(), sp.GetRequiredService<ILogger<PluginCatalog>>()));
        services.AddSingleton<HubService>();
        return services;
    }
}
