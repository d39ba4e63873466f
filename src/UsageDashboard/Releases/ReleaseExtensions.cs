namespace UsageDashboard.Releases;

public static class ReleaseExtensions
{
    public static IServiceCollection AddReleases(this IServiceCollection services, IConfiguration configuration)
    {
        services.Configure<ReleaseOptions>(configuration.GetSection("Releases"));
        services.AddSingleton<ReleaseService>();
        return services;
    }
}
