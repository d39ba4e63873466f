using Microsoft.AspNetCore.Components.Authorization;
using UsageDashboard.Access;
using UsageDashboard.Rollups;

namespace UsageDashboard.Components;

/// <summary>
/// The interactive dashboards: Blazor Server circuits with deliberate limits, a signed-in circuit that
/// re-checks its user, and the rollup version watch that pushes fresh numbers to open pages.
/// </summary>
public static class DashboardUi
{
    public static IServiceCollection AddDashboardUi(this IServiceCollection services, IConfiguration configuration)
    {
        var circuits = configuration.GetSection("Circuits");
        services.AddRazorComponents()
            .AddInteractiveServerComponents(o =>
            {
                // A dropped connection (laptop lid, proxy restart) gets two minutes to come back to the same
                // circuit; after that the page reloads from its URL, which holds the whole view anyway.
                o.DisconnectedCircuitRetentionPeriod = TimeSpan.FromMinutes(2);
                // Each retained circuit holds its pages' view models: bounded so abandoned tabs cannot pile up.
                o.DisconnectedCircuitMaxRetained = 100;
                // A slow client stops the server rendering ahead of it after this many unacknowledged batches
                // instead of queueing them in memory.
                o.MaxBufferedUnacknowledgedRenderBatches = 10;
                o.DetailedErrors = false;
                circuits.Bind(o);
            })
            .AddHubOptions(o =>
            {
                // Browsers send only UI events and small interop results (chart clicks, theme choice):
                // SignalR's 32 KB default is plenty, and a larger message is an attack, not a use.
                o.MaximumReceiveMessageSize = circuits.GetValue<long?>("MaximumReceiveMessageSize") ?? 32 * 1024;
            });
        services.AddScoped<AuthenticationStateProvider, RevalidatingDashboardAuthState>();
        services.AddOptions<RevalidationOptions>().Configure(o =>
        {
            var access = configuration.GetSection("Access").Get<AccessOptions>() ?? new AccessOptions();
            // Half the session interval: an open circuit loses access no later than a cookie session does.
            o.Interval = access.SessionValidationInterval / 2;
        });
        services.AddSingleton<RollupVersionWatch>();
        services.AddHostedService(sp => sp.GetRequiredService<RollupVersionWatch>());
        return services;
    }
}
