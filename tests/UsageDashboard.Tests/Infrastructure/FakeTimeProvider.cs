namespace UsageDashboard.Tests.Infrastructure;

/// <summary>
/// A settable clock (Microsoft.Extensions.TimeProvider.Testing is not on the feed). Its timestamps, which code
/// that measures elapsed time or staleness reads, are the real ones unless <see cref="TimestampsFollowClock"/>:
/// then they move only with <see cref="Advance"/> and <see cref="Set"/>, so a test makes time pass without waiting.
/// </summary>
public sealed class FakeTimeProvider(DateTimeOffset now) : TimeProvider
{
    private DateTimeOffset _now = now;

    public bool TimestampsFollowClock { get; init; }

    public override DateTimeOffset GetUtcNow() => _now;

    public override long GetTimestamp() => TimestampsFollowClock ? _now.UtcTicks : base.GetTimestamp();

    public override long TimestampFrequency => TimestampsFollowClock ? TimeSpan.TicksPerSecond : base.TimestampFrequency;

    public void Advance(TimeSpan by) => _now += by;

    public void Set(DateTimeOffset now) => _now = now;
}
