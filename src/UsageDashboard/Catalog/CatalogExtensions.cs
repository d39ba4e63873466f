using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;

namespace UsageDashboard.Catalog;

public static class CatalogExtensions
{
    /// <summary>Idempotent (Health, Hub and Program.cs each ask for it). The plugin catalog (embedded Meltano Hub export plus <c>Plugins:ExtraCatalogs</c>) and the names read through it.</summary>
    public static IServiceCollection AddPluginCatalog(this IServiceCollection services, IConfiguration configuration)
    {
        services.Configure<PluginCatalogOptions>(configuration.GetSection("Plugins"));
        services.TryAddSingleton(sp => PluginCatalog.FromOptions(sp.GetRequiredService<IOptions<PluginCatalogOptions>>(), sp.GetRequiredService<IHostEnvironment>(),
            sp.GetRequiredService<ILogger<PluginCatalog>>()));
        services.TryAddSingleton<PluginNames>();
        return services;
    }
}
