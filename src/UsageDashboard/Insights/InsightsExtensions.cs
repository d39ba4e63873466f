namespace UsageDashboard.Insights;

public static class InsightsExtensions
{
    public static IServiceCollection AddInsights(this IServiceCollection services)
    {
        services.AddScoped<OverviewService>();
        services.AddScoped<CommandsService>();
        services.AddScoped<PluginsService>();
        services.AddScoped<InstallationsService>();
        services.AddScoped<EnvironmentsService>();
        services.AddScoped<FeaturesService>();
        services.AddSingleton<FeatureCache>();
        return services;
    }
}
