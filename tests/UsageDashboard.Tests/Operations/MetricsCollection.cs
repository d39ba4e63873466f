namespace UsageDashboard.Tests.Operations;

/// <summary>
/// Tests that read exact metric values or exported spans run alone: OpenTelemetry listens to every meter named
/// "UsageDashboard" and every activity source it knows in the process, so the apps other test classes run in
/// parallel would add to the counts and the traces.
/// </summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class MetricsCollection
{
    public const string Name = "metrics";
}
