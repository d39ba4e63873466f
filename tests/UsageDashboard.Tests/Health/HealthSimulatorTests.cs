using UsageDashboard.Health;

namespace UsageDashboard.Tests.Health;

public sealed class HealthSimulatorTests
{
    /// <summary>A quick run of the quality table (docs/health.md has the full one, from `simulate-health --seeds 20`).</summary>
    [Fact]
    public void Simulate_TwoSeeds_EveryTargetMet()
    {
        var rows = HealthSimulator.Run(seeds: 2, new HealthOptions(), healthyPluginsPerSeed: 10);

        Assert.All(rows, r => Assert.True(r.Pass, $"{r.Scenario}: {r.Measure} = {r.Result} (target {r.Target})"));
    }
}
