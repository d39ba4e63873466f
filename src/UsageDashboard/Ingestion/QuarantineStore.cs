using Microsoft.Extensions.Options;
using Npgsql;
using UsageDashboard.Store;

namespace UsageDashboard.Ingestion;

/// <summary>One row of the admin page's quarantine table: what was rejected, how often, and how many samples are kept.</summary>
public sealed record QuarantineSummaryRow(string Tool, string Reason, long Today, long Last7Days, long SamplesKept);

/// <summary>What one prune deleted.</summary>
public sealed record QuarantinePruneResult(long Samples, long Counters);

/// <summary>
/// The bounded quarantine, read side and upkeep: the counters every rejection adds to and the capped
/// samples (written by <see cref="Collector"/>), summarised for the admin page and pruned by age.
/// </summary>
public sealed class QuarantineStore(NpgsqlDataSource dataSource, ToolDirectory tools, TimeProvider time, IOptions<IngestionOptions> options,
    ILogger<QuarantineStore> logger)
{
    /// <summary>
    /// Counts a request refused whole under <paramref name="reason"/> (its error code) and the tool when
    /// it is a configured one. A database error or a wait over 2 s is logged, not thrown: the client's
    /// answer is the 4xx, and it must not wait out a database outage for a counter.
    /// </summary>
    public async Task CountRefusedAsync(string? tool, string reason, CancellationToken ct)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(ct);
        timeout.CancelAfter(TimeSpan.FromSeconds(2));
        try
        {
            await using var cmd = dataSource.CreateCommand("""
                INSERT INTO quarantine_counts AS c (day, tool, reason, count) VALUES (@day, @tool, @reason, 1)
                ON CONFLICT (day, tool, reason) DO UPDATE SET count = c.count + 1
                """);
            cmd.Parameters.AddWithValue("day", DateOnly.FromDateTime(time.GetUtcNow().UtcDateTime));
            cmd.Parameters.AddWithValue("tool", tools.IsTool(tool) ? tool! : QuarantineCount.NoTool);
            cmd.Parameters.AddWithValue("reason", reason);
            await cmd.ExecuteNonQueryAsync(timeout.Token);
        }
        catch (Exception e) when (e is NpgsqlException || (e is OperationCanceledException && !ct.IsCancellationRequested))
        {
            logger.LogWarning(e, "Could not count a refused request ({Reason})", reason);
        }
    }

    /// <summary>Per tool and reason: rejections today and over the last 7 UTC days (today included), and samples kept.</summary>
    public async Task<IReadOnlyList<QuarantineSummaryRow>> SummaryAsync(CancellationToken ct)
    {
        var today = DateOnly.FromDateTime(time.GetUtcNow().UtcDateTime);
        await using var cmd = dataSource.CreateCommand("""
            SELECT coalesce(c.tool, s.tool) AS tool, coalesce(c.reason, s.reason) AS reason,
                   coalesce(c.today, 0), coalesce(c.week, 0), coalesce(s.samples, 0)
            FROM (SELECT tool, reason,
                         sum(count) FILTER (WHERE day = @today) AS today,
                         sum(count) AS week
                  FROM quarantine_counts WHERE day > @today - 7 GROUP BY tool, reason) c
            FULL JOIN (SELECT coalesce(tool, '') AS tool, reason, count(*) AS samples FROM quarantine GROUP BY 1, 2) s
                ON s.tool = c.tool AND s.reason = c.reason
            ORDER BY 4 DESC, 1, 2
            """);
        cmd.Parameters.AddWithValue("today", today);
        await using var reader = await cmd.ExecuteReaderAsync(ct);
        var rows = new List<QuarantineSummaryRow>();
        while (await reader.ReadAsync(ct))
        {
            rows.Add(new QuarantineSummaryRow(reader.GetString(0), reader.GetString(1), reader.GetInt64(2), reader.GetInt64(3), reader.GetInt64(4)));
        }
        return rows;
    }

    /// <summary>Deletes samples older than QuarantineSampleDays and counters older than QuarantineCountDays.</summary>
    public async Task<QuarantinePruneResult> PruneAsync(CancellationToken ct)
    {
        var now = time.GetUtcNow().UtcDateTime;
        await using var samples = dataSource.CreateCommand("DELETE FROM quarantine WHERE received_at < @before");
        samples.Parameters.AddWithValue("before", now.AddDays(-options.Value.QuarantineSampleDays));
        var deletedSamples = await samples.ExecuteNonQueryAsync(ct);
        await using var counters = dataSource.CreateCommand("DELETE FROM quarantine_counts WHERE day < @before");
        counters.Parameters.AddWithValue("before", DateOnly.FromDateTime(now.AddDays(-options.Value.QuarantineCountDays)));
        var deletedCounters = await counters.ExecuteNonQueryAsync(ct);
        return new QuarantinePruneResult(deletedSamples, deletedCounters);
    }
}

/// <summary>Prunes the quarantine (<see cref="QuarantineStore.PruneAsync"/>) at start and every Retention:RunEvery.</summary>
public sealed class QuarantinePruning(QuarantineStore store, IOptions<RetentionOptions> retention, TimeProvider time, ILogger<QuarantinePruning> logger) : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(retention.Value.RunEvery, time);
        do
        {
            try
            {
                var result = await store.PruneAsync(stoppingToken);
                if (result.Samples + result.Counters > 0)
                {
                    logger.LogInformation("Quarantine: deleted {Samples} old samples and {Counters} old counter rows", result.Samples, result.Counters);
                }
            }
            catch (NpgsqlException e)
            {
                logger.LogWarning(e, "Quarantine pruning failed; retrying at the next tick");
            }
        }
        while (await timer.WaitForNextTickAsync(stoppingToken));
    }
}
