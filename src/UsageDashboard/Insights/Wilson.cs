namespace UsageDashboard.Insights;

/// <summary>A proportion with its sample size and 95% Wilson score interval.</summary>
public sealed record Rate(long Successes, long Total)
{
    public double? Value => Total == 0 ? null : (double)Successes / Total;
    public (double Low, double High)? Interval => Total == 0 ? null : Wilson.Interval(Successes, Total);

    /// <summary>Below this many trials a rate is shown, but marked as a small sample and never ranked.</summary>
    public const long SmallSample = 30;
    public bool IsSmallSample => Total < SmallSample;
}

public static class Wilson
{
    /// <summary>z for a two-sided 95% interval.</summary>
    public const double Z95 = 1.959963984540054;

    /// <summary>
    /// The Wilson score interval: unlike the normal approximation it stays inside [0, 1] and is honest
    /// for small n and rates near 0 or 1, which is where plugin success rates live.
    /// </summary>
    public static (double Low, double High) Interval(long successes, long total, double z = Z95)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(successes);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(successes, total);
        if (total == 0)
        {
            return (0, 1);
        }
        double n = total;
        var p = successes / n;
        var z2 = z * z;
        var denominator = 1 + z2 / n;
        var centre = (p + z2 / (2 * n)) / denominator;
        var half = z * Math.Sqrt(p * (1 - p) / n + z2 / (4 * n * n)) / denominator;
        return (Math.Max(0, centre - half), Math.Min(1, centre + half));
    }
}
