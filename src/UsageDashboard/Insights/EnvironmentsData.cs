namespace UsageDashboard.Insights;

/// <summary>An environment dimension the page breaks installations down by.</summary>
public enum EnvironmentDimension
{
    Os,
    OsVersion,
    Runtime,
    RuntimeVersion,
    ToolVersion,
}

/// <summary>
/// One value of a dimension: installations and runs with it in the period, and the runs' outcomes (the success rate
/// by value; null where only installations are known).
/// </summary>
public sealed record DimensionValue(string Value, long Installations, long Runs, Outcomes? Outcomes = null);

/// <summary>A dimension's distribution now (the whole period) and per bucket (installations by value).</summary>
public sealed record DimensionBreakdown(
    EnvironmentDimension Dimension, IReadOnlyList<DimensionValue> Values, IReadOnlyList<AdoptionBucket> OverTime);

/// <summary>Everything <c>/environments</c> and <c>/api/insights/environments</c> show.</summary>
public sealed record EnvironmentsData(
    InsightQuery Query, DateOnly Today, Grain Grain, long Installations, IReadOnlyList<DimensionBreakdown> Dimensions, IReadOnlyList<string> Tools);
