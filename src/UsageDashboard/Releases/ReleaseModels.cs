using UsageDashboard.Insights;

namespace UsageDashboard.Releases;

/// <summary>Settings of release diffs (section <c>Releases</c>).</summary>
public sealed class ReleaseOptions
{
    /// <summary>CI runs retry, run matrices and fail on purpose: left out, as health detection leaves them out.</summary>
    public bool ExcludeCi { get; set; } = true;
    /// <summary>The default number of whole UTC days a diff covers, ending today.</summary>
    public int Days { get; set; } = 30;
    /// <summary>A slice needs this many judged runs to be ranked, and a baseline cell to have a rate of its own.</summary>
    public long MinJudged { get; set; } = Rate.SmallSample;
}

/// <summary>One side of a comparison: which version (or all of them) over which days.</summary>
public sealed record ReleaseSide(string Label, string? Version, DateOnly From, DateOnly To, Outcomes Outcomes)
{
    public Rate FailureRate => new(Outcomes.Failures, Outcomes.Judged);
}

/// <summary>An error type's failures on both sides, as counts and as shares of that side's failures.</summary>
public sealed record ErrorTypeChange(string ErrorType, long Count, double Share, long BaselineCount, double BaselineShare, bool IsNew, SliceExcess Excess);

/// <summary>Distinct installations on the version that day, and of the tool (or plugin) at all.</summary>
public sealed record AdoptionDay(DateOnly Day, long Installations, long AllInstallations)
{
    public double? Share => AllInstallations == 0 ? null : (double)Installations / AllInstallations;
}

/// <summary>Installations that ran the new version and, on a later UTC day, an older one.</summary>
public sealed record Rollback(long Installations, long RolledBack)
{
    public Rate Rate => new(RolledBack, Installations);
}

/// <summary>Everything a release diff shows: the same figures for the API, its CSV and the page built on it later.</summary>
public sealed record ReleaseDiff
{
    public required string Tool { get; init; }
    /// <summary><c>tool</c> for a tool release, <c>plugin</c> for a plugin comparison.</summary>
    public required string Kind { get; init; }
    public required string Name { get; init; }
    public required ReleaseSide Baseline { get; init; }
    public required ReleaseSide Current { get; init; }
    /// <summary>Excess failures over OS × runtime × command.</summary>
    public required Decomposition Slices { get; init; }
    public required IReadOnlyList<ErrorTypeChange> ErrorTypes { get; init; }
    /// <summary>Tool releases only: the excess over the plugins the runs used (plugin outcomes).</summary>
    public Decomposition? Plugins { get; init; }
    public required IReadOnlyList<AdoptionDay> Adoption { get; init; }
    public required Rollback Rollback { get; init; }
    public required string Url { get; init; }
    public IReadOnlyList<string> Warnings { get; init; } = [];

    /// <summary>The failure-rate change in points, when both sides have judged runs.</summary>
    public double? Change => Current.FailureRate.Value - Baseline.FailureRate.Value;
}

/// <summary>Routes of the diff pages (built on the interactive UI later); the APIs answer with the same figures.</summary>
public static class ReleaseUrls
{
    public static string Release(string tool, string version) =>
        $"/releases/{Uri.EscapeDataString(tool)}/{Uri.EscapeDataString(version)}";

    public static string Compare(string tool, string plugin, string from, string to) =>
        $"/plugins/{Uri.EscapeDataString(plugin)}/compare?tool={Uri.EscapeDataString(tool)}&from={Uri.EscapeDataString(from)}&to={Uri.EscapeDataString(to)}";
}

/// <summary>What a health flag says about its slices: a sentence for the reason, the top slice, the diff's route.</summary>
public sealed record FlagExplanation(string? Sentence, string? TopSlice, string Url);
