using Microsoft.Extensions.DependencyInjection.Extensions;

namespace UsageDashboard.Releases;

public static class ReleaseExtensions
{
    /// <summary>Release diffs; called by <c>AddHealth</c> too (flags name their top slice), so it may run twice.</summary>
    public static IServiceCollection AddReleases(this IServiceCollection services, IConfiguration configuration)
    {
        services.Configure<ReleaseOptions>(configuration.GetSection("Releases"));
        services.TryAddSingleton<ReleaseService>();
        return services;
    }
}
