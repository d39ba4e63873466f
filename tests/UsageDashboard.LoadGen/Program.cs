using System.Diagnostics;
using System.Globalization;
using System.Net.Http.Headers;
using System.Text;

// Load generator for the collector benchmarks in docs/benchmarks.md. No dependencies beyond the BCL.
//   batch  <url> <key> <events> [batchSize=500] [concurrency=4] [spread=30d]
//                                                                  HTTP batch ingest, events/s; runs start over the
//                                                                  last `spread` (30d: a backfill's spread, 1h: live)
//   single <url> <key> <rps> <seconds>                             open-loop single-event requests, latency percentiles
//   file   <path> <events> [tool=dbt]                              NDJSON for `import`
//   hostile <url> <seconds> [seed=20261207]                        malformed bodies of every wire format from one client
//                                                                  as fast as answered: bodies/s, statuses, slowest
var mode = args.Length > 0 ? args[0] : "help";
var inv = CultureInfo.InvariantCulture;
switch (mode)
{
    case "batch":
        return await BatchAsync(args[1], args[2], int.Parse(args[3], inv), args.Length > 4 ? int.Parse(args[4], inv) : 500, args.Length > 5 ? int.Parse(args[5], inv) : 4,
            ParseSpread(args.Length > 6 ? args[6] : "30d"));
    case "single":
        return await SingleAsync(args[1], args[2], int.Parse(args[3], inv), int.Parse(args[4], inv));
    case "hostile":
        return await HostileTraffic.RunAsync(args[1], int.Parse(args[2], inv), args.Length > 3 ? int.Parse(args[3], inv) : 20261207);
    case "file":
        return WriteFile(args[1], int.Parse(args[2], inv), args.Length > 3 ? args[3] : "dbt");
    default:
        Console.Error.WriteLine("usage: batch <url> <key> <events> [batch] [concurrency] | single <url> <key> <rps> <seconds> | file <path> <events> [tool] | hostile <url> <seconds> [seed]");
        return 2;
}

// "30d", "1h", "15m": how far back from now the generated runs start.
static TimeSpan ParseSpread(string text)
{
    var value = int.Parse(text[..^1], CultureInfo.InvariantCulture);
    return text[^1] switch
    {
        'd' => TimeSpan.FromDays(value),
        'h' => TimeSpan.FromHours(value),
        'm' => TimeSpan.FromMinutes(value),
        _ => throw new ArgumentException($"spread '{text}': a number followed by d, h or m"),
    };
}

static int WriteFile(string path, int events, string tool)
{
    var generator = new EventGenerator(seed: 7);
    using var writer = new StreamWriter(path, false, new UTF8Encoding(false), 1 << 20);
    for (var i = 0; i < events; i += 2)
    {
        foreach (var e in generator.Run(tool))
        {
            writer.WriteLine(e);
        }
    }
    Console.WriteLine($"wrote {events} events to {path}");
    return 0;
}

static async Task<int> BatchAsync(string url, string key, int events, int batchSize, int concurrency, TimeSpan spread)
{
    var generator = new EventGenerator(seed: Environment.TickCount, spread);
    var bodies = new List<byte[]>();
    for (var sent = 0; sent < events; sent += batchSize)
    {
        var sb = new StringBuilder("[");
        for (var i = 0; i < batchSize; i += 2)
        {
            foreach (var e in generator.Run(null))
            {
                sb.Append(e).Append(',');
            }
        }
        sb[^1] = ']';
        bodies.Add(Encoding.UTF8.GetBytes(sb.ToString()));
    }
    using var client = CreateClient(url, key, concurrency);
    var next = -1;
    var failures = 0;
    var stopwatch = Stopwatch.StartNew();
    await Task.WhenAll(Enumerable.Range(0, concurrency).Select(async _ =>
    {
        int i;
        while ((i = Interlocked.Increment(ref next)) < bodies.Count)
        {
            using var content = new ByteArrayContent(bodies[i]);
            content.Headers.ContentType = new MediaTypeHeaderValue("application/json");
            using var response = await client.PostAsync("/api/v1/events", content);
            if (!response.IsSuccessStatusCode)
            {
                Interlocked.Increment(ref failures);
            }
        }
    }));
    var seconds = stopwatch.Elapsed.TotalSeconds;
    var total = bodies.Count * batchSize;
    Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
        $"batch: {total} events in {bodies.Count} requests of {batchSize}, concurrency {concurrency}: {seconds:F2} s, {total / seconds:F0} events/s, {failures} failed requests"));
    return failures == 0 ? 0 : 1;
}

