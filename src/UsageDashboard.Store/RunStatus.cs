namespace UsageDashboard.Store;

/// <summary>
/// Outcome vocabulary shared by events, runs and plugins. Stored as lower-case text so SQL written by
/// hand (rollups, reports) reads naturally.
/// </summary>
public static class RunStatus
{
    public const string Started = "started";
    public const string Running = "running";
    public const string Succeeded = "succeeded";
    public const string Failed = "failed";
    public const string Aborted = "aborted";
    public const string Skipped = "skipped";
    public const string Unknown = "unknown";

    /// <summary>Statuses an event may carry.</summary>
    public static readonly IReadOnlyList<string> EventStatuses = [Started, Succeeded, Failed, Aborted, Skipped, Unknown];

    /// <summary>Statuses that end a run.</summary>
    public static readonly IReadOnlyList<string> Terminal = [Succeeded, Failed, Aborted, Skipped];

    public static bool IsTerminal(string status) => status is Succeeded or Failed or Aborted or Skipped;

    /// <summary>Parses a status word; anything unrecognised is <see cref="Unknown"/>, never an error.</summary>
    public static string Normalize(string? value) => value?.Trim().ToLowerInvariant() switch
    {
        "started" or "start" => Started,
        "succeeded" or "success" or "ok" or "completed" or "complete" => Succeeded,
        "failed" or "failure" or "error" => Failed,
        "aborted" or "abort" or "cancelled" or "canceled" => Aborted,
        "skipped" or "skip" => Skipped,
        _ => Unknown,
    };
}
