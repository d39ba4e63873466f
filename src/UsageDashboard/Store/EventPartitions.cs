using System.Globalization;
using System.Text.RegularExpressions;
using Microsoft.Extensions.Options;
using Npgsql;
using UsageDashboard.Hosting;

namespace UsageDashboard.Store;

public sealed class RetentionOptions
{
    /// <summary>
    /// Raw events are kept at least this many days; a monthly partition is dropped once its whole month
    /// ended more than this long ago. Runs, run plugins and installations are kept: they are the record.
    /// </summary>
    public int RawEventsDays { get; set; } = 400;

    /// <summary>The least <see cref="RawEventsDays"/> the app starts with.</summary>
    public const int MinRawEventsDays = 30;

    /// <summary>How often partitions are created ahead and old ones dropped.</summary>
    public TimeSpan RunEvery { get; set; } = TimeSpan.FromHours(6);

    /// <summary>How many months after the current one get their partition ahead of time.</summary>
    public int MonthsAhead { get; set; } = 2;
}

/// <summary>One monthly partition of <c>events</c>: its table, its UTC month and (when counted) its rows.</summary>
public sealed record EventPartition(string Table, DateTime Month, long Rows)
{
    public DateTime MonthEnd => Month.AddMonths(1);
}

/// <summary>What a maintenance pass did (or, dry, would do).</summary>
public sealed record PartitionMaintenanceResult(IReadOnlyList<string> Created, IReadOnlyList<EventPartition> Dropped, DateTime Cutoff, bool DryRun);

/// <summary>
/// Maintenance of the month-partitioned <c>events</c> table (see the EventsPartitionedByMonth migration):
/// creates the partitions of the coming months and of any month whose events landed in the DEFAULT
/// partition (a far-past or far-future event is accepted there at once and gets its month's partition
/// here), and drops whole months older than <see cref="RetentionOptions.RawEventsDays"/>, never a
/// partial month, together with their idempotency keys.
/// </summary>
public sealed partial class EventPartitions(NpgsqlDataSource dataSource, TimeProvider time, IOptions<RetentionOptions> options)
{
    [GeneratedRegex("^events_y(?<y>[0-9]{4})m(?<m>[0-9]{2})$")]
    private static partial Regex MonthlyName();

    /// <summary>The first instant that is kept: partitions whose month ends at or before it are dropped.</summary>
    public DateTime Cutoff() => time.GetUtcNow().UtcDateTime.AddDays(-options.Value.RawEventsDays);

    /// <summary>Creates missing partitions, then drops expired ones (unless <paramref name="dryRun"/>).</summary>
    public async Task<PartitionMaintenanceResult> MaintainAsync(bool dryRun, CancellationToken ct)
    {
        var created = dryRun ? [] : await EnsurePartitionsAsync(ct);
        var cutoff = Cutoff();
        // Only the expired partitions are counted (for the log): counting every month read the whole
        // table at each start of the app, 0.5-0.6 s of a core per month of a 1M-event store while the
        // first requests were being served.
        var expired = new List<EventPartition>();
        foreach (var partition in (await ListAsync(ct)).Where(p => p.MonthEnd <= cutoff))
        {
            expired.Add(partition with { Rows = await CountAsync(partition.Table, ct) });
        }
        if (!dryRun)
        {
            foreach (var partition in expired)
            {
                await DropAsync(partition, ct);
            }
        }
        return new PartitionMaintenanceResult(created, expired, cutoff, dryRun);
    }

    /// <summary>
    /// Creates the partitions of this month and the next <see cref="RetentionOptions.MonthsAhead"/>, and
    /// of every month that has rows in the DEFAULT partition (moving those rows into it).
    /// </summary>
    public async Task<IReadOnlyList<string>> EnsurePartitionsAsync(CancellationToken ct)
    {
        var thisMonth = MonthOf(time.GetUtcNow().UtcDateTime);
        var months = Enumerable.Range(0, options.Value.MonthsAhead + 1).Select(thisMonth.AddMonths).ToHashSet();
        await using (var cmd = dataSource.CreateCommand("SELECT DISTINCT date_trunc('month', occurred_at AT TIME ZONE 'UTC') FROM events_default"))
        {
            // A bulk load leaves millions of rows here: reading them is bounded by the data, not a timeout.
            cmd.CommandTimeout = 0;
            await using var reader = await cmd.ExecuteReaderAsync(ct);
            while (await reader.ReadAsync(ct))
            {
                months.Add(DateTime.SpecifyKind(reader.GetDateTime(0), DateTimeKind.Utc));
            }
        }
        var created = new List<string>();
        foreach (var month in months.Order())
        {
            await using var conn = await dataSource.OpenConnectionAsync(ct);
            await using var tx = await conn.BeginTransactionAsync(ct);
            // Waiting behind a long transaction on the default partition would queue every writer behind
            // this one; give up instead and try again at the next pass.
            await using (var timeout = new NpgsqlCommand("SET LOCAL lock_timeout = '10s'", conn))
            {
                await timeout.ExecuteNonQueryAsync(ct);
            }
            // Moving a month out of the default partition (after a bulk load) takes as long as its rows
            // take to copy: no statement timeout; the lock timeout above still bounds the wait.
            await using var cmd = new NpgsqlCommand("SELECT events_ensure_partition(@month)", conn) { CommandTimeout = 0 };
            cmd.Parameters.AddWithValue("month", month);
            if (await cmd.ExecuteScalarAsync(ct) is string name)
            {
                created.Add(name);
            }
            await tx.CommitAsync(ct);
        }
        return created;
    }

