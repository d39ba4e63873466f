using Microsoft.Extensions.Options;
using UsageDashboard.Hosting;

namespace UsageDashboard.Rollups;

/// <summary>Loads the rollup rows at start-up and keeps them current, so a request rarely waits for a reload.</summary>
public sealed class RollupCacheSyncService(RollupCache cache, TimeProvider time, IOptions<RollupCacheOptions> options,
    ILogger<RollupCacheSyncService> logger, StartupReadiness readiness, Operations.AppMetrics metrics) : BackgroundService
{
    /// <summary>The first sync, which loads the warm months (<see cref="StartupReadiness"/>).</summary>
    internal const string StartupWork = "rollup cache";

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(options.Value.SyncEvery, TimeProvider.System);
        var first = true;
        do
        {
            try
            {
                var watch = System.Diagnostics.Stopwatch.StartNew();
                var reloaded = await cache.SyncAsync(options.Value.WarmMonths, DateOnly.FromDateTime(time.GetUtcNow().UtcDateTime), stoppingToken);
                // The indexes pages read, rebuilt here when their segments moved, not by the next request.
                await cache.RefreshIndexesAsync(options.Value.KeepIndexesFor, stoppingToken);
                metrics.CacheSynced(watch.Elapsed, () => cache.RowCount);
                if (first || reloaded > 0)
                {
                    var (builds, buildTime, entries) = cache.IndexStats;
                    logger.Log(first ? LogLevel.Information : LogLevel.Debug,
                        "Rollup cache: {Reloaded} segments reloaded in {Elapsed} ms, {Rows} rows held; reach indexes: {Builds} built in {BuildMs} ms since start, {Entries} entries held",
                        reloaded, (long)watch.Elapsed.TotalMilliseconds, cache.RowCount, builds, (long)buildTime.TotalMilliseconds, entries);
                }
                first = false;
            }
            catch (Exception e) when (e is not OperationCanceledException || !stoppingToken.IsCancellationRequested)
            {
                // The database may be down or not migrated yet; requests load what they need themselves.
                logger.LogWarning(e, "Rollup cache sync failed; retrying at the next tick");
            }
            readiness.Finished(StartupWork);
        }
        while (await timer.WaitForNextTickAsync(stoppingToken));
    }
}
