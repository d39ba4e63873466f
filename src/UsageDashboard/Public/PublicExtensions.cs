namespace UsageDashboard.Public;

public static class PublicExtensions
{
    public static IServiceCollection AddPublicPages(this IServiceCollection services, IConfiguration configuration)
    {
        services.Configure<PublicOptions>(configuration.GetSection("Public"));
        services.AddSingleton<PublicService>();
        return services;
    }
}
