using System.Text.Json;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;
using UsageDashboard.Catalog;
using UsageDashboard.Store;

namespace UsageDashboard.Health;

public sealed record EvaluationResult(int Subjects, int Opened, int Escalated, int Resolved, int Active, TimeSpan Elapsed);

/// <summary>A flag with its history, for the health pages.</summary>
public sealed record FlagDetails(HealthFlag Flag, HealthEvidence? Evidence, IReadOnlyList<HealthFlagEvent> History);

/// <summary>
/// Stores flags and their history: applies the detector's assessments through <see cref="FlagLifecycle"/>,
/// and the maintainers' acknowledge/resolve. Each notifying change writes its webhook messages to the
/// outbox in the same transaction.
/// </summary>
public sealed class HealthFlagService(UsageDbContext db, IOptions<HealthOptions> options, TimeProvider time, WebhookSignal signal, PluginNames names)
{
    private static readonly JsonSerializerOptions s_json = new(JsonSerializerDefaults.Web);
    private readonly HealthOptions _o = options.Value;

    public static string SeverityName(HealthSeverity s) => s == HealthSeverity.Broken ? "broken" : "degraded";
    public static HealthSeverity ParseSeverity(string s) => s == "broken" ? HealthSeverity.Broken : HealthSeverity.Degraded;

    public async Task<(int Opened, int Escalated, int Resolved, int Active)> ApplyAsync(IReadOnlyList<HealthAssessment> assessments, DateTime now, CancellationToken ct)
    {
        await using var tx = await db.Database.BeginTransactionAsync(ct);
        // One evaluation at a time across the app, the CLI and other instances.
        await db.Database.ExecuteSqlRawAsync("SELECT pg_advisory_xact_lock(7246001)", ct);

        var active = await db.HealthFlags.Where(f => f.State != FlagStates.Resolved).ToListAsync(ct);
        var activeBySubject = active.ToDictionary(f => new HealthSubject(f.Tool, f.Kind, f.Name, f.Version));
        var resolvedSince = now - (_o.ReopenCooldown > _o.LongWindow ? _o.ReopenCooldown : _o.LongWindow);
        var lastResolved = (await db.HealthFlags.AsNoTracking()
                .Where(f => f.State == FlagStates.Resolved && f.ResolvedAt >= resolvedSince)
                .Select(f => new { f.Tool, f.Kind, f.Name, f.Version, f.Severity, f.ResolvedAt, f.ResolvedBy })
                .ToListAsync(ct))
            .GroupBy(f => new HealthSubject(f.Tool, f.Kind, f.Name, f.Version))
            .ToDictionary(g => g.Key, g => g.OrderByDescending(f => f.ResolvedAt)
                .Select(f => new PastResolution(ParseSeverity(f.Severity), f.ResolvedAt!.Value, f.ResolvedBy is not null)).First());

        var changes = new List<(HealthFlag Flag, string Action)>();
        int opened = 0, escalated = 0, resolved = 0;
        foreach (var a in assessments)
        {
            activeBySubject.TryGetValue(a.Subject, out var flag);
            var state = flag is null ? null : new ActiveFlag(flag.Id, ParseSeverity(flag.Severity), flag.ClearSince);
            var decision = FlagLifecycle.Decide(state, lastResolved.GetValueOrDefault(a.Subject), a, now, _o);
            switch (decision.Change)
            {
                case FlagChange.Open:
                    flag = new HealthFlag
                    {
                        Tool = a.Subject.Tool, Kind = a.Subject.Kind, Name = a.Subject.Name, Version = a.Subject.Version,
                        Severity = SeverityName(a.Severity), State = FlagStates.Open, Method = a.Finding!.Evidence.Method,
                        Reason = a.Finding.Reason, Evidence = JsonSerializer.Serialize(a.Finding.Evidence, s_json),
                        FirstSeen = a.Finding.Evidence.FirstSeen, OpenedAt = now, UpdatedAt = now,
                    };
                    db.HealthFlags.Add(flag);
                    changes.Add((flag, FlagActions.Opened));
                    opened++;
                    break;
                case FlagChange.Escalate:
                case FlagChange.Refresh:
                    flag!.Severity = SeverityName((HealthSeverity)Math.Max((int)a.Severity, (int)ParseSeverity(flag.Severity)));
                    flag.Method = a.Finding!.Evidence.Method;
                    flag.Reason = a.Finding.Reason;
                    flag.Evidence = JsonSerializer.Serialize(a.Finding.Evidence, s_json);
                    flag.ClearSince = null;
                    flag.UpdatedAt = now;
                    if (decision.Change == FlagChange.Escalate)
                    {
                        // Escalation re-opens an acknowledged flag: what the maintainer acknowledged got worse.
                        flag.State = FlagStates.Open;
                        changes.Add((flag, FlagActions.Escalated));
                        escalated++;
                    }
                    break;
                case FlagChange.Track:
                    if (flag!.ClearSince != decision.ClearSince)
                    {
                        flag.ClearSince = decision.ClearSince;
                        flag.UpdatedAt = now;
                    }
                    break;
                case FlagChange.Resolve:
                    flag!.State = FlagStates.Resolved;
                    flag.ResolvedAt = now;
                    flag.UpdatedAt = now;
                    flag.ResolveNote = "Back at baseline for " + HealthDetector.Duration(now - decision.ClearSince!.Value) + ".";
                    changes.Add((flag, FlagActions.Resolved));
                    resolved++;
                    break;
            }
        }
        await db.SaveChangesAsync(ct);
        foreach (var (flag, action) in changes)
        {
            await AddEventAsync(flag, action, null, action == FlagActions.Resolved ? flag.ResolveNote : null, now, ct);
        }
        await tx.CommitAsync(ct);
        NotifySender(changes.Select(c => c.Action));
        var stillActive = active.Count(f => f.State != FlagStates.Resolved) + opened;
        return (opened, escalated, resolved, stillActive);
    }

