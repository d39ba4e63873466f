using System.Diagnostics;
using Microsoft.Extensions.Options;
using Npgsql;
using UsageDashboard.Operations;
using UsageDashboard.Releases;

namespace UsageDashboard.Health;

/// <summary>One evaluation: load counts, assess every subject, apply the lifecycle to the stored flags.</summary>
public sealed class HealthEvaluator(HealthQueries queries, HealthFlagService flags, IOptions<HealthOptions> options, TimeProvider time,
    ReleaseService releases, ILogger<HealthEvaluator> logger)
{
    public async Task<EvaluationResult> EvaluateAsync(CancellationToken ct)
    {
        var started = Stopwatch.GetTimestamp();
        var now = time.GetUtcNow().UtcDateTime;
        var o = options.Value;
        var counts = await queries.LoadAsync(now, o, ct);
        var assessments = counts.Select(c => HealthDetector.Assess(c, now, o)).ToList();
        await ExplainAsync(assessments, ct);
        var (opened, escalated, resolved, active) = await flags.ApplyAsync(assessments, now, ct);
        return new EvaluationResult(counts.Count, opened, escalated, resolved, active, Stopwatch.GetElapsedTime(started));
    }

    /// <summary>
    /// Adds the slice that carries the excess to each finding's reason, and the diff's route to its evidence.
    /// Only findings (a handful), so the extra queries cost little; a failure leaves the reason as it was.
    /// </summary>
    private async Task ExplainAsync(List<HealthAssessment> assessments, CancellationToken ct)
    {
        for (var i = 0; i < assessments.Count; i++)
        {
            if (assessments[i] is not { Finding: { } finding } a)
            {
                continue;
            }
            try
            {
                var s = a.Subject;
                if (await releases.ExplainAsync(s.Tool, s.Kind == HealthSubject.ToolKind, s.Name, s.Version, ct) is { } e)
                {
                    assessments[i] = a with
                    {
                        Finding = finding with
                        {
                            Reason = e.Sentence is null ? finding.Reason : finding.Reason + " " + e.Sentence,
                            Evidence = finding.Evidence with { TopSlice = e.TopSlice, DiffUrl = e.Url },
                        },
                    };
                }
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                logger.LogWarning(e, "Could not name the top slice of {Subject}; its flag keeps the reason without it.", a.Subject.Label);
            }
        }
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
