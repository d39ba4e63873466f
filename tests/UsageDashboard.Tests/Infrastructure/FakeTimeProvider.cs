namespace UsageDashboard.Tests.Infrastructure;

/// <summary>A settable clock (Microsoft.Extensions.TimeProvider.Testing is not on the feed).</summary>
public sealed class FakeTimeProvider(DateTimeOffset now) : TimeProvider
{
    private DateTimeOffset _now = now;

    public override DateTimeOffset GetUtcNow() => _now;

    public void Advance(TimeSpan by) => _now += by;

    public void Set(DateTimeOffset now) => _now = now;
}