    /// <summary>A maintainer is on it. Only open flags can be acknowledged; the note is kept in the history.</summary>
    public async Task<bool> AcknowledgeAsync(long id, string actor, string? note, CancellationToken ct)
    {
        var now = time.GetUtcNow().UtcDateTime;
        await using var tx = await db.Database.BeginTransactionAsync(ct);
        var flag = await db.HealthFlags.FirstOrDefaultAsync(f => f.Id == id && f.State == FlagStates.Open, ct);
        if (flag is null)
        {
            return false;
        }
        flag.State = FlagStates.Acknowledged;
        flag.AcknowledgedAt = now;
        flag.AcknowledgedBy = actor;
        flag.AcknowledgeNote = Clean(note);
        flag.UpdatedAt = now;
        await db.SaveChangesAsync(ct);
        await AddEventAsync(flag, FlagActions.Acknowledged, actor, flag.AcknowledgeNote, now, ct);
        await tx.CommitAsync(ct);
        return true;
    }

    /// <summary>Resolved by hand (fixed, or not a real problem); the detector holds back a re-open for a while.</summary>
    public async Task<bool> ResolveAsync(long id, string actor, string? note, CancellationToken ct)
    {
        var now = time.GetUtcNow().UtcDateTime;
        await using var tx = await db.Database.BeginTransactionAsync(ct);
        var flag = await db.HealthFlags.FirstOrDefaultAsync(f => f.Id == id && f.State != FlagStates.Resolved, ct);
        if (flag is null)
        {
            return false;
        }
        flag.State = FlagStates.Resolved;
        flag.ResolvedAt = now;
        flag.ResolvedBy = actor;
        flag.ResolveNote = Clean(note);
        flag.UpdatedAt = now;
        await db.SaveChangesAsync(ct);
        await AddEventAsync(flag, FlagActions.Resolved, actor, flag.ResolveNote, now, ct);
        await tx.CommitAsync(ct);
        NotifySender([FlagActions.Resolved]);
        return true;
    }

    /// <summary>Active flags first (newest first), then flags resolved since <paramref name="resolvedSince"/>.</summary>
    public async Task<IReadOnlyList<HealthFlag>> ListAsync(DateTime resolvedSince, string? tool, CancellationToken ct) =>
        await db.HealthFlags.AsNoTracking()
            .Where(f => f.State != FlagStates.Resolved || f.ResolvedAt >= resolvedSince)
            .Where(f => tool == null || f.Tool == tool)
            .OrderBy(f => f.State == FlagStates.Resolved).ThenByDescending(f => f.Severity).ThenByDescending(f => f.OpenedAt)
            .Take(200)
            .ToListAsync(ct);

    public async Task<FlagDetails?> GetAsync(long id, CancellationToken ct)
    {
        var flag = await db.HealthFlags.AsNoTracking().FirstOrDefaultAsync(f => f.Id == id, ct);
        if (flag is null)
        {
            return null;
        }
        var history = await db.HealthFlagEvents.AsNoTracking().Where(e => e.FlagId == id).OrderBy(e => e.At).ThenBy(e => e.Id).ToListAsync(ct);
        return new FlagDetails(flag, ParseEvidence(flag.Evidence), history);
    }

    public static HealthEvidence? ParseEvidence(string json)
    {
        try
        {
            return JsonSerializer.Deserialize<HealthEvidence>(json, s_json);
        }
        catch (JsonException)
        {
            return null;
        }
    }

    private async Task AddEventAsync(HealthFlag flag, string action, string? actor, string? note, DateTime now, CancellationToken ct)
    {
        var e = new HealthFlagEvent { FlagId = flag.Id, At = now, Action = action, Severity = flag.Severity, Actor = actor, Note = note, Reason = flag.Reason };
        db.HealthFlagEvents.Add(e);
        await db.SaveChangesAsync(ct);
        if (!FlagActions.Notifies(action))
        {
            return;
        }
        foreach (var hook in _o.Webhooks.Where(h => !string.IsNullOrWhiteSpace(h.Url)))
        {
            db.WebhookMessages.Add(new WebhookMessage
            {
                FlagEventId = e.Id,
                Url = hook.Url,
                Payload = WebhookPayload.Create(flag, e, _o.DashboardUrl, names),
                CreatedAt = now,
                NextAttemptAt = now,
            });
        }
        await db.SaveChangesAsync(ct);
    }

    private void NotifySender(IEnumerable<string> actions)
    {
        if (_o.Webhooks.Count > 0 && actions.Any(FlagActions.Notifies))
        {
            signal.Wake();
        }
    }

    private static string? Clean(string? note)
    {
        note = note?.Trim();
        return string.IsNullOrEmpty(note) ? null : note.Length > 2000 ? note[..2000] : note;
    }
}
