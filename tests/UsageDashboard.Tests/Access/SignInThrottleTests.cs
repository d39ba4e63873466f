using System.Net;
using Microsoft.Extensions.Options;
using UsageDashboard.Access;
using UsageDashboard.Tests.Infrastructure;

namespace UsageDashboard.Tests.Access;

public sealed class SignInThrottleTests
{
    private static readonly DateTimeOffset s_now = new(2026, 12, 8, 0, 0, 0, TimeSpan.Zero);

    private static SignInThrottle CreateThrottle(TimeProvider time, int perPair = 3, int perAddress = 5) =>
        new(Options.Create(new AccessOptions { MaxFailedAccessAttempts = perPair, MaxFailedSignInsPerAddress = perAddress, LockoutDuration = TimeSpan.FromMinutes(15) }), time);

    [Fact]
    public void IsAllowed_PairFailuresOlderThanTheWindow_AllowedAgain()
    {
        var clock = new FakeTimeProvider(s_now);
        var throttle = CreateThrottle(clock);
        var address = IPAddress.Parse("203.0.113.9");
        for (var i = 0; i < 3; i++)
        {
            throttle.RecordFailure("pm@example.org", address);
            clock.Advance(TimeSpan.FromMinutes(5));
        }

        // The window slides: at 15 min the first failure has aged out.
        Assert.True(throttle.IsAllowed("pm@example.org", address));
        throttle.RecordFailure("PM@example.org ", address);
        Assert.False(throttle.IsAllowed("pm@example.org", address));
        Assert.True(throttle.IsAllowed("pm@example.org", IPAddress.Parse("203.0.113.10")));
    }

    [Fact]
    public void IsAllowed_Ipv6AddressesInOneSlash64_CountTogether()
    {
        var throttle = CreateThrottle(new FakeTimeProvider(s_now));
        for (var i = 1; i <= 5; i++)
        {
            throttle.RecordFailure($"guess-{i}@example.org", IPAddress.Parse($"2001:db8:1:2::{i:x}"));
        }

        Assert.False(throttle.IsAllowed("pm@example.org", IPAddress.Parse("2001:db8:1:2:ffff::1")));
        Assert.True(throttle.IsAllowed("pm@example.org", IPAddress.Parse("2001:db8:1:3::1")));
    }

    [Fact]
    public void RecordSuccess_AfterPairFailures_ClearsThePairNotTheAddress()
    {
        var throttle = CreateThrottle(new FakeTimeProvider(s_now), perPair: 2, perAddress: 3);
        var address = IPAddress.Parse("198.51.100.7");
        throttle.RecordFailure("pm@example.org", address);
        throttle.RecordFailure("other@example.org", address);

        throttle.RecordSuccess("pm@example.org", address);
        throttle.RecordFailure("third@example.org", address);

        Assert.False(throttle.IsAllowed("pm@example.org", address));
    }
}
