using System.Diagnostics;
using Microsoft.Extensions.Options;
using Npgsql;
using UsageDashboard.Operations;

namespace UsageDashboard.Health;

/// <summary>One evaluation: load counts, assess every subject, apply the lifecycle to the stored flags.</summary>
public sealed class HealthEvaluator(HealthQueries queries, HealthFlagService flags, IOptions<HealthOptions> options, TimeProvider time)
{
    public async Task<EvaluationResult> EvaluateAsync(CancellationToken ct)
    {
        var started = Stopwatch.GetTimestamp();
        var now = time.GetUtcNow().UtcDateTime;
        var o = options.Value;
        var counts = await queries.LoadAsync(now, o, ct);
        var assessments = counts.Select(c => HealthDetector.Assess(c, now, o)).ToList();
        var (opened, escalated, resolved, active) = await flags.ApplyAsync(assessments, now, ct);
        return new EvaluationResult(counts.Count, opened, escalated, resolved, active, Stopwatch.GetElapsedTime(started));
    }
}

/// <summary>
/// Evaluates on a schedule (<see cref="HealthOptions.EvaluateEvery"/>); failures are logged and retried next time.
/// Of several instances on one database, one evaluates at a time (an advisory lock); the others skip that tick.
/// </summary>
public sealed class HealthBackgroundService(IServiceScopeFactory scopes, IOptions<HealthOptions> options, TimeProvider time, NpgsqlDataSource dataSource,
    AppMetrics metrics, ILogger<HealthBackgroundService> logger) : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(options.Value.EvaluateEvery, time);
        do
        {
            try
            {
                await using var evaluating = await AdvisoryLock.TryAcquireAsync(dataSource, AdvisoryLock.HealthEvaluationKey, stoppingToken);
                if (evaluating is null)
                {
                    metrics.HealthEvaluated("skipped", TimeSpan.Zero, null);
                    continue;
                }
                await using var scope = scopes.CreateAsyncScope();
                var result = await scope.ServiceProvider.GetRequiredService<HealthEvaluator>().EvaluateAsync(stoppingToken);
                metrics.HealthEvaluated("ok", result.Elapsed, result.Active);
                logger.LogInformation("Health evaluated {Subjects} subjects in {Ms} ms: {Opened} opened, {Escalated} escalated, {Resolved} resolved, {Active} active",
                    result.Subjects, (long)result.Elapsed.TotalMilliseconds, result.Opened, result.Escalated, result.Resolved, result.Active);
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                metrics.HealthEvaluated("failed", TimeSpan.Zero, null);
                logger.LogWarning(e, "Health evaluation failed; retrying at the next interval.");
            }
        }
        while (await timer.WaitForNextTickAsync(stoppingToken));
    }
}