static async Task<int> SingleAsync(string url, string key, int rps, int seconds)
{
    var generator = new EventGenerator(seed: Environment.TickCount);
    var count = rps * seconds;
    var bodies = Enumerable.Range(0, count).Select(_ => Encoding.UTF8.GetBytes(generator.Single())).ToArray();
    using var client = CreateClient(url, key, 256);
    var latencies = new double[count];
    var failures = 0;
    var start = Stopwatch.GetTimestamp();
    var tasks = new List<Task>(count);
    for (var i = 0; i < count; i++)
    {
        // Open loop: request i leaves at i/rps seconds whatever the earlier ones are doing.
        var due = start + (long)(i * (double)Stopwatch.Frequency / rps);
        var wait = Stopwatch.GetElapsedTime(Stopwatch.GetTimestamp(), due);
        if (wait > TimeSpan.FromMilliseconds(1))
        {
            await Task.Delay(wait);
        }
        var index = i;
        tasks.Add(Task.Run(async () =>
        {
            var t0 = Stopwatch.GetTimestamp();
            using var content = new ByteArrayContent(bodies[index]);
            content.Headers.ContentType = new MediaTypeHeaderValue("application/json");
            using var response = await client.PostAsync("/api/v1/events", content);
            await response.Content.ReadAsByteArrayAsync();
            latencies[index] = Stopwatch.GetElapsedTime(t0).TotalMilliseconds;
            if (!response.IsSuccessStatusCode)
            {
                Interlocked.Increment(ref failures);
            }
        }));
    }
    await Task.WhenAll(tasks);
    var elapsed = Stopwatch.GetElapsedTime(start).TotalSeconds;
    // The first second warms the connection pool and JIT; it is reported but not in the percentiles.
    var measured = latencies.Skip(rps).Order().ToArray();
    double P(double q) => measured[Math.Min(measured.Length - 1, (int)Math.Ceiling(q * measured.Length) - 1)];
    Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
        $"single: {count} requests at {rps}/s target ({count / elapsed:F0}/s achieved) over {elapsed:F1} s; after 1 s warm-up: p50 {P(0.50):F1} ms, p95 {P(0.95):F1} ms, p99 {P(0.99):F1} ms, max {measured[^1]:F1} ms; {failures} failed"));
    // Where in the run the tail is (a start-up effect, a background pass, or spread evenly): p99 and the
    // number of requests over 25 ms per 5 s of send time, the warm-up second first and on its own.
    const int Window = 5;
    var windows = new List<(int From, int To)> { (0, 1) };
    for (var from = 1; from < seconds; from = windows[^1].To)
    {
        windows.Add((from, Math.Min(seconds, from - from % Window + Window)));
    }
    var parts = windows.Select(w =>
    {
        var part = latencies.Skip(w.From * rps).Take((w.To - w.From) * rps).Order().ToArray();
        var p99 = part[Math.Min(part.Length - 1, (int)Math.Ceiling(0.99 * part.Length) - 1)];
        return string.Create(CultureInfo.InvariantCulture, $"{w.From}-{w.To}s {p99:F1}/{part.Count(l => l > 25)}");
    });
    Console.WriteLine("single: p99 ms / requests over 25 ms per window of send time: " + string.Join(", ", parts));
    return failures == 0 ? 0 : 1;
}

static HttpClient CreateClient(string url, string key, int connections)
{
    var handler = new SocketsHttpHandler { MaxConnectionsPerServer = connections, PooledConnectionLifetime = TimeSpan.FromMinutes(10) };
    var client = new HttpClient(handler) { BaseAddress = new Uri(url), Timeout = TimeSpan.FromSeconds(60) };
    client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", key);
    return client;
}

/// <summary>
/// Native events shaped like real runs: a start and an end per run, plugins, a few failures. Runs start at
/// random over the <paramref name="spread"/> before now (30 days unless given): a backfill's spread, which puts
/// every write into 30 days' rollup slices and index ranges; live traffic starts within the last hour or so.
/// </summary>
internal sealed class EventGenerator(int seed, TimeSpan? spread = null)
{
    private static readonly string[] s_commands = ["run", "build", "test", "compile", "seed", "deps"];
    private static readonly string[] s_os = ["linux", "mac", "windows"];
    private static readonly string[] s_plugins = ["snowflake", "postgres", "bigquery", "duckdb"];
    private readonly Random _random = new(seed);
    private readonly TimeSpan _spread = spread ?? TimeSpan.FromDays(30);
    private readonly DateTime _now = DateTime.UtcNow;

    public IEnumerable<string> Run(string? tool)
    {
        var run = Guid.NewGuid().ToString();
        var installation = "inst-" + _random.Next(20_000).ToString(CultureInfo.InvariantCulture);
        var command = s_commands[_random.Next(s_commands.Length)];
        var start = _now - _spread + TimeSpan.FromSeconds(_random.Next((int)_spread.TotalSeconds));
        var failed = _random.Next(10) == 0;
        var plugin = s_plugins[_random.Next(s_plugins.Length)];
        var os = s_os[_random.Next(s_os.Length)];
        var toolField = tool is null ? "" : $"\"tool\":\"{tool}\",";
        yield return Event(toolField, run, installation, command, "started", start, os, plugin, null);
        yield return Event(toolField, run, installation, command, failed ? "failed" : "succeeded", start.AddSeconds(_random.Next(1, 600)), os, plugin, failed ? "DbtRuntimeError" : null);
    }

    public string Single() => Event("", Guid.NewGuid().ToString(), "inst-" + _random.Next(20_000).ToString(CultureInfo.InvariantCulture),
        s_commands[_random.Next(s_commands.Length)], "succeeded", DateTime.UtcNow.AddSeconds(-_random.Next(3600)), "linux", "duckdb", null);

    private string Event(string toolField, string run, string installation, string command, string status, DateTime at, string os, string plugin, string? error) =>
        string.Create(CultureInfo.InvariantCulture,
            $$"""{{{toolField}}"eventId":"{{Guid.NewGuid()}}","installationId":"{{installation}}","runId":"{{run}}","command":"{{command}}","status":"{{status}}","timestamp":"{{at:O}}","toolVersion":"1.{{_random.Next(6, 11)}}.{{_random.Next(5)}}","os":{"name":"{{os}}","version":"6.8"},"runtime":{"name":"python","version":"3.12.4"},"environment":"{{(_random.Next(3) == 0 ? "github-actions" : "manual")}}","isCi":{{(_random.Next(3) == 0 ? "true" : "false")}},"plugins":[{"name":"{{plugin}}","type":"adapter","version":"1.{{_random.Next(3, 9)}}.0"}]{{(error is null ? "" : $",\"error\":{{\"type\":\"{error}\"}}")}}}""");
}
