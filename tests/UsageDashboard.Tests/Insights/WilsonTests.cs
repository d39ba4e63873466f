using UsageDashboard.Insights;

namespace UsageDashboard.Tests.Insights;

public sealed class WilsonTests
{
    [Theory]
    // Reference values computed with the closed form (z = 1.959964).
    [InlineData(3, 4, 0.3006, 0.9544)]
    [InlineData(0, 10, 0.0, 0.2775)]
    [InlineData(10, 10, 0.7225, 1.0)]
    [InlineData(142, 405, 0.3057, 0.3983)]
    public void Interval_KnownCases_MatchesClosedForm(long successes, long total, double low, double high)
    {
        var (l, h) = Wilson.Interval(successes, total);

        Assert.Equal(low, l, 3);
        Assert.Equal(high, h, 3);
    }

    [Fact]
    public void Interval_NoTrials_IsWholeRange()
    {
        Assert.Equal((0.0, 1.0), Wilson.Interval(0, 0));
    }

    [Fact]
    public void Rate_UnderThirtyTrials_IsSmallSample()
    {
        Assert.True(new Rate(5, 29).IsSmallSample);
        Assert.False(new Rate(5, 30).IsSmallSample);
    }
}
