namespace UsageDashboard.Demo;

/// <summary>What <c>seed-demo</c> generates. The same options (and seed) always give the same data.</summary>
public sealed record DemoOptions
{
    public int Events { get; init; } = 1_000_000;
    public int Days { get; init; } = 90;
    public int Seed { get; init; } = 42;
    /// <summary>The moment the generated history ends (exclusive); normally "now".</summary>
    public required DateTime End { get; init; }
}

public sealed record DemoLoadResult(long Events, long Accepted, long Duplicates, TimeSpan Elapsed)
{
    public double EventsPerSecond => Elapsed.TotalSeconds <= 0 ? 0 : Events / Elapsed.TotalSeconds;
}
