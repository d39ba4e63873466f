using System.Net;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using UsageDashboard.Access;

namespace UsageDashboard.Operations;

/// <summary>
/// Start-up warnings, one line per problem, for what a Production deployment should not run without (the
/// write keys and data-protection certificate are <see cref="AccessStartupChecks"/>'s): a configured
/// database, and forwarded-header proxies when the app listens on a public address.
/// </summary>
public sealed class OperationsStartupChecks(IConfiguration configuration, IHostEnvironment environment, IServer server, IHostApplicationLifetime lifetime,
    ILogger<OperationsStartupChecks> logger) : IHostedService
{
    public Task StartAsync(CancellationToken cancellationToken)
    {
        if (environment.IsDevelopment())
        {
            return Task.CompletedTask;
        }
        if (string.IsNullOrWhiteSpace(configuration.GetConnectionString("Events")))
        {
            logger.LogWarning(
                "No connection string (ConnectionStrings__Events): the app starts and uses a project-local PostgreSQL cluster under {Folder} of the content root. " +
                "Set ConnectionStrings__Events to your PostgreSQL server for a real deployment.", configuration["Database:LocalFolder"] ?? ".data/postgres");
        }
        // The addresses are known once Kestrel listens.
        lifetime.ApplicationStarted.Register(CheckAddresses);
        return Task.CompletedTask;
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    private void CheckAddresses()
    {
        var proxies = configuration.GetSection("ForwardedHeaders").Get<ProxyForwardingOptions>() ?? new ProxyForwardingOptions();
        if (proxies.KnownProxies.Any(p => !string.IsNullOrWhiteSpace(p)) || proxies.KnownNetworks.Any(n => !string.IsNullOrWhiteSpace(n)))
        {
            return;
        }
        var addresses = server.Features.Get<IServerAddressesFeature>()?.Addresses ?? [];
        var exposed = addresses.Where(IsPublic).ToList();
        if (exposed.Count > 0)
        {
            logger.LogWarning(
                "Listening on a public address ({Addresses}) with no ForwardedHeaders__KnownProxies__0 or ForwardedHeaders__KnownNetworks__0: behind a reverse proxy, " +
                "client addresses (rate limits, sign-in throttling) and https (HSTS, Secure cookies) are not seen. Configure the proxy's address, " +
                "or listen on loopback only (Urls=http://127.0.0.1:5000) if no proxy is in front.", string.Join(", ", exposed));
        }
    }

    internal static bool IsPublic(string address)
    {
        // Kestrel reports wildcards as given (http://0.0.0.0:80, http://[::]:80, http://+:80, http://*:80).
        if (!Uri.TryCreate(address.Replace("://+", "://0.0.0.0", StringComparison.Ordinal).Replace("://*", "://0.0.0.0", StringComparison.Ordinal), UriKind.Absolute, out var uri))
        {
            return false;
        }
        if (uri.Host == "localhost")
        {
            return false;
        }
        return !IPAddress.TryParse(uri.Host.Trim('[', ']'), out var ip) || !IPAddress.IsLoopback(ip);
    }
}
