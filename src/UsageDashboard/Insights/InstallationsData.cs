namespace UsageDashboard.Insights;

/// <summary>Installations active in the period under "any event", and how many each stricter rule leaves out.</summary>
public sealed record RuleExclusions(long AnyEvent, long WithoutSuccess, long CiOnly, long SingleDay)
{
    public static readonly RuleExclusions Zero = new(0, 0, 0, 0);

    public long Excluded(ActiveRuleKind rule) => rule switch
    {
        ActiveRuleKind.SuccessfulRun => WithoutSuccess,
        ActiveRuleKind.ExcludeCiOnly => CiOnly,
        ActiveRuleKind.ExcludeSingleDay => SingleDay,
        _ => 0,
    };
}

/// <summary>Active installations in one bucket (day, week or month).</summary>
public sealed record ActivePoint(DateOnly Start, long Installations);

/// <summary>
/// One week's lifecycle: new (first seen this week), returning (active this week and last), resurrected
/// (active this week, not last, seen before) and dormant (active last week, not this one).
/// </summary>
public sealed record LifecycleWeek(DateOnly Week, long New, long Returning, long Resurrected, long Dormant);

/// <summary>
/// Installations first seen (and active) in <see cref="Week"/>, and how many were active k weeks later;
/// <see cref="Retained"/>[0] is the cohort size, null where week k has not started yet.
/// </summary>
public sealed record Cohort(DateOnly Week, IReadOnlyList<long?> Retained)
{
    public long Size => Retained.Count > 0 ? Retained[0] ?? 0 : 0;
}

/// <summary>Everything <c>/installations</c> and <c>/api/insights/installations</c> show.</summary>
public sealed record InstallationsData(
    InsightQuery Query,
    DateOnly Today,
    ActiveRuleKind Rule,
    RuleExclusions Exclusions,
    long Active,
    long New,
    IReadOnlyList<ActivePoint> Daily,
    IReadOnlyList<ActivePoint> Weekly,
    IReadOnlyList<ActivePoint> Monthly,
    IReadOnlyList<LifecycleWeek> Lifecycle,
    IReadOnlyList<Cohort> Cohorts,
    Grain AdoptionGrain,
    IReadOnlyList<AdoptionBucket> Adoption,
    IReadOnlyList<string> Tools)
{
    /// <summary>With "compare with previous period": daily active installations of the previous period, shifted onto these days.</summary>
    public IReadOnlyList<long>? PreviousDaily { get; init; }
}
