using Microsoft.Extensions.DependencyInjection;
using UsageDashboard.Operations;
using UsageDashboard.Tests.Infrastructure;

namespace UsageDashboard.Tests.Operations;

public sealed class RefreshLagTests
{
    private static (AppMetrics Metrics, FakeTimeProvider Time, ServiceProvider Services) CreateMetrics()
    {
        var time = new FakeTimeProvider(new DateTimeOffset(2026, 12, 8, 0, 0, 0, TimeSpan.Zero)) { TimestampsFollowClock = true };
        var services = new ServiceCollection().AddSingleton<TimeProvider>(time).AddAppMetrics().BuildServiceProvider();
        return (services.GetRequiredService<AppMetrics>(), time, services);
    }

    [Fact]
    public void RefreshLag_NoPassForFiveMinutes_FiveMinutes()
    {
        var (metrics, time, services) = CreateMetrics();
        using (services)
        {
            time.Advance(TimeSpan.FromMinutes(5));

            Assert.Equal(TimeSpan.FromMinutes(5), metrics.RefreshLag);
        }
    }

    [Fact]
    public void RefreshLag_CaughtUpPassTookTenSeconds_LagFromItsStart()
    {
        var (metrics, time, services) = CreateMetrics();
        using (services)
        {
            time.Advance(TimeSpan.FromMinutes(5));
            metrics.RefreshPassed(TimeSpan.FromSeconds(10), caughtUp: true);
            time.Advance(TimeSpan.FromSeconds(20));

            Assert.Equal(TimeSpan.FromSeconds(30), metrics.RefreshLag);
        }
    }

    [Fact]
    public void RefreshLag_PassNotCaughtUp_KeepsGrowing()
    {
        var (metrics, time, services) = CreateMetrics();
        using (services)
        {
            time.Advance(TimeSpan.FromMinutes(1));
            metrics.RefreshPassed(TimeSpan.FromSeconds(10), caughtUp: false);

            Assert.Equal(TimeSpan.FromMinutes(1), metrics.RefreshLag);
        }
    }
}
