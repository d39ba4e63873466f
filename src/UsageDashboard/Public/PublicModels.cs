using UsageDashboard.Hub;
using UsageDashboard.Insights;

namespace UsageDashboard.Public;

/// <summary>Settings of the anonymous public pages (section <c>Public</c>). k-anonymity and CI come from <see cref="HubOptions"/>.</summary>
public sealed class PublicOptions
{
    /// <summary>The tools whose public pages exist; empty (the default) publishes nothing.</summary>
    public string[] Tools { get; set; } = [];
}

/// <summary>A bucket of a tool's public series; only buckets at least k installations were active in.</summary>
public sealed record PublicPoint(DateOnly Start, long Installations, long Runs, Rate SuccessRate);

/// <summary>A command used by at least k installations over the range.</summary>
public sealed record PublicCommand(string Command, long Installations, long Runs, Rate SuccessRate);

public sealed record PublicToolView(
    string Tool, int Days, string Grain, DateOnly From, DateOnly To, DateTime AsOf, int MinInstallations,
    long Installations, long Runs, Rate SuccessRate, IReadOnlyList<PublicPoint> Series,
    IReadOnlyList<PublicCommand> Commands, IReadOnlyList<HubPlugin> Plugins);

/// <summary>An open health flag on a published version, in plain words.</summary>
public sealed record PublicFlag(string Version, string Severity, string Reason, DateTime OpenedAt);

public sealed record PublicPluginView(string Tool, int Days, HubPlugin Plugin, HubHistory History, IReadOnlyList<PublicFlag> Flags, int MinInstallations);
