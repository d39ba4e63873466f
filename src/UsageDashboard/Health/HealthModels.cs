using UsageDashboard.Insights;

namespace UsageDashboard.Health;

/// <summary>What a health flag is about: a plugin version, or (Kind = tool) a release of the CLI itself.</summary>
public sealed record HealthSubject(string Tool, string Kind, string Name, string Version)
{
    public const string PluginKind = "plugin";
    public const string ToolKind = "tool";

    public static HealthSubject Plugin(string tool, string name, string version) => new(tool, PluginKind, name, version);
    public static HealthSubject ToolRelease(string tool, string version) => new(tool, ToolKind, tool, version);

    public string VersionLabel => Version.Length == 0 ? "(no version)" : Version;

    /// <summary>
    /// "snowflake 1.9.1", or "meltano 3.5.0" for a CLI release; a Meltano plugin's is its stored digests,
    /// which <c>PluginNames.Text</c> reads as "tap-github (meltanolabs, default pip_url)".
    /// </summary>
    public string Label => $"{Name} {VersionLabel}";
}

/// <summary>Counts of one window. Failures are failed + aborted runs; judged runs also count the succeeded ones.</summary>
public readonly record struct WindowCounts(long Judged, long Failures, long Installations = 0, long FailingInstallations = 0)
{
    public double? FailureRate => Judged == 0 ? null : (double)Failures / Judged;
    public (double Low, double High) Interval => Wilson.Interval(Failures, Judged);
    public static WindowCounts operator -(WindowCounts a, WindowCounts b) => new(a.Judged - b.Judged, a.Failures - b.Failures);
    public static WindowCounts operator +(WindowCounts a, WindowCounts b) => new(a.Judged + b.Judged, a.Failures + b.Failures);
}

public readonly record struct HourCount(DateTime Hour, long Judged, long Failures);

/// <summary>Everything the detector needs to judge one subject at one moment: plain counts, no database.</summary>
public sealed record SubjectCounts
{
    public required HealthSubject Subject { get; init; }
    /// <summary>First run of this version seen at all (the "release" on the evidence chart).</summary>
    public required DateTime FirstSeen { get; init; }
    /// <summary>This version, last <see cref="HealthOptions.RecentWindow"/>.</summary>
    public required WindowCounts Recent { get; init; }
    /// <summary>This version, last <see cref="HealthOptions.LongWindow"/>.</summary>
    public required WindowCounts Long { get; init; }
    /// <summary>The same plugin's other versions over the recent window.</summary>
    public required WindowCounts PeersRecent { get; init; }
    /// <summary>The same plugin's other versions over the long window.</summary>
    public required WindowCounts PeersLong { get; init; }
    /// <summary>This version before the recent window (<see cref="HealthOptions.HistoryWindow"/> long).</summary>
    public required WindowCounts History { get; init; }
    /// <summary>This version per hour over history and recent window, oldest first; hours without runs may be missing.</summary>
    public IReadOnlyList<HourCount> Hourly { get; init; } = [];
}

public enum HealthSeverity
{
    None = 0,
    Degraded = 1,
    Broken = 2,
}

/// <summary>Which comparison produced a finding.</summary>
public static class DetectionMethods
{
    /// <summary>Recent window against the plugin's other versions (a broken release).</summary>
    public const string Peers = "peers";
    /// <summary>Recent window against the version's own earlier history (it broke while in use).</summary>
    public const string History = "history";
    /// <summary>Last hours against a robust z-score of the version's hourly failure rates (a sudden spike).</summary>
    public const string Spike = "spike";
    /// <summary>Long window against the other versions (slow degradation).</summary>
    public const string Drift = "drift";
}

/// <summary>Evidence of one finding; stored with the flag as JSON.</summary>
public sealed record HealthEvidence
{
    public required string Method { get; init; }
    public required long Runs { get; init; }
    public required long Failures { get; init; }
    public required long Installations { get; init; }
    public required long FailingInstallations { get; init; }
    public required double Rate { get; init; }
    public required double RateLow { get; init; }
    public required double RateHigh { get; init; }
    public required long BaselineRuns { get; init; }
    public required long BaselineFailures { get; init; }
    public required double BaselineRate { get; init; }
    public required double BaselineLow { get; init; }
    public required double BaselineHigh { get; init; }
    public required double Increase { get; init; }
    public required double Z { get; init; }
    public required DateTime FirstSeen { get; init; }
    public required DateTime WindowStart { get; init; }
    public required DateTime EvaluatedAt { get; init; }
    /// <summary>Where the failure rate stepped up (history and spike findings), when the hours show one.</summary>
    public DateTime? Onset { get; init; }
    /// <summary>The slice that carries most of the excess failures ("windows · python 3.12"), when one does.</summary>
    public string? TopSlice { get; init; }
    /// <summary>The release diff of the subject (<c>/releases/...</c> or <c>/plugins/.../compare?...</c>).</summary>
    public string? DiffUrl { get; init; }
}

public sealed record HealthFinding(HealthSeverity Severity, string Reason, HealthEvidence Evidence);

/// <summary>The detector's verdict on one subject.</summary>
public sealed record HealthAssessment
{
    public required HealthSubject Subject { get; init; }
    /// <summary>The strongest finding, or null when nothing is clearly wrong.</summary>
    public HealthFinding? Finding { get; init; }
    public HealthSeverity Severity => Finding?.Severity ?? HealthSeverity.None;
    /// <summary>Enough recent data to say anything at all.</summary>
    public required bool SufficientData { get; init; }
    /// <summary>Recent failure rate back near baseline (well under the opening thresholds): counts towards auto-resolve.</summary>
    public required bool IsClear { get; init; }
}
