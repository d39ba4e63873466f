using System.Diagnostics;
using System.Globalization;
using System.Net.Http.Headers;
using System.Text;
using System.Text.RegularExpressions;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using UsageDashboard.Hosting;
using UsageDashboard.Store;

namespace UsageDashboard.Ingestion;

/// <summary>
/// Runs the collector's write path on made-up events at start-up, in transactions that are rolled back,
/// then its HTTP side on empty requests (<see cref="WarmHttpAsync"/>), so the first real requests find it
/// compiled, its statements prepared on the collector's connections and the server's caches of the event
/// tables filled. Without it the first seconds after a start missed
/// the single-event target by far (p99 0.6 s in the first second and 60 ms in the next four at 300
/// requests/s, against 13-19 ms later; docs/benchmarks.md). <c>/readyz</c> waits for it.
/// </summary>
/// <remarks>
/// Each round takes every path a request can: a single event that starts a run and one that ends it (the
/// prepared small write, a new run and then a stored one), a 100-event batch (the staged write), and a
/// Snowplow POST of dbt's start and end events (the tracker protocol's mapper). The events go through the
/// same parsing and mapping as the endpoints' bodies; only the commit is replaced by a rollback, so no
/// row, id or rollup mark of theirs outlives the round.
/// </remarks>
public sealed partial class IngestionWarmUp(Collector collector, StartupReadiness readiness, IServer server, IHostApplicationLifetime lifetime,
    ILogger<IngestionWarmUp> logger) : BackgroundService
{
    internal const string StartupWork = "ingestion warm-up";

    private int _roundsDone;

    /// <summary>Rounds completed so far (for the tests).</summary>
    internal int RoundsDone => _roundsDone;

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var rounds = collector.Options.WarmUpRounds;
        var tool = collector.Tools.Tools.Order(StringComparer.Ordinal).FirstOrDefault();
        var watch = Stopwatch.StartNew();
        try
        {
            if (rounds <= 0 || tool is null)
            {
                return;
            }
            // One loop per collector writer, so each of its connections gets warmed.
            await Task.WhenAll(Enumerable.Range(0, CommitQueue.Writers).Select(async loop =>
            {
                for (var round = 0; round < rounds; round++)
                {
                    // Small and large writes in separate transactions, as they use separate pools.
                    foreach (var part in Round(tool, loop * rounds + round).GroupBy(b => b.Events.Count <= EventWriter.PreparedWriteMaxEvents))
                    {
                        await collector.WriteRolledBackAsync([.. part], stoppingToken);
                    }
                    Interlocked.Increment(ref _roundsDone);
                }
            }));
            var requests = await WarmHttpAsync(rounds, stoppingToken);
            logger.LogInformation("Ingestion warm-up: {Rounds} rounds of rolled-back writes and {Requests} empty requests in {Elapsed} ms",
                _roundsDone, requests, (long)watch.Elapsed.TotalMilliseconds);
        }
        catch (Exception e) when (e is not OperationCanceledException || !stoppingToken.IsCancellationRequested)
        {
            // The database may be down at start; requests then meet the outage on their own, and nothing waits for this.
            logger.LogWarning(e, "Ingestion warm-up stopped after {Rounds} rounds", _roundsDone);
        }
        finally
        {
            readiness.Finished(StartupWork);
        }
    }

    /// <summary>
    /// Sends the native endpoint empty batches (<c>[]</c>, which write nothing) over the app's own HTTP
    /// listener, so Kestrel, routing, the rate limiter, the key check and the response path are compiled
    /// too: with only the writes warmed, the first run after a start still had its p99 at 30-44 ms in
    /// seconds 1-5 against 9-19 ms later (docs/benchmarks.md). Skipped without a configured write key or
    /// a plain-HTTP address (behind TLS only, or under the tests' in-memory server).
    /// </summary>
    private async Task<int> WarmHttpAsync(int rounds, CancellationToken ct)
    {
        var key = collector.Tools.FirstWriteKey();
        if (key is null)
        {
            return 0;
        }
        // Kestrel binds its addresses once every hosted service has started.
        var started = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        using (lifetime.ApplicationStarted.Register(() => started.TrySetResult()))
        using (ct.Register(() => started.TrySetCanceled(ct)))
        {
            await started.Task;
        }
        var address = server.Features.Get<IServerAddressesFeature>()?.Addresses.FirstOrDefault(a => a.StartsWith("http://", StringComparison.Ordinal));
        if (address is null)
        {
            return 0;
        }
        using var client = new HttpClient { BaseAddress = LoopbackFor(address), Timeout = TimeSpan.FromSeconds(10) };
        client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", key);
        var sent = 0;
        await Task.WhenAll(Enumerable.Range(0, CommitQueue.Writers).Select(async _ =>
        {
            for (var i = 0; i < rounds; i++)
            {
                using var content = new StringContent("[]", Encoding.UTF8, "application/json");
                using var response = await client.PostAsync("/api/v1/events", content, ct);
                response.EnsureSuccessStatusCode();
                Interlocked.Increment(ref sent);
            }
        }));
        return sent;
    }

    /// <summary>Where the app itself reaches a listen address: a wildcard host (<c>+</c>, <c>*</c>, <c>0.0.0.0</c>, <c>[::]</c>) becomes 127.0.0.1.</summary>
    internal static Uri LoopbackFor(string address) => new(WildcardHost().Replace(address, "http://127.0.0.1"));

    [GeneratedRegex(@"^http://(\+|\*|0\.0\.0\.0|\[::\])(?=[:/]|$)")]
    private static partial Regex WildcardHost();

    internal List<Collector.Batch> Round(string tool, int round)
    {
        // The collector's clock, not the machine's: events dated outside its window would be rejected
        // and the warm-up would skip the write path it is for.
        var at = collector.CreateContext([]).ReceivedAt.AddMinutes(-1);
        var run = Guid.NewGuid().ToString();
        var installation = "warm-up-" + round.ToString(CultureInfo.InvariantCulture);
        var batch = new StringBuilder("[");
        for (var i = 0; i < 100; i++)
        {
            batch.Append(i == 0 ? "" : ",").Append(NativeEvent(tool, i % 2 == 0 ? "started" : "succeeded", $"{run}-{i / 2}", installation, at));
        }
        batch.Append(']');
        var snowplowRun = Guid.NewGuid().ToString();
        return
        [
            Native(NativeEvent(tool, "started", run, installation, at)),
            Native(NativeEvent(tool, "succeeded", run, installation, at.AddSeconds(3))),
            Native(batch.ToString()),
            Snowplow(SnowplowBody(snowplowRun, at)),
        ];
    }

    private Collector.Batch Native(string body)
    {
        using var parsed = RequestBody.Parse(Encoding.UTF8.GetBytes(body), ndjson: false, collector.Options.MaxEventsPerRequest, WireFormats.UnwrapNative);
        return IngestionApi.MapNative(collector, parsed.Items, [.. collector.Tools.Tools]);
    }

    private Collector.Batch Snowplow(string body)
    {
        using var parsed = RequestBody.Parse(Encoding.UTF8.GetBytes(body), ndjson: false, collector.Options.MaxEventsPerRequest, WireFormats.UnwrapSnowplow);
        return IngestionApi.MapSnowplow(collector, parsed.Items);
    }

    private static string NativeEvent(string tool, string status, string run, string installation, DateTime at) => string.Create(CultureInfo.InvariantCulture,
        $$"""{"eventId":"{{Guid.NewGuid()}}","tool":"{{tool}}","installationId":"{{installation}}","runId":"{{run}}","command":"run","status":"{{status}}","timestamp":"{{at:O}}","durationMs":{{(status == "started" ? "null" : "3000")}},"toolVersion":"1.0.0","os":{"name":"linux","version":"6.8"},"runtime":{"name":"python","version":"3.12.4"},"environment":"manual","plugins":[{"name":"warm-up","type":"adapter","version":"1.0.0"}]}""");

    /// <summary>dbt's invocation start and end as the Python tracker POSTs them (contexts base64url-encoded).</summary>
    private static string SnowplowBody(string invocation, DateTime at)
    {
        string Event(string progress, string? result, DateTime time)
        {
            var contexts = $$$"""{"schema":"iglu:com.snowplowanalytics.snowplow/contexts/jsonschema/1-0-1","data":[{"schema":"iglu:com.dbt/invocation/jsonschema/1-0-2","data":{"progress":"{{{progress}}}","result_type":{{{(result is null ? "null" : $"\"{result}\"")}}},"user_id":"{{{Guid.Empty}}}","invocation_id":"{{{invocation}}}","command":"run","version":"1.11.2","run_type":"regular"}},{"schema":"iglu:com.dbt/platform/jsonschema/1-0-0","data":{"platform":"Linux-6.8.0-x86_64-with-glibc2.39","python":"3.11.9","python_version":"CPython"}}]}""";
            var cx = Convert.ToBase64String(Encoding.UTF8.GetBytes(contexts)).TrimEnd('=').Replace('+', '-').Replace('/', '_');
            var ms = new DateTimeOffset(time).ToUnixTimeMilliseconds().ToString(CultureInfo.InvariantCulture);
            return $$"""{"e":"se","se_ca":"dbt","se_ac":"invocation","se_la":"{{progress}}","cx":"{{cx}}","eid":"{{Guid.NewGuid()}}","dtm":"{{ms}}","stm":"{{ms}}","tv":"py-1.1.0","aid":"dbt","p":"pc","uid":"{{Guid.Empty}}"}""";
        }
        return $$"""{"schema":"iglu:com.snowplowanalytics.snowplow/payload_data/jsonschema/1-0-4","data":[{{Event("start", null, at)}},{{Event("end", "ok", at.AddSeconds(5))}}]}""";
    }
}
