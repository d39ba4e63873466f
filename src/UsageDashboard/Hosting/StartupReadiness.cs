using System.Collections.Concurrent;
using Microsoft.Extensions.DependencyInjection.Extensions;

namespace UsageDashboard.Hosting;

/// <summary>The name of one piece of background start-up work that <c>/readyz</c> waits for.</summary>
public sealed record StartupWork(string Name);

/// <summary>
/// The start-up work that runs in the background once Kestrel listens (the rollup cache's first load, the
/// first partition maintenance pass, the collector's warm-up), so <c>GET /readyz</c> can tell a load
/// balancer or a benchmark to wait for it. Requests are served meanwhile, only slower: on the 1M-event
/// store the cache's first load (3-4 s) and the old all-partition count took the cores from the first
/// requests (docs/benchmarks.md, 2026-12-02). The work is declared when services are registered
/// (<see cref="StartupReadinessExtensions.AddStartupWork"/>), so it is pending from the first request on.
/// </summary>
public sealed class StartupReadiness
{
    private readonly ConcurrentDictionary<string, byte> _pending = new(StringComparer.Ordinal);

    public StartupReadiness(IEnumerable<StartupWork> expected)
    {
        foreach (var work in expected)
        {
            Expect(work.Name);
        }
    }

    /// <summary>Declares more work (the tests' own).</summary>
    public void Expect(string work) => _pending.TryAdd(work, 0);

    /// <summary>The work has finished, or failed: it is retried later, and requests do not wait for it.</summary>
    public void Finished(string work) => _pending.TryRemove(work, out _);

    /// <summary>Work still running, sorted.</summary>
    public IReadOnlyList<string> Pending => [.. _pending.Keys.Order(StringComparer.Ordinal)];
}

public static class StartupReadinessExtensions
{
    /// <summary>Registers <paramref name="name"/> as start-up work that <c>/readyz</c> waits for until <see cref="StartupReadiness.Finished"/>.</summary>
    public static IServiceCollection AddStartupWork(this IServiceCollection services, string name)
    {
        services.TryAddSingleton<StartupReadiness>();
        services.AddSingleton(new StartupWork(name));
        return services;
    }
}
