using System.Collections.Concurrent;
using System.Net;
using Microsoft.Extensions.Options;

namespace UsageDashboard.Access;

/// <summary>
/// Counts failed sign-ins in a sliding window, per client address and per (account, address) pair, instead of
/// locking accounts. A stranger's failures from one address then block that address (after
/// <see cref="AccessOptions.MaxFailedSignInsPerAddress"/>, any account) and that pair (after
/// <see cref="AccessOptions.MaxFailedAccessAttempts"/>), never the owner signing in from elsewhere, nor the
/// owner's API tokens. IPv6 clients count by their /64. Pairs are keyed by the name typed, whether or not such an account exists, so a blocked
/// sign-in says nothing about which accounts there are.
/// </summary>
/// <remarks>
/// REVIEW: the counts live in this instance's memory; behind a load balancer each instance counts on its own,
/// which multiplies the allowance by the number of instances (still bounded per address).
/// </remarks>
public sealed class SignInThrottle(IOptions<AccessOptions> options, TimeProvider time)
{
    private const int MaxEntries = 100_000;

    private readonly ConcurrentDictionary<string, Queue<DateTimeOffset>> _failures = new(StringComparer.Ordinal);

    /// <summary>Whether a sign-in for <paramref name="email"/> from <paramref name="address"/> may be tried now.</summary>
    public bool IsAllowed(string email, IPAddress? address)
    {
        var o = options.Value;
        var now = time.GetUtcNow();
        return Count(AddressKey(address), now, o.LockoutDuration) < o.MaxFailedSignInsPerAddress
            && Count(PairKey(email, address), now, o.LockoutDuration) < o.MaxFailedAccessAttempts;
    }

    public void RecordFailure(string email, IPAddress? address)
    {
        var now = time.GetUtcNow();
        if (_failures.Count > MaxEntries)
        {
            Prune(now, options.Value.LockoutDuration);
        }
        Add(AddressKey(address), now);
        Add(PairKey(email, address), now);
    }

    /// <summary>A successful sign-in clears the pair's failures (not the address's: other accounts were tried from it).</summary>
    public void RecordSuccess(string email, IPAddress? address) => _failures.TryRemove(PairKey(email, address), out _);

    private static string AddressKey(IPAddress? address) => "a:" + Network(address);

    private static string PairKey(string email, IPAddress? address) => "p:" + Network(address) + "|" + email.Trim().ToUpperInvariant();

    /// <summary>An IPv4 address as it is; an IPv6 address by its /64, the block one subscriber usually holds whole.</summary>
    internal static string Network(IPAddress? address)
    {
        if (address is null)
        {
            return "";
        }
        if (address.IsIPv4MappedToIPv6)
        {
            address = address.MapToIPv4();
        }
        if (address.AddressFamily != System.Net.Sockets.AddressFamily.InterNetworkV6)
        {
            return address.ToString();
        }
        var bytes = address.GetAddressBytes();
        Array.Clear(bytes, 8, 8);
        return new IPAddress(bytes) + "/64";
    }

    private void Add(string key, DateTimeOffset now)
    {
        var queue = _failures.GetOrAdd(key, _ => new Queue<DateTimeOffset>());
        lock (queue)
        {
            queue.Enqueue(now);
            // Only the newest failures matter: more than the larger limit never changes an answer.
            while (queue.Count > Math.Max(options.Value.MaxFailedSignInsPerAddress, options.Value.MaxFailedAccessAttempts))
            {
                queue.Dequeue();
            }
        }
    }

    private int Count(string key, DateTimeOffset now, TimeSpan window)
    {
        if (!_failures.TryGetValue(key, out var queue))
        {
            return 0;
        }
        lock (queue)
        {
            while (queue.Count > 0 && queue.Peek() <= now - window)
            {
                queue.Dequeue();
            }
            return queue.Count;
        }
    }

    private void Prune(DateTimeOffset now, TimeSpan window)
    {
        foreach (var key in _failures.Keys)
        {
            if (Count(key, now, window) == 0)
            {
                _failures.TryRemove(key, out _);
            }
        }
    }
}
