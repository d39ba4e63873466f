namespace UsageDashboard.Store;

public sealed class RunOptions
{
    /// <summary>
    /// A run with a start and no end after this long becomes <c>aborted</c>: the process was killed
    /// before it could say so (the Meltano convention of started/completed pairs).
    /// </summary>
    public TimeSpan AbortAfter { get; set; } = TimeSpan.FromHours(12);

    /// <summary>How often open runs are checked against <see cref="AbortAfter"/>.</summary>
    public TimeSpan SweepEvery { get; set; } = TimeSpan.FromMinutes(1);
}
