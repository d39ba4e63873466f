using UsageDashboard.Rollups;

namespace UsageDashboard.Tests.Rollups;

/// <summary>How long the background refresher rests between passes.</summary>
public sealed class RollupRefreshServiceTests
{
    private static readonly TimeSpan s_every = TimeSpan.FromSeconds(10);

    [Theory]
    [InlineData(0, 10)]
    [InlineData(1, 9)]
    [InlineData(4.9, 5.1)]
    public void WaitAfter_PassShorterThanHalfThePeriod_NextPassOnePeriodAfterThisOneStarted(double passSeconds, double waitSeconds) =>
        Assert.Equal(TimeSpan.FromSeconds(waitSeconds), RollupRefreshService.WaitAfter(TimeSpan.FromSeconds(passSeconds), s_every));

    [Theory]
    [InlineData(5)]
    [InlineData(12)]
    [InlineData(40)]
    public void WaitAfter_LongPass_RestsAsLongAsThePassTook(double passSeconds) =>
        Assert.Equal(TimeSpan.FromSeconds(passSeconds), RollupRefreshService.WaitAfter(TimeSpan.FromSeconds(passSeconds), s_every));
}
