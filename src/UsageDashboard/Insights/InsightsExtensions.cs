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
        services.AddSingleton(sp => new FeatureCache(sp.GetRequiredService<Npgsql.NpgsqlDataSource>(), sp.GetRequiredService<TimeProvider>(),
            sp.GetRequiredService<Microsoft.Extensions.Options.IOptions<Rollups.RollupCacheOptions>>().Value.MaxStaleness));
        services.AddHostedService<FeatureCacheSyncService>();
        return services;
    }
}
