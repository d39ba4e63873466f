using Microsoft.EntityFrameworkCore;
using UsageDashboard.Demo;
using UsageDashboard.Store;

namespace UsageDashboard.Database;

/// <summary>
/// Runs before Kestrel starts listening: opens the database (starting the project-local cluster when no
/// server is configured), applies migrations, and on the local cluster loads demo data the first time,
/// so the run command gives a browsable dashboard on a fresh machine.
/// </summary>
public sealed class DatabaseStartup(IServiceProvider services, IConfiguration configuration, TimeProvider time, ILogger<DatabaseStartup> logger) : IHostedService
{
    public async Task StartAsync(CancellationToken cancellationToken)
    {
        var database = await services.PrepareDatabaseAsync(cancellationToken);
        if (!database.IsLocal || !configuration.GetValue("Demo:SeedLocalDatabase", true))
        {
            return;
        }
        await using var scope = services.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<UsageDbContext>();
        if (await db.Events.AnyAsync(cancellationToken))
        {
            return;
        }
        var options = new DemoOptions
        {
            Events = configuration.GetValue("Demo:Events", 1_000_000),
            Days = configuration.GetValue("Demo:Days", 90),
            End = time.GetUtcNow().UtcDateTime,
        };
        logger.LogInformation("First start on the local database: loading {Events} demo events over {Days} days", options.Events, options.Days);
        var progress = new Progress<long>(n => logger.LogInformation("demo data: {Loaded} events loaded", n));
        var result = await services.GetRequiredService<DemoLoader>().LoadAsync(options, progress, cancellationToken);
        logger.LogInformation("Demo data loaded: {Events} events in {Seconds:F1} s ({Rate:F0} events/s)",
            result.Events, result.Elapsed.TotalSeconds, result.EventsPerSecond);
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
}
