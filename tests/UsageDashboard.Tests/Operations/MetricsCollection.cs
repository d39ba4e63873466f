namespace UsageDashboard.Tests.Operations;

/// <summary>
/// Tests that read exact metric values run alone: OpenTelemetry listens to every meter named "UsageDashboard"
/// in the process, so the apps other test classes run in parallel would add to the counts.
/// </summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class MetricsCollection
{
    public const string Name = "metrics";
}
