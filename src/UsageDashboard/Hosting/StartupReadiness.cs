using System.Collections.Concurrent;

namespace UsageDashboard.Hosting;

/// <summary>
/// The start-up work that runs in the background once Kestrel listens (the rollup cache's first load, the
/// first partition maintenance pass), so <c>GET /readyz</c> can tell a load balancer or a benchmark to
/// wait for it. Requests are served meanwhile, only slower: on the 1M-event store the cache's first load
/// (about 4 s) and the old all-partition count took the cores from the first requests, whose p99 was
/// 0.8-1.1 s in the first 5 s after a start against ~25 ms later (docs/benchmarks.md).
/// </summary>
public sealed class StartupReadiness
{
    private readonly ConcurrentDictionary<string, byte> _pending = new(StringComparer.Ordinal);

    /// <summary>Declares start-up work; call it before the server starts (a hosted service's constructor).</summary>
    public void Expect(string work) => _pending.TryAdd(work, 0);

    /// <summary>The work has finished (or failed: it is retried later, and requests do not wait for it).</summary>
    public void Finished(string work) => _pending.TryRemove(work, out _);

    /// <summary>Work still running, sorted.</summary>
    public IReadOnlyList<string> Pending => [.. _pending.Keys.Order(StringComparer.Ordinal)];
}
