#:property PublishAot=false
// Load test of the hub API and badges: N concurrent keep-alive clients for a fixed time over a set of
// URLs, reporting throughput and latency percentiles per URL and overall. No packages needed:
//   dotnet run tests/bench/hub.cs -- http://127.0.0.1:5137 20 32 /api/hub/meltano/plugins /badges/meltano/tap-github.svg
// (base URL, seconds, concurrency, paths...). Start the app first; see docs/benchmarks.md.
using System.Diagnostics;
using System.Globalization;

var inv = CultureInfo.InvariantCulture;
var baseUrl = args.Length > 0 ? args[0] : "http://127.0.0.1:5137";
var seconds = args.Length > 1 ? int.Parse(args[1], inv) : 20;
var concurrency = args.Length > 2 ? int.Parse(args[2], inv) : 32;
var paths = args.Length > 3 ? args[3..] : ["/api/hub/meltano/plugins"];

using var handler = new SocketsHttpHandler { MaxConnectionsPerServer = concurrency, PooledConnectionLifetime = TimeSpan.FromMinutes(10) };
using var client = new HttpClient(handler) { BaseAddress = new Uri(baseUrl) };
foreach (var path in paths)
{
    // Warm-up: first snapshot computed, JIT done.
    for (var i = 0; i < 50; i++)
    {
        using var r = await client.GetAsync(path);
        if (!r.IsSuccessStatusCode)
        {
            Console.Error.WriteLine($"{path} answered {(int)r.StatusCode}");
            return 1;
        }
    }
}

var latencies = paths.Select(_ => new List<double>()).ToArray();
var errors = 0L;
var stop = Stopwatch.StartNew();
var deadline = TimeSpan.FromSeconds(seconds);
var workers = Enumerable.Range(0, concurrency).Select(w => Task.Run(async () =>
{
    var mine = paths.Select(_ => new List<double>()).ToArray();
    var k = w;
    while (stop.Elapsed < deadline)
    {
        var index = k++ % paths.Length;
        var started = Stopwatch.GetTimestamp();
        using var response = await client.GetAsync(paths[index], HttpCompletionOption.ResponseContentRead);
        mine[index].Add(Stopwatch.GetElapsedTime(started).TotalMilliseconds);
        if (!response.IsSuccessStatusCode)
        {
            Interlocked.Increment(ref errors);
        }
    }
    lock (latencies)
    {
        for (var i = 0; i < paths.Length; i++)
        {
            latencies[i].AddRange(mine[i]);
        }
    }
})).ToArray();
await Task.WhenAll(workers);
var elapsed = stop.Elapsed.TotalSeconds;

static double Pct(List<double> sorted, double p) => sorted.Count == 0 ? 0 : sorted[Math.Min(sorted.Count - 1, (int)Math.Ceiling(p * sorted.Count) - 1)];

Console.WriteLine($"{concurrency} connections, {seconds} s, {Environment.ProcessorCount} cores shared with the server");
Console.WriteLine("| path | requests | req/s | p50 ms | p99 ms | max ms |");
Console.WriteLine("|---|---:|---:|---:|---:|---:|");
var all = new List<double>();
for (var i = 0; i < paths.Length; i++)
{
    var sorted = latencies[i].Order().ToList();
    all.AddRange(sorted);
    Console.WriteLine(string.Create(inv, $"| `{paths[i]}` | {sorted.Count:N0} | {sorted.Count / elapsed:N0} | {Pct(sorted, 0.50):F2} | {Pct(sorted, 0.99):F2} | {sorted[^1]:F1} |"));
}
all.Sort();
Console.WriteLine(string.Create(inv, $"| **all** | {all.Count:N0} | {all.Count / elapsed:N0} | {Pct(all, 0.50):F2} | {Pct(all, 0.99):F2} | {all[^1]:F1} |"));
Console.WriteLine(string.Create(inv, $"errors: {errors}"));
return errors == 0 ? 0 : 1;
