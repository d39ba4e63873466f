using System.Diagnostics;
using System.Globalization;
using System.Net.Http.Headers;
using System.Text;
using static UsageDashboard.LoadGen.BodyMutations;

/// <summary>
/// One client sending malformed and hostile bodies to every collector endpoint in turn (native, Jitsu,
/// Snowplow POST and GET), each as soon as the previous one is answered, with the mutations the test
/// suite's fuzzers use (<see cref="UsageDashboard.LoadGen.BodyMutations"/>), for tests/bench/hostile.sh.
/// </summary>
internal static class HostileTraffic
{
    public static async Task<int> RunAsync(string url, int seconds, int seed)
    {
        var random = new Random(seed);
        var generator = new EventGenerator(seed);
        var now = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds().ToString(CultureInfo.InvariantCulture);
        var contexts = Convert.ToBase64String(Encoding.UTF8.GetBytes("""{"schema":"iglu:com.snowplowanalytics.snowplow/contexts/jsonschema/1-0-1","data":[{"schema":"iglu:com.dbt/invocation/jsonschema/1-0-2","data":{"invocation_id":"f","progress":"start","command":"run","version":"1.10.0"}}]}"""));
        string Snowplow() => $$"""{"schema":"iglu:com.snowplowanalytics.snowplow/payload_data/jsonschema/1-0-4","data":[{"e":"se","aid":"dbt","eid":"{{Guid.NewGuid()}}","dtm":"{{now}}","se_ca":"invocation","se_ac":"start","cx":"{{contexts}}","uid":"u-1","p":"srv","tv":"py-1.0.0"}]}""";
        string Jitsu() => $$"""{"event_type":"startup","eventn_ctx_event_id":"{{Guid.NewGuid()}}","user":{"anonymous_id":"a-1"},"utc_time":"{{DateTime.UtcNow:O}}","evidently_version":"0.4.9"}""";
        using var native = Client(url, "dev-dbt-write-key");
        using var open = Client(url, null);
        var statuses = new SortedDictionary<int, int>();
        var slowest = 0.0;
        var count = 0;
        var end = Stopwatch.GetTimestamp() + seconds * Stopwatch.Frequency;
        var start = Stopwatch.GetTimestamp();
        while (Stopwatch.GetTimestamp() < end)
        {
            using var request = (count % 4) switch
            {
                0 => Post("/api/v1/events", Mutate(random, random.Next(3) == 0 ? "[" + generator.Single() + "," + generator.Single() + "]" : generator.Single())),
                1 => Post("/api/v1/s2s/event?token=dev-evidently-write-key", Mutate(random, Jitsu())),
                2 => Post("/com.snowplowanalytics.snowplow/tp2", Mutate(random, Snowplow())),
                _ => new HttpRequestMessage(HttpMethod.Get, "/i?" + Query(random, now, contexts)),
            };
            var t0 = Stopwatch.GetTimestamp();
            using var response = await (count % 4 == 0 ? native : open).SendAsync(request);
            await response.Content.ReadAsByteArrayAsync();
            slowest = Math.Max(slowest, Stopwatch.GetElapsedTime(t0).TotalMilliseconds);
            statuses[(int)response.StatusCode] = statuses.GetValueOrDefault((int)response.StatusCode) + 1;
            count++;
        }
        var elapsed = Stopwatch.GetElapsedTime(start).TotalSeconds;
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"hostile: {count} bodies in {elapsed:F1} s ({count / elapsed:F0}/s), slowest {slowest:F0} ms; statuses {string.Join(", ", statuses.Select(s => $"{s.Key}: {s.Value}"))}"));
        return statuses.Keys.Any(s => s >= 500) ? 1 : 0;
    }

    private static HttpClient Client(string url, string? key)
    {
        var client = new HttpClient(new SocketsHttpHandler { MaxConnectionsPerServer = 1 }) { BaseAddress = new Uri(url), Timeout = TimeSpan.FromSeconds(60) };
        if (key is not null)
        {
            client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", key);
        }
        return client;
    }

    private static HttpRequestMessage Post(string path, byte[] body)
    {
        var request = new HttpRequestMessage(HttpMethod.Post, path) { Content = new ByteArrayContent(body) };
        request.Content.Headers.ContentType = new MediaTypeHeaderValue("application/json");
        return request;
    }

    private static string Query(Random random, string now, string contexts)
    {
        var fields = new[] { ("e", "se"), ("aid", "dbt"), ("eid", Guid.NewGuid().ToString()), ("dtm", now), ("se_ca", "invocation"), ("se_ac", "start"), ("cx", contexts), ("tv", "py-1.0.0") };
        return string.Join('&', fields.Select(f => f.Item1 + "=" + (random.Next(4) switch
        {
            0 => string.Concat(Enumerable.Range(0, random.Next(1, 40)).Select(_ => "%" + random.Next(256).ToString("X2", CultureInfo.InvariantCulture))),
            1 => Uri.EscapeDataString(f.Item2[..random.Next(f.Item2.Length + 1)]),
            _ => Uri.EscapeDataString(f.Item2),
        })));
    }
}
