namespace UsageDashboard.Health;

/// <summary>Flag states: open → acknowledged (a maintainer is on it) → resolved. History is kept.</summary>
public static class FlagStates
{
    public const string Open = "open";
    public const string Acknowledged = "acknowledged";
    public const string Resolved = "resolved";
}

/// <summary>What happened to a flag; the ones webhooks hear about are opened, escalated and resolved.</summary>
public static class FlagActions
{
    public const string Opened = "opened";
    public const string Escalated = "escalated";
    public const string Acknowledged = "acknowledged";
    public const string Resolved = "resolved";

    public static bool Notifies(string action) => action is Opened or Escalated or Resolved;
}

/// <summary>The part of a stored flag the lifecycle needs.</summary>
public sealed record ActiveFlag(long Id, HealthSeverity Severity, DateTime? ClearSince);

/// <summary>The subject's last resolved flag, which holds back an echo of the same problem.</summary>
public sealed record PastResolution(HealthSeverity Severity, DateTime ResolvedAt, bool ByHand);

public enum FlagChange
{
    /// <summary>Nothing to store.</summary>
    None,
    Open,
    Escalate,
    /// <summary>Still failing: refresh the evidence, restart the clear timer.</summary>
    Refresh,
    /// <summary>Not failing: store the clear timer (started, kept or reset).</summary>
    Track,
    Resolve,
}

public sealed record FlagDecision(FlagChange Change, DateTime? ClearSince = null);

/// <summary>
/// Pure lifecycle rules, shared by the stored flags and the simulator. Hysteresis: a flag opens at the
/// detector's thresholds but resolves only after the rate has been back near baseline
/// (<see cref="HealthOptions.ClearIncrease"/>, far below the opening thresholds) for a whole
/// <see cref="HealthOptions.RecentWindow"/>; any hour in between that is not clear restarts the timer.
/// </summary>
public static class FlagLifecycle
{
    public static FlagDecision Decide(ActiveFlag? active, PastResolution? last, HealthAssessment assessment, DateTime now, HealthOptions o)
    {
        if (active is null)
        {
            if (assessment.Finding is null)
            {
                return new FlagDecision(FlagChange.None);
            }
            if (last is not null && assessment.Severity <= last.Severity)
            {
                // A maintainer said "resolved" recently: don't argue unless it got worse.
                if (last.ByHand && now - last.ResolvedAt < o.ReopenCooldown)
                {
                    return new FlagDecision(FlagChange.None);
                }
                // The long window still holds the episode that was resolved: its echo is not news.
                if (assessment.Finding.Evidence.Method == DetectionMethods.Drift && now - last.ResolvedAt < o.LongWindow)
                {
                    return new FlagDecision(FlagChange.None);
                }
            }
            return new FlagDecision(FlagChange.Open);
        }
        if (assessment.Finding is not null)
        {
            return new FlagDecision(assessment.Severity > active.Severity ? FlagChange.Escalate : FlagChange.Refresh);
        }
        if (!assessment.SufficientData)
        {
            // Too few runs to tell: neither evidence of recovery nor of failure.
            return new FlagDecision(FlagChange.None);
        }
        if (!assessment.IsClear)
        {
            return active.ClearSince is null ? new FlagDecision(FlagChange.None) : new FlagDecision(FlagChange.Track, null);
        }
        var clearSince = active.ClearSince ?? now;
        return now - clearSince >= o.RecentWindow
            ? new FlagDecision(FlagChange.Resolve, clearSince)
            : new FlagDecision(FlagChange.Track, clearSince);
    }
}
