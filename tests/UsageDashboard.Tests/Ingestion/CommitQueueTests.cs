using System.Net;
using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.Extensions.DependencyInjection;
using Npgsql;
using UsageDashboard.Ingestion;
using static UsageDashboard.Tests.Ingestion.Payloads;

namespace UsageDashboard.Tests.Ingestion;

/// <summary>
/// Holds the collector's writes: a lock on event_keys that every write's insert waits for, until released.
/// </summary>
internal sealed class BlockedWrites : IAsyncDisposable
{
    private readonly IngestionFixture _app;
    private readonly NpgsqlConnection _conn;
    private readonly NpgsqlTransaction _tx;

    private BlockedWrites(IngestionFixture app, NpgsqlConnection conn, NpgsqlTransaction tx) => (_app, _conn, _tx) = (app, conn, tx);

    public static async Task<BlockedWrites> StartAsync(IngestionFixture app)
    {
        var conn = await app.DataSource.OpenConnectionAsync();
        var tx = await conn.BeginTransactionAsync();
        await using var cmd = new NpgsqlCommand("LOCK TABLE event_keys IN SHARE MODE", conn, tx);
        await cmd.ExecuteNonQueryAsync();
        return new BlockedWrites(app, conn, tx);
    }

    /// <summary>Waits until <paramref name="writers"/> collector connections wait for the lock.</summary>
    public async Task WaitForWaitingWritersAsync(int writers)
    {
        for (var i = 0; i < 500; i++)
        {
            if (await _app.CountAsync("""
                SELECT count(*) FROM pg_stat_activity
                WHERE datname = current_database() AND wait_event_type = 'Lock' AND application_name LIKE 'UsageDashboard collector%'
                """) >= writers)
            {
                return;
            }
            await Task.Delay(20);
        }
        throw new TimeoutException($"{writers} collector writers never waited for the lock");
    }

    /// <summary>Waits until the commit queue holds <paramref name="events"/> events (waiting or being written).</summary>
    public async Task WaitForHeldEventsAsync(long events)
    {
        var queue = _app.App.Services.GetRequiredService<CommitQueue>();
        for (var i = 0; i < 500 && queue.HeldEvents < events; i++)
        {
            await Task.Delay(20);
        }
        Assert.Equal(events, queue.HeldEvents);
    }

    public async ValueTask DisposeAsync()
    {
        await _tx.RollbackAsync();
        await _conn.DisposeAsync();
    }
}

public sealed class CommitQueueTests(CommitQueueTests.Fixture app) : IClassFixture<CommitQueueTests.Fixture>
{
    public sealed class Fixture : IngestionFixture;

    [Fact]
    public async Task PostEvents_AbandonedBeforeItsCommit_NothingWritten()
    {
        var client = app.Client();
        var (first, second, abandoned, after) = (CreateNativeEvent(), CreateNativeEvent(), CreateNativeEvent(), CreateNativeEvent());
        Task<HttpResponseMessage> firstTask, secondTask;
        using var abort = new CancellationTokenSource();
        await using (var block = await BlockedWrites.StartAsync(app))
        {
            // Both writers busy, so the third request waits in the queue.
            firstTask = client.PostAsync("/api/v1/events", Json(first));
            await block.WaitForWaitingWritersAsync(1);
            secondTask = client.PostAsync("/api/v1/events", Json(second));
            await block.WaitForWaitingWritersAsync(2);
            var abandonedTask = client.PostAsync("/api/v1/events", Json(abandoned), abort.Token);
            await block.WaitForHeldEventsAsync(3);

            await abort.CancelAsync();
            await Assert.ThrowsAnyAsync<OperationCanceledException>(() => abandonedTask);
        }
        Assert.Equal(HttpStatusCode.OK, (await firstTask).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await secondTask).StatusCode);
        // Requests are taken in order: anything still queued would be written before or with this one.
        Assert.Equal(HttpStatusCode.OK, (await client.PostAsync("/api/v1/events", Json(after))).StatusCode);

