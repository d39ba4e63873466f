using System.Net;
using Microsoft.AspNetCore.HttpOverrides;

namespace UsageDashboard.Access;

/// <summary>The reverse proxies whose <c>X-Forwarded-For</c>/<c>-Proto</c> are believed: <c>ForwardedHeaders</c> in configuration.</summary>
public sealed class ProxyForwardingOptions
{
    /// <summary>Proxy addresses, e.g. <c>10.0.0.5</c>; loopback is not trusted unless listed.</summary>
    public List<string> KnownProxies { get; set; } = [];
    /// <summary>Proxy networks in CIDR notation, e.g. <c>10.0.0.0/8</c>.</summary>
    public List<string> KnownNetworks { get; set; } = [];
    /// <summary>How many proxy hops to unwind from the right of <c>X-Forwarded-For</c>.</summary>
    public int ForwardLimit { get; set; } = 1;
}

/// <summary>
/// Behind a TLS-terminating proxy the client address (for rate limits and sign-in throttling) and the scheme
/// (for HSTS and Secure cookies) come from forwarded headers, but only when the request arrives from a
/// configured proxy: anyone else could name any address in <c>X-Forwarded-For</c>.
/// </summary>
public static class ProxyForwarding
{
    public static IServiceCollection AddProxyForwarding(this IServiceCollection services, IConfiguration configuration)
    {
        var proxies = configuration.GetSection("ForwardedHeaders").Get<ProxyForwardingOptions>() ?? new ProxyForwardingOptions();
        services.Configure<ForwardedHeadersOptions>(o =>
        {
            o.ForwardedHeaders = ForwardedHeaders.XForwardedFor | ForwardedHeaders.XForwardedProto;
            o.ForwardLimit = Math.Max(1, proxies.ForwardLimit);
            // The defaults trust loopback; only what is configured is trusted here.
            o.KnownProxies.Clear();
            o.KnownIPNetworks.Clear();
            foreach (var proxy in proxies.KnownProxies.Where(p => !string.IsNullOrWhiteSpace(p)))
            {
                o.KnownProxies.Add(IPAddress.TryParse(proxy.Trim(), out var address)
                    ? address
                    : throw new InvalidOperationException($"ForwardedHeaders:KnownProxies: '{proxy}' is not an IP address"));
            }
            foreach (var network in proxies.KnownNetworks.Where(n => !string.IsNullOrWhiteSpace(n)))
            {
                o.KnownIPNetworks.Add(System.Net.IPNetwork.TryParse(network.Trim(), out var parsed)
                    ? parsed
                    : throw new InvalidOperationException($"ForwardedHeaders:KnownNetworks: '{network}' is not a network such as 10.0.0.0/8"));
            }
        });
        return services;
    }
}
