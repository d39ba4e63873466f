using System.Text.Json;
using Microsoft.EntityFrameworkCore;
using UsageDashboard.Store;
using UsageDashboard.Tests.Infrastructure;
using static UsageDashboard.Tests.Infrastructure.TestEvents;

namespace UsageDashboard.Tests.Store;

public sealed class EventRoundTripTests : IClassFixture<EventRoundTripTests.Db>
{
    public sealed class Db : DatabaseFixture;

    private readonly Db _db;

    public EventRoundTripTests(Db db) => _db = db;

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task Write_CanonicalEvent_ReadBackFieldForField(bool bulk)
    {
        await _db.ResetAsync();
        var written = CreateEvent(tool: "meltano", installationId: "0197f0e1-2b3c-7d4e-8f90-a1b2c3d4e5f6", runKey: "ctx-1",
            at: T0, status: RunStatus.Failed, command: "run", eventName: "cli_event", durationMs: 8123, toolVersion: "3.5.4",
            osName: "linux", osVersion: "6.8.0", runtimeName: "python", runtimeVersion: "3.12.4", isCi: true, errorType: "RunnerError",
            plugins: [new PluginRef { Name = "tap-github", Type = "extractors", Version = "1.4.2", Status = RunStatus.Failed }]);
        written.UserId = "u-1";
        written.Environment = "ci";
        written.ClockAdjusted = true;
        written.Properties = JsonDocument.Parse("""{"exitCode":1,"nested":{"k":"v"}}""");

        if (bulk)
        {
            // The bulk load encodes COPY's binary format itself; every column must come back the same.
            await CreateWriter(_db).BulkLoadAsync(One([written]), null, default);
        }
        else
        {
            await CreateWriter(_db).WriteAsync([written], default);
        }

        await using var ctx = _db.CreateDbContext();
        var read = await ctx.Events.AsNoTracking().SingleAsync(e => e.EventId == written.EventId);
        Assert.Equal(
            (written.Tool, written.Source, written.InstallationId, written.UserId, written.OccurredAt, written.ReceivedAt, written.ClockAdjusted,
             written.EventName, written.RunKey, written.Command, written.Status, written.DurationMs, written.ToolVersion, written.OsName,
             written.OsVersion, written.RuntimeName, written.RuntimeVersion, written.Environment, written.IsCi, written.ErrorType),
            (read.Tool, read.Source, read.InstallationId, read.UserId, read.OccurredAt, read.ReceivedAt, read.ClockAdjusted,
             read.EventName, read.RunKey, read.Command, read.Status, read.DurationMs, read.ToolVersion, read.OsName,
             read.OsVersion, read.RuntimeName, read.RuntimeVersion, read.Environment, read.IsCi, read.ErrorType));
        Assert.Equal(DateTimeKind.Utc, read.OccurredAt.Kind);
        Assert.Equal(written.Plugins, read.Plugins);
        Assert.Equal(1, read.Properties!.RootElement.GetProperty("exitCode").GetInt32());

        var run = await ctx.Runs.AsNoTracking().SingleAsync(r => r.RunKey == "ctx-1");
        Assert.Equal(("meltano", RunStatus.Failed, 8123L, "RunnerError", true, "ci"), (run.Tool, run.Status, run.DurationMs!.Value, run.ErrorType, run.IsCi, run.Environment));
        Assert.Equal(written.Plugins, run.Plugins);
    }

    [Fact]
    public async Task BulkLoad_EventWithOnlyRequiredFields_NullsStayNull()
    {
        await _db.ResetAsync();
        var written = CreateEvent(command: null, toolVersion: null, osName: null, runtimeName: null, runtimeVersion: null, status: RunStatus.Unknown);

        await CreateWriter(_db).BulkLoadAsync(One([written]), null, default);

        await using var ctx = _db.CreateDbContext();
        var read = await ctx.Events.AsNoTracking().SingleAsync();
        Assert.Equal((written.EventId, (string?)null, (string?)null, (long?)null, (string?)null, (JsonDocument?)null),
            (read.EventId, read.Command, read.UserId, read.DurationMs, read.ErrorType, read.Properties));
        Assert.Empty(read.Plugins);
    }

#pragma warning disable CS1998 // an async iterator over data already in memory
    private static async IAsyncEnumerable<IReadOnlyList<TelemetryEvent>> One(IReadOnlyList<TelemetryEvent> events)
    {
        yield return events;
    }
#pragma warning restore CS1998
}