        Assert.Equal(0, await CountIdAsync(abandoned));
        Assert.Equal((1L, 1L, 1L), (await CountIdAsync(first), await CountIdAsync(second), await CountIdAsync(after)));
    }

    [Fact]
    public async Task WriteGroup_OneRequestsDataRejectedByDatabase_OnlyThatRequestFails()
    {
        await AddPoisonConstraintAsync();
        var queue = app.App.Services.GetRequiredService<CommitQueue>();
        var (good1, poison, good2) = (CreateNativeEvent(), CreateNativeEvent(command: "poison"), CreateNativeEvent());
        var group = new List<CommitQueue.Pending> { Pending(good1), Pending(poison), Pending(good2) };

        await queue.WriteGroupAsync(group, default);

        var outcomes = await Task.WhenAll(group.Select(p => p.Done.Task));
        Assert.Equal(1, outcomes[0].Result?.Accepted);
        Assert.Equal((422, "rejected_by_database"), (outcomes[1].StatusCode, outcomes[1].Refusal?.Error));
        Assert.Equal(1, outcomes[2].Result?.Accepted);
        Assert.Equal((1L, 0L, 1L), (await CountIdAsync(good1), await CountIdAsync(poison), await CountIdAsync(good2)));
    }

    [Fact]
    public async Task PostEvents_DataRejectedByDatabase_422NotA5xx()
    {
        await AddPoisonConstraintAsync();

        var response = await app.Client().PostAsync("/api/v1/events", Json(CreateNativeEvent(command: "poison")));

        Assert.Equal(HttpStatusCode.UnprocessableEntity, response.StatusCode);
        Assert.Equal("rejected_by_database", (await response.ReadJsonAsync()).GetProperty("error").GetString());
    }

    /// <summary>A value the database refuses, standing in for any data-dependent failure of a write.</summary>
    private async Task AddPoisonConstraintAsync()
    {
        await using var cmd = app.DataSource.CreateCommand("""
            DO $$ BEGIN
              IF NOT EXISTS (SELECT 1 FROM pg_constraint WHERE conname = 'test_poison') THEN
                ALTER TABLE events ADD CONSTRAINT test_poison CHECK (command IS DISTINCT FROM 'poison');
              END IF;
            END $$
            """);
        await cmd.ExecuteNonQueryAsync();
    }

    private CommitQueue.Pending Pending(JsonObject e)
    {
        var collector = app.App.Services.GetRequiredService<Collector>();
        using var doc = JsonDocument.Parse(e.ToJsonString());
        return new CommitQueue.Pending(IngestionApi.MapNative(collector, [doc.RootElement.Clone()], ["mytool"]));
    }

    private Task<long> CountIdAsync(JsonObject e) => app.CountAsync("SELECT count(*) FROM events WHERE event_id = $1", Guid.Parse((string)e["eventId"]!));
}

public sealed class CommitQueueBoundsTests(CommitQueueBoundsTests.Fixture app) : IClassFixture<CommitQueueBoundsTests.Fixture>
{
    public sealed class Fixture : IngestionFixture
    {
        protected override IReadOnlyDictionary<string, string?> Settings => new Dictionary<string, string?> { ["Ingestion:Queue:MaxEvents"] = "2" };
    }

