using System.Collections.Concurrent;
using System.Net;
using AngleSharp;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using UsageDashboard.Tests.Infrastructure;

namespace UsageDashboard.Tests.Access;

/// <summary>
/// Lets a test choose the TCP peer address the app sees (the test server has none): a request's
/// <see cref="Header"/> becomes <c>Connection.RemoteIpAddress</c> before any of the app's middleware runs,
/// as if it had come from that address.
/// </summary>
internal sealed class PeerAddressStartupFilter : IStartupFilter
{
    public const string Header = "X-Test-Peer-Address";

    public Action<IApplicationBuilder> Configure(Action<IApplicationBuilder> next) => app =>
    {
        app.Use((context, nextMiddleware) =>
        {
            if (context.Request.Headers.TryGetValue(Header, out var value) && IPAddress.TryParse(value.ToString(), out var address))
            {
                context.Connection.RemoteIpAddress = address;
                context.Request.Headers.Remove(Header);
            }
            return nextMiddleware(context);
        });
        next(app);
    };
}

/// <summary>Collects the app's log messages, for start-up warnings.</summary>
internal sealed class LogCapture : ILoggerProvider
{
    public ConcurrentQueue<(LogLevel Level, string Category, string Message)> Entries { get; } = new();

    public ILogger CreateLogger(string categoryName) => new Logger(this, categoryName);

    public void Dispose()
    {
    }

    private sealed class Logger(LogCapture owner, string category) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => true;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter) =>
            owner.Entries.Enqueue((logLevel, category, formatter(state, exception)));
    }
}

internal static class AccessTestSupport
{
    /// <summary>The app, with test-chosen peer addresses (<see cref="PeerAddressStartupFilter"/>).</summary>
    public static WebApplicationFactory<Program> WithPeerAddresses(this AppFactory app) =>
        app.WithWebHostBuilder(b => b.ConfigureServices(s => s.AddSingleton<IStartupFilter, PeerAddressStartupFilter>()));

    public static HttpClient Browser(WebApplicationFactory<Program> app, string? peer = null, string baseAddress = "https://localhost")
    {
        var client = app.CreateClient(new WebApplicationFactoryClientOptions { AllowAutoRedirect = false, BaseAddress = new Uri(baseAddress), HandleCookies = true });
        if (peer is not null)
        {
            client.DefaultRequestHeaders.Add(PeerAddressStartupFilter.Header, peer);
        }
        return client;
    }

    /// <summary>Signs in as a browser does and returns the error the form shows, or null when it signed in.</summary>
    public static async Task<string?> SignInErrorAsync(HttpClient client, string email, string password)
    {
        var response = await AccessTests.PostLoginAsync(client, email, password);
        if (response.StatusCode == HttpStatusCode.Redirect)
        {
            return null;
        }
        var html = await response.Content.ReadAsStringAsync();
        var doc = await BrowsingContext.New(Configuration.Default).OpenAsync(r => r.Content(html));
        return doc.QuerySelector("[data-login-error]")?.TextContent.Trim() ?? $"no error shown ({(int)response.StatusCode})";
    }

    /// <summary>The antiforgery token of the first form on <paramref name="page"/> (a signed-in page has the sign-out form).</summary>
    public static async Task<string> AntiforgeryTokenAsync(HttpClient client, string page = "/")
    {
        var html = await client.GetStringAsync(page);
        var doc = await BrowsingContext.New(Configuration.Default).OpenAsync(r => r.Content(html));
        return doc.QuerySelector("input[name='__RequestVerificationToken']")?.GetAttribute("value")
            ?? throw new InvalidOperationException($"no antiforgery token on {page}");
    }
}

internal static class AccessAppExtensions
{
    /// <summary>Creates a user with <paramref name="role"/> through the real services (unique email unless given).</summary>
    public static async Task<string> CreateUserAsync(this WebApplicationFactory<Program> app, string role, string? email = null)
    {
        email ??= $"{role}-{Guid.NewGuid():N}@example.test";
        await using var scope = app.Services.CreateAsyncScope();
        var result = await scope.ServiceProvider.GetRequiredService<UsageDashboard.Access.UserAdminService>().AddAsync(email, role, AppFactory.TestPassword);
        Assert.True(result.Succeeded, string.Join("; ", result.Errors));
        return email;
    }

    /// <summary>A personal API token of <paramref name="email"/> with <paramref name="scope"/>.</summary>
    public static async Task<string> CreateTokenAsync(this WebApplicationFactory<Program> app, string email, string scope)
    {
        await using var services = app.Services.CreateAsyncScope();
        var user = await services.ServiceProvider.GetRequiredService<UsageDashboard.Access.UserAdminService>().FindByEmailAsync(email);
        return (await services.ServiceProvider.GetRequiredService<UsageDashboard.Access.TokenService>().CreateAsync(user!, "test", null, scope, default)).Secret;
    }

    public static HttpClient ClientWithToken(this WebApplicationFactory<Program> app, string token)
    {
        var client = app.CreateClient(new WebApplicationFactoryClientOptions { AllowAutoRedirect = false, BaseAddress = new Uri("https://localhost") });
        client.DefaultRequestHeaders.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", token);
        return client;
    }
}
