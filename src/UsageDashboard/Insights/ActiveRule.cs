namespace UsageDashboard.Insights;

/// <summary>Which installations count as active; the installations page lets people choose.</summary>
public enum ActiveRuleKind
{
    AnyEvent,
    SuccessfulRun,
    ExcludeCiOnly,
    ExcludeSingleDay,
}

/// <summary>The "active" rules, their URL tokens (<c>active=</c>) and their definitions.</summary>
public static class ActiveRule
{
    public const string DefaultToken = "any";

    public static readonly IReadOnlyList<ActiveRuleKind> All =
        [ActiveRuleKind.AnyEvent, ActiveRuleKind.SuccessfulRun, ActiveRuleKind.ExcludeCiOnly, ActiveRuleKind.ExcludeSingleDay];

    public static string Token(ActiveRuleKind rule) => rule switch
    {
        ActiveRuleKind.SuccessfulRun => "success",
        ActiveRuleKind.ExcludeCiOnly => "noci",
        ActiveRuleKind.ExcludeSingleDay => "multiday",
        _ => DefaultToken,
    };

    /// <summary>Parses <c>active=</c>; anything unknown is the default, with a warning in <paramref name="errors"/>.</summary>
    public static ActiveRuleKind Parse(string? token, List<string>? errors = null)
    {
        var value = token?.Trim().ToLowerInvariant();
        if (string.IsNullOrEmpty(value))
        {
            return ActiveRuleKind.AnyEvent;
        }
        foreach (var rule in All)
        {
            if (Token(rule) == value)
            {
                return rule;
            }
        }
        errors?.Add($"Unknown active rule '{token}'; showing '{DefaultToken}'. Use one of {string.Join(", ", All.Select(Token))}.");
        return ActiveRuleKind.AnyEvent;
    }

    public static string Label(ActiveRuleKind rule) => rule switch
    {
        ActiveRuleKind.SuccessfulRun => "At least one successful run",
        ActiveRuleKind.ExcludeCiOnly => "Excluding CI-only installations",
        ActiveRuleKind.ExcludeSingleDay => "Excluding single-day installations",
        _ => "Any event",
    };

    /// <summary>The rule's definition, with the default exclusion of Jetty's dev builds (<see cref="Definitions.JettyDevBuilds"/>).</summary>
    public static string Definition(ActiveRuleKind rule) => RuleDefinition(rule) + " " + Definitions.JettyDevBuilds;

    private static string RuleDefinition(ActiveRuleKind rule) => rule switch
    {
        ActiveRuleKind.SuccessfulRun => "An installation is active in a period when at least one of its runs in that period succeeded.",
        ActiveRuleKind.ExcludeCiOnly => "An installation is active in a period when it ran anything then, unless every run it has ever sent was in CI (on any day, OS or version): build pipelines and test matrices, not people.",
        ActiveRuleKind.ExcludeSingleDay => "An installation is active in a period when it ran anything then, unless it has only ever been seen on one UTC day (first and last sighting on the same day): drive-by trials and throwaway containers.",
        _ => "An installation is active in a period when it sent at least one event (any run, whatever its outcome) in that period.",
    };
}
