using System.Net;
using System.Text.Json.Nodes;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Options;
using UsageDashboard.Ingestion;
using UsageDashboard.Store;
using static UsageDashboard.Tests.Ingestion.Payloads;

namespace UsageDashboard.Tests.Ingestion;

/// <summary>Event time bounded at the door, and a quarantine that counts everything but keeps only samples.</summary>
public sealed class QuarantineBoundsTests : IClassFixture<QuarantineBoundsTests.Fixture>, IAsyncLifetime
{
    public sealed class Fixture : IngestionFixture
    {
        protected override IReadOnlyDictionary<string, string?> Settings => new Dictionary<string, string?>
        {
            ["Retention:RawEventsDays"] = "400",
            ["Ingestion:QuarantineSamplesPerDay"] = "3",
        };
    }

    private readonly Fixture _app;

    public QuarantineBoundsTests(Fixture app) => _app = app;

    public Task InitializeAsync() => _app.ResetAsync();

    public Task DisposeAsync() => Task.CompletedTask;

    private static JsonObject UnknownAppEvent()
    {
        var e = DbtEvent("invocation", "start", IngestionFixture.Now.AddMinutes(-1), Contexts(DbtInvocation(Guid.NewGuid().ToString(), "start")));
        e["aid"] = "someone-elses-app-" + Guid.NewGuid();
        return e;
    }

    [Fact]
    public async Task PostEvents_Dated1990AndYearOne_RejectedTimestampTooOldNothingStored()
    {
        var batch = new JsonArray(
            CreateNativeEvent(timestamp: new DateTimeOffset(1990, 1, 1, 0, 0, 0, TimeSpan.Zero)),
            CreateNativeEvent(timestamp: new DateTimeOffset(1, 1, 1, 0, 0, 0, TimeSpan.Zero)));

        var response = await _app.Client().PostAsync("/api/v1/events", Json(batch));

        Assert.Equal(HttpStatusCode.UnprocessableEntity, response.StatusCode);
        var rejected = (await response.ReadJsonAsync()).GetProperty("rejected").EnumerateArray().Select(r => r.GetProperty("reason").GetString()).ToList();
        Assert.Equal(["timestamp_too_old", "timestamp_too_old"], rejected);
        Assert.Equal(0, await _app.CountAsync("SELECT count(*) FROM events"));
        Assert.Equal(2, await _app.CountAsync("SELECT count FROM quarantine_counts WHERE reason = 'timestamp_too_old' AND tool = 'mytool'"));
    }

    [Fact]
    public async Task PostEvents_TwoDaysAheadAndTwoHoursAhead_FirstRejectedSecondClockAdjusted()
    {
        var batch = new JsonArray(
            CreateNativeEvent(timestamp: IngestionFixture.Now.AddDays(2)),
            CreateNativeEvent(timestamp: IngestionFixture.Now.AddHours(2)));

        var response = await _app.Client().PostAsync("/api/v1/events", Json(batch));

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var body = await response.ReadJsonAsync();
        Assert.Equal(1, body.GetProperty("accepted").GetInt32());
        var rejected = Assert.Single(body.GetProperty("rejected").EnumerateArray());
        Assert.Equal((0, "timestamp_in_future"), (rejected.GetProperty("index").GetInt32(), rejected.GetProperty("reason").GetString()));
        var stored = Assert.Single(await _app.RowsAsync("SELECT occurred_at, clock_adjusted FROM events"));
        Assert.Equal(IngestionFixture.Now.UtcDateTime, stored["occurred_at"]);
        Assert.Equal(true, stored["clock_adjusted"]);
    }

