using Microsoft.Extensions.Options;
using Npgsql;

namespace UsageDashboard.Store;

/// <summary>Background sweep that turns runs with no end after Runs:AbortAfter into aborted runs.</summary>
public sealed class RunSweeper(IServiceScopeFactory scopes, IOptions<RunOptions> options, TimeProvider time, ILogger<RunSweeper> logger) : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(options.Value.SweepEvery, time);
        do
        {
            try
            {
                await using var scope = scopes.CreateAsyncScope();
                var aborted = await scope.ServiceProvider.GetRequiredService<EventWriter>().AbortStaleRunsAsync(stoppingToken);
                if (aborted > 0)
                {
                    logger.LogInformation("Marked {Count} runs aborted: no end after {AbortAfter}", aborted, options.Value.AbortAfter);
                }
            }
            catch (NpgsqlException e)
            {
                // The database may be down for a while; the next tick tries again.
                logger.LogWarning(e, "Run sweep failed; retrying at the next tick");
            }
        }
        while (await timer.WaitForNextTickAsync(stoppingToken));
    }
}