    /// <summary>The monthly partitions, oldest first (the DEFAULT partition is not one of them), not counted.</summary>
    public async Task<IReadOnlyList<EventPartition>> ListAsync(CancellationToken ct)
    {
        var names = new List<string>();
        await using (var cmd = dataSource.CreateCommand("""
            SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
            WHERE i.inhparent = 'events'::regclass ORDER BY c.relname
            """))
        await using (var reader = await cmd.ExecuteReaderAsync(ct))
        {
            while (await reader.ReadAsync(ct))
            {
                names.Add(reader.GetString(0));
            }
        }
        var partitions = new List<EventPartition>();
        foreach (var name in names)
        {
            var match = MonthlyName().Match(name);
            if (!match.Success)
            {
                continue;
            }
            var month = new DateTime(int.Parse(match.Groups["y"].Value, CultureInfo.InvariantCulture),
                int.Parse(match.Groups["m"].Value, CultureInfo.InvariantCulture), 1, 0, 0, 0, DateTimeKind.Utc);
            partitions.Add(new EventPartition(name, month, Rows: 0));
        }
        return partitions;
    }

    /// <summary>The rows of a partition <see cref="ListAsync"/> found (its name matched the partition pattern, so it is safe to splice in).</summary>
    private async Task<long> CountAsync(string table, CancellationToken ct)
    {
        await using var count = dataSource.CreateCommand($"SELECT count(*) FROM {table}");
        count.CommandTimeout = 0;
        return (long)(await count.ExecuteScalarAsync(ct))!;
    }

    private async Task DropAsync(EventPartition partition, CancellationToken ct)
    {
        await using var conn = await dataSource.OpenConnectionAsync(ct);
        await using var tx = await conn.BeginTransactionAsync(ct);
        // DROP takes an ACCESS EXCLUSIVE lock on events for a moment (DETACH CONCURRENTLY is not allowed
        // next to a DEFAULT partition); a bounded wait keeps writers from queueing behind it for long.
        // The keys go with the events: the narrow key table would otherwise grow without end. A retry of
        // an event this old is then stored again, in its old month, and does not change its run (a run
        // is only re-derived over more events than it already counts).
        await using var cmd = new NpgsqlCommand($"""
            SET LOCAL lock_timeout = '10s';
            DELETE FROM event_keys k USING {partition.Table} e WHERE k.tool = e.tool AND k.event_id = e.event_id;
            DROP TABLE {partition.Table};
            """, conn)
        { CommandTimeout = 0 };
        await cmd.ExecuteNonQueryAsync(ct);
        await tx.CommitAsync(ct);
    }

    private static DateTime MonthOf(DateTime utc) => new(utc.Year, utc.Month, 1, 0, 0, 0, DateTimeKind.Utc);
}

/// <summary>Runs <see cref="EventPartitions.MaintainAsync"/> at start and every Retention:RunEvery.</summary>
public sealed class EventPartitionMaintenance(IServiceProvider services, IOptions<RetentionOptions> options, TimeProvider time,
    ILogger<EventPartitionMaintenance> logger, StartupReadiness readiness) : BackgroundService
{
    /// <summary>The first pass, which creates this month's partition (<see cref="StartupReadiness"/>).</summary>
    internal const string StartupWork = "event partitions";

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(options.Value.RunEvery, time);
        do
        {
            await RunOnceAsync(stoppingToken);
            readiness.Finished(StartupWork);
        }
        while (await timer.WaitForNextTickAsync(stoppingToken));
    }

    /// <summary>One pass; failures are logged and retried at the next tick.</summary>
    public async Task RunOnceAsync(CancellationToken ct)
    {
        try
        {
            var result = await services.GetRequiredService<EventPartitions>().MaintainAsync(dryRun: false, ct);
            foreach (var name in result.Created)
            {
                logger.LogInformation("Created event partition {Partition}", name);
            }
            foreach (var p in result.Dropped)
            {
                logger.LogInformation("Retention: dropped event partition {Partition} ({Month:yyyy-MM}, {Rows} events): its month ended before {Cutoff:O} (Retention:RawEventsDays = {Days})",
                    p.Table, p.Month, p.Rows, result.Cutoff, options.Value.RawEventsDays);
            }
        }
        catch (NpgsqlException e)
        {
            logger.LogWarning(e, "Event partition maintenance failed; retrying at the next tick");
        }
    }
}