    [Fact]
    public async Task PostEvents_QueueFullWhileDatabaseBlocked_503RetryAfterThenEveryAcknowledgedEventStoredOnce()
    {
        var client = app.Client();
        var (first, second, refused) = (CreateNativeEvent(), CreateNativeEvent(), CreateNativeEvent());
        Task<HttpResponseMessage> firstTask, secondTask;
        HttpResponseMessage full;
        await using (var block = await BlockedWrites.StartAsync(app))
        {
            firstTask = client.PostAsync("/api/v1/events", Json(first));
            await block.WaitForWaitingWritersAsync(1);
            secondTask = client.PostAsync("/api/v1/events", Json(second));
            await block.WaitForWaitingWritersAsync(2);

            // Bounded, so that a queue that takes it anyway fails the test instead of waiting for the lock.
            full = await client.PostAsync("/api/v1/events", Json(refused)).WaitAsync(TimeSpan.FromSeconds(10));
        }
        var acknowledged = await Task.WhenAll(firstTask, secondTask);
        var retried = await client.PostAsync("/api/v1/events", Json(refused));

        Assert.Equal(HttpStatusCode.ServiceUnavailable, full.StatusCode);
        Assert.Equal("1", full.Headers.GetValues("Retry-After").Single());
        Assert.Equal("queue_full", (await full.ReadJsonAsync()).GetProperty("error").GetString());
        Assert.All(acknowledged, r => Assert.Equal(HttpStatusCode.OK, r.StatusCode));
        Assert.Equal(HttpStatusCode.OK, retried.StatusCode);
        Assert.Equal(3, await app.CountAsync("SELECT count(*) FROM events"));
        Assert.Equal(3, await app.CountAsync("SELECT count(DISTINCT event_id) FROM events"));
    }
}

public sealed class CommitQueueDeadlineTests(CommitQueueDeadlineTests.Fixture app) : IClassFixture<CommitQueueDeadlineTests.Fixture>
{
    public sealed class Fixture : IngestionFixture
    {
        protected override IReadOnlyDictionary<string, string?> Settings => new Dictionary<string, string?>
        {
            ["Ingestion:Queue:Deadline"] = "00:00:01",
            ["Ingestion:Queue:MaxEvents"] = "3",
        };
    }

    [Fact]
    public async Task PostEvents_DatabaseSlowPastDeadline_503DatabaseSlowAndNotWritten()
    {
        var client = app.Client();
        var (first, second, late, after) = (CreateNativeEvent(), CreateNativeEvent(), CreateNativeEvent(), CreateNativeEvent());
        Task<HttpResponseMessage> firstTask, secondTask;
        HttpResponseMessage slow, full;
        await using (var block = await BlockedWrites.StartAsync(app))
        {
            firstTask = client.PostAsync("/api/v1/events", Json(first));
            await block.WaitForWaitingWritersAsync(1);
            secondTask = client.PostAsync("/api/v1/events", Json(second));
            await block.WaitForWaitingWritersAsync(2);

            slow = await client.PostAsync("/api/v1/events", Json(late)).WaitAsync(TimeSpan.FromSeconds(10));
            // The refused request's batch still sits in the queue until a writer passes it, so it still counts:
            // with the database stuck, the queue cannot grow by refusing and admitting again.
            full = await client.PostAsync("/api/v1/events", Json(after)).WaitAsync(TimeSpan.FromSeconds(10));
        }
        await Task.WhenAll(firstTask, secondTask);
        var afterResponse = await client.PostAsync("/api/v1/events", Json(after));

        Assert.Equal(HttpStatusCode.ServiceUnavailable, slow.StatusCode);
        Assert.Equal("1", slow.Headers.GetValues("Retry-After").Single());
        Assert.Equal("database_slow", (await slow.ReadJsonAsync()).GetProperty("error").GetString());
        Assert.Equal("queue_full", (await full.ReadJsonAsync()).GetProperty("error").GetString());
        // Taken by a writer before the deadline passed, these were written once the database came back.
        Assert.Equal(HttpStatusCode.OK, (await firstTask).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await secondTask).StatusCode);
        Assert.Equal(HttpStatusCode.OK, afterResponse.StatusCode);
        Assert.Equal(0, await app.CountAsync("SELECT count(*) FROM events WHERE event_id = $1", Guid.Parse((string)late["eventId"]!)));
        Assert.Equal(3, await app.CountAsync("SELECT count(*) FROM events"));
    }
}
