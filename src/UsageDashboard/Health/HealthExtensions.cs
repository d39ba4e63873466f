using UsageDashboard.Catalog;
using UsageDashboard.Releases;

namespace UsageDashboard.Health;

public static class HealthExtensions
{
    /// <summary>Detection, stored flags, webhooks; with <paramref name="background"/> also the scheduled evaluator and the sender.</summary>
    public static IServiceCollection AddHealth(this IServiceCollection services, IConfiguration configuration, bool background = true)
    {
        var section = configuration.GetSection("Health");
        services.Configure<HealthOptions>(section);
        services.AddPluginCatalog(configuration);
        services.AddReleases(configuration);
        services.AddSingleton<HealthQueries>();
        services.AddScoped<HealthFlagService>();
        services.AddScoped<HealthEvaluator>();
        services.AddScoped<PluginHealthService>();
        services.AddSingleton<WebhookSignal>();
        services.AddSingleton<WebhookSender>();
        // A redirect is not followed: a receiver URL must not bounce deliveries (and their signatures) elsewhere,
        // e.g. to an internal address; a 3xx counts as a failed delivery.
        services.AddHttpClient(WebhookSender.HttpClientName)
            .ConfigurePrimaryHttpMessageHandler(() => new SocketsHttpHandler { AllowAutoRedirect = false });
        if (background && section.GetValue("RunInBackground", true))
        {
            services.AddHostedService<HealthBackgroundService>();
            services.AddHostedService<WebhookSenderService>();
        }
        return services;
    }
}
