namespace UsageDashboard.Demo;

public static class DemoExtensions
{
    public static IServiceCollection AddDemoData(this IServiceCollection services)
    {
        services.AddSingleton<DemoLoader>();
        return services;
    }
}
