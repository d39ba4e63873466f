namespace UsageDashboard.Insights;

/// <summary>The words every page uses, defined once; the layout shows them one click away.</summary>
public static class Definitions
{
    public const string Run = "A command invocation. The started and ended events of one invocation are one run.";
    public const string ActiveInstallation = "An installation (a random id per tool and machine) with at least one run in the period. The installations page lets you choose a stricter rule. " + JettyDevBuilds;

    /// <summary>The default exclusion of Jetty's dev builds (<see cref="InsightQuery.ExcludesDevBuilds"/>), said wherever active installations are defined.</summary>
    public const string JettyDevBuilds = "Jetty's dev builds (environment 'dev': its debug builds, run by Jetty's own developers) are not active installations, on Jetty's view and on the all-tools view; choose a build environment (environment=dev, or environment=all for every build) to count them.";

    public const string PanicsPerThousand = PanicRate.Definition;
    public const string SuccessRate = "Succeeded ÷ (succeeded + failed + aborted) runs, with its 95% Wilson interval and n. Runs still open, skipped or of unknown outcome are not judged.";
    public const string Aborted = "A run that was interrupted or killed, or that started and sent no end within 12 hours.";
    public const string SmallSample = "Fewer than 30 judged runs: the rate is shown, marked, and its interval is wide. Rankings are by volume, so small samples never rise to the top by chance.";
    public const string Duration = "Median (p50) and 95th percentile of reported run durations.";
    public const string Incomplete = "A period still in progress (today, this week) or cut by the selected range is shaded on charts and marked in tables, so it never reads as a drop.";

    public static readonly IReadOnlyList<(string Term, string Text)> All =
    [
        ("Run", Run),
        ("Active installation", ActiveInstallation),
        ("Success rate", SuccessRate),
        ("Panics per 1,000 invocations", PanicsPerThousand),
        ("Aborted", Aborted),
        ("Small sample", SmallSample),
        ("Incomplete period", Incomplete),
    ];
}
