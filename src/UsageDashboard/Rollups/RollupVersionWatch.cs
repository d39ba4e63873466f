using Npgsql;

namespace UsageDashboard.Rollups;

/// <summary>
/// Tells open dashboard pages when the rollups have folded new data. One small query per interval for
/// the whole instance (the highest segment version and the number of segments), and only while some
/// page listens: pages then recompute from the rollup cache, which reloads just the changed segments.
/// </summary>
public sealed class RollupVersionWatch(NpgsqlDataSource dataSource, ILogger<RollupVersionWatch> logger) : BackgroundService
{
    /// <summary>At most this often: the refresher folds every 10 s by default, and a page recompute costs CPU.</summary>
    public static readonly TimeSpan Interval = TimeSpan.FromSeconds(10);

    private (long Max, long Count) _last = (-1, -1);

    /// <summary>Raised (on a background thread) when the rollups changed since the previous check.</summary>
    public event Action? Changed;

    /// <summary>When the last change was seen, or when watching started.</summary>
    public DateTimeOffset LastChange { get; private set; } = DateTimeOffset.UtcNow;

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(Interval);
        while (await timer.WaitForNextTickAsync(stoppingToken))
        {
            if (Changed is null)
            {
                continue;
            }
            try
            {
                await CheckAsync(stoppingToken);
            }
            catch (Exception e) when (e is NpgsqlException or TimeoutException or InvalidOperationException)
            {
                // The database being away is shown by the pages themselves when they next load.
                logger.LogDebug(e, "Rollup version check failed");
            }
        }
    }

    /// <summary>Checks once; true when the versions moved since the previous check (the first check only records them).</summary>
    public async Task<bool> CheckAsync(CancellationToken ct)
    {
        await using var command = dataSource.CreateCommand("SELECT coalesce(max(version), 0), count(*) FROM rollup_month_versions");
        await using var reader = await command.ExecuteReaderAsync(ct);
        await reader.ReadAsync(ct);
        var now = (reader.GetInt64(0), reader.GetInt64(1));
        var first = _last.Max < 0;
        var moved = !first && now != _last;
        _last = now;
        if (moved)
        {
            LastChange = DateTimeOffset.UtcNow;
            Changed?.Invoke();
        }
        return moved;
    }
}