    [Fact]
    public async Task Import_LineDated1990AndLineWithNul_RejectedWithReasonsOthersStored()
    {
        var folder = Directory.CreateTempSubdirectory("ud-import-bounds-").FullName;
        try
        {
            var path = Path.Combine(folder, "history.ndjson");
            File.WriteAllLines(path,
            [
                CreateNativeEvent(tool: "mytool", timestamp: IngestionFixture.Now.AddDays(-30)).ToJsonString(),
                CreateNativeEvent(tool: "mytool", timestamp: new DateTimeOffset(1990, 1, 1, 0, 0, 0, TimeSpan.Zero)).ToJsonString(),
                CreateNativeEvent(tool: "mytool", installationId: "inst\u0000").ToJsonString(),
            ]);
            var rejects = Path.Combine(folder, "rejects.ndjson");

            var result = await _app.App.Services.GetRequiredService<EventImporter>().ImportAsync(path, null, WireFormats.Auto, rejects, null, default);

            Assert.Equal((1L, 2L), (result.Accepted, result.Rejected));
            var reasons = File.ReadAllLines(rejects).Select(l => System.Text.Json.JsonDocument.Parse(l).RootElement.GetProperty("reason").GetString()).Order().ToList();
            Assert.Equal(["invalid_text", "timestamp_too_old"], reasons);
            Assert.Equal(1, await _app.CountAsync("SELECT count(*) FROM events"));
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }

    [Fact]
    public async Task PostSnowplow_EpochDtm_RejectedTimestampTooOld()
    {
        var e = DbtEvent("invocation", "start", IngestionFixture.Now, Contexts(DbtInvocation(Guid.NewGuid().ToString(), "start")));
        e["dtm"] = "0";
        e["stm"] = "0";

        var response = await _app.Client(null).PostAsync("/com.snowplowanalytics.snowplow/tp2", Json(PayloadData(e)));

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal(0, await _app.CountAsync("SELECT count(*) FROM events"));
        Assert.Equal(1, await _app.CountAsync("SELECT count FROM quarantine_counts WHERE reason = 'timestamp_too_old' AND tool = 'dbt'"));
    }

    [Fact]
    public async Task PostSnowplow_UnknownAppIdsInTwoRequests_CountsAllKeepsCappedSamples()
    {
        var client = _app.Client(null);

        var first = await client.PostAsync("/com.snowplowanalytics.snowplow/tp2", Json(PayloadData([.. Enumerable.Range(0, 5).Select(_ => UnknownAppEvent())])));
        var second = await client.PostAsync("/com.snowplowanalytics.snowplow/tp2", Json(PayloadData([.. Enumerable.Range(0, 5).Select(_ => UnknownAppEvent())])));

        Assert.Equal(HttpStatusCode.OK, first.StatusCode);
        Assert.Equal(HttpStatusCode.OK, second.StatusCode);
        var counter = Assert.Single(await _app.RowsAsync("SELECT day, tool, reason, count FROM quarantine_counts"));
        Assert.Equal(("", "unknown_app_id", 10L), ((string)counter["tool"]!, (string)counter["reason"]!, (long)counter["count"]!));
        Assert.Equal(DateOnly.FromDateTime(IngestionFixture.Now.UtcDateTime), counter["day"]);
        Assert.Equal(3, await _app.CountAsync("SELECT count(*) FROM quarantine WHERE reason = 'unknown_app_id'"));
        // The app ids a client makes up live only in the samples, never in the counters' key.
        Assert.Equal(0, await _app.CountAsync("SELECT count(*) FROM quarantine_counts WHERE tool LIKE 'someone%'"));
    }

    [Fact]
    public async Task PruneAsync_OldSamplesAndCounters_DeletedRecentKept()
    {
        var now = IngestionFixture.Now.UtcDateTime;
        await _app.CountAsync("""
            WITH q AS (INSERT INTO quarantine (received_at, tool, source, endpoint, reason, payload, payload_truncated, payload_bytes)
                       VALUES ($1, 'dbt', 'snowplow', '/i', 'invalid_field', '{}', false, 2), ($2, 'dbt', 'snowplow', '/i', 'invalid_field', '{}', false, 2)),
                 c AS (INSERT INTO quarantine_counts (day, tool, reason, count) VALUES ($3, 'dbt', 'invalid_field', 7), ($4, 'dbt', 'invalid_field', 1))
            SELECT 0
            """, now.AddDays(-31), now.AddDays(-1), DateOnly.FromDateTime(now.AddDays(-401)), DateOnly.FromDateTime(now.AddDays(-1)));

        var result = await _app.App.Services.GetRequiredService<QuarantineStore>().PruneAsync(CancellationToken.None);

        Assert.Equal(new QuarantinePruneResult(1, 1), result);
        Assert.Equal(1, await _app.CountAsync("SELECT count(*) FROM quarantine WHERE received_at > $1", now.AddDays(-2)));
        Assert.Equal(1, await _app.CountAsync("SELECT count(*) FROM quarantine_counts WHERE count = 1"));
        Assert.Equal(2, await _app.CountAsync("SELECT count(*) FROM quarantine") + await _app.CountAsync("SELECT count(*) FROM quarantine_counts"));
    }

    [Fact]
    public async Task AdminQuarantinePage_AfterRejections_ShowsCountersPerToolAndReason()
    {
        await _app.Client(null).PostAsync("/com.snowplowanalytics.snowplow/tp2", Json(PayloadData([.. Enumerable.Range(0, 4).Select(_ => UnknownAppEvent())])));
        var tooOld = CreateNativeEvent(timestamp: new DateTimeOffset(1990, 1, 1, 0, 0, 0, TimeSpan.Zero));
        await _app.Client().PostAsync("/api/v1/events", Json(tooOld));
        var admin = await _app.App.CreateClientAsAsync("admin");

        var html = await admin.GetStringAsync("/admin/quarantine");

        Assert.Contains("data-table=\"quarantine\"", html);
        // Each body row as its cells' text: tool, reason, today, last 7 days, samples kept.
        var doc = await AngleSharp.BrowsingContextExtensions.OpenAsync(AngleSharp.BrowsingContext.New(AngleSharp.Configuration.Default), r => r.Content(html));
        var rows = doc.QuerySelectorAll("[data-table=quarantine] tbody tr")
            .Select(tr => string.Join(' ', tr.QuerySelectorAll("td").Select(td => td.TextContent.Trim())))
            .Where(r => r.Length > 0).ToList();
        Assert.Contains("(unknown) unknown_app_id 4 4 3", rows);
        Assert.Contains("mytool timestamp_too_old 1 1 1", rows);
    }
}

/// <summary>Retention:RawEventsDays is checked when the app starts.</summary>
public sealed class RetentionSettingTests
{
    [Fact]
    public void StartupValidation_RawEventsDays10_FailsNamingTheSetting()
    {
        // The registration the app makes; the host runs IStartupValidator before it serves (ValidateOnStart), so this is
        // the check a start performs, without a whole app start racing other tests' hosts.
        var configuration = new ConfigurationBuilder()
            .AddInMemoryCollection(new Dictionary<string, string?> { ["Retention:RawEventsDays"] = "10" }).Build();
        using var services = new ServiceCollection().AddEventPartitions(configuration).BuildServiceProvider();

        var error = Assert.Throws<OptionsValidationException>(
            () => services.GetRequiredService<IStartupValidator>().Validate());

        Assert.Contains("Retention:RawEventsDays must be at least 30", error.Message, StringComparison.Ordinal);
    }
}
