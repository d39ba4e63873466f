using System.Net;
using System.Net.Http.Headers;
using System.Text;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.Extensions.DependencyInjection;
using UsageDashboard.Access;
using UsageDashboard.Tests.Infrastructure;

namespace UsageDashboard.Tests.Access;

/// <summary>Forwarded headers count only from configured proxies; ingestion is limited per write key, else per real client address.</summary>
public sealed class ProxyAndRateLimitTests : IClassFixture<ProxyAndRateLimitTests.Db>
{
    public sealed class Db : DatabaseFixture;

    private const string KnownProxy = "10.0.0.1";
    private const string UnknownProxy = "10.9.9.9";
    private readonly Db _db;

    public ProxyAndRateLimitTests(Db db) => _db = db;

    private AppFactory CreateApp(int burst) => new(_db.ConnectionString, settings: new Dictionary<string, string?>
    {
        ["ForwardedHeaders:KnownProxies:0"] = KnownProxy,
        ["Ingestion:RateLimit:Burst"] = burst.ToString(System.Globalization.CultureInfo.InvariantCulture),
        ["Ingestion:RateLimit:RequestsPerSecond"] = "1",
    });

    [Fact]
    public async Task RateLimit_ForwardedForFromKnownProxy_PerClient_FromUnknownProxyIgnored()
    {
        await using var factory = CreateApp(burst: 3);
        await using var app = factory.WithPeerAddresses();

        // Six clients behind each proxy, one request each, with a bucket of three that refills once a second.
        var viaKnown = new List<HttpStatusCode>();
        var viaUnknown = new List<HttpStatusCode>();
        for (var i = 1; i <= 6; i++)
        {
            viaUnknown.Add(await PostUnkeyedAsync(app, UnknownProxy, $"198.51.100.{i}"));
            viaKnown.Add(await PostUnkeyedAsync(app, KnownProxy, $"203.0.113.{i}"));
        }

        Assert.DoesNotContain(HttpStatusCode.TooManyRequests, viaKnown);
        Assert.Contains(HttpStatusCode.TooManyRequests, viaUnknown);
    }

    [Fact]
    public async Task Hsts_ForwardedProtoHttpsFromKnownProxy_Sent_FromUnknownProxyNot()
    {
        await using var factory = CreateApp(burst: 100);
        await using var app = factory.WithPeerAddresses();

        async Task<bool> HstsAsync(string peer)
        {
            var client = AccessTestSupport.Browser(app, peer, baseAddress: "http://dashboard.example.org");
            var request = new HttpRequestMessage(HttpMethod.Get, "/login");
            request.Headers.Add("X-Forwarded-Proto", "https");
            request.Headers.Add("X-Forwarded-For", "203.0.113.50");
            return (await client.SendAsync(request)).Headers.Contains("Strict-Transport-Security");
        }

        Assert.True(await HstsAsync(KnownProxy));
        Assert.False(await HstsAsync(UnknownProxy));
    }

    [Fact]
    public async Task RateLimit_TwoManagedKeysFromOneAddress_EachHasItsOwnBucket()
    {
        await using var app = CreateApp(burst: 5);
        CreatedWriteKey busy, quiet;
        await using (var scope = app.Services.CreateAsyncScope())
        {
            var keys = scope.ServiceProvider.GetRequiredService<WriteKeyService>();
            busy = await keys.CreateAsync("jetty", "busy", default);
            quiet = await keys.CreateAsync("jetty", "quiet", default);
        }

        var busyStatuses = new List<HttpStatusCode>();
        for (var i = 0; i < 30 && !busyStatuses.Contains(HttpStatusCode.TooManyRequests); i++)
        {
            busyStatuses.Add(await PostKeyedAsync(app, busy.Secret));
        }
        var quietStatuses = new List<HttpStatusCode>();
        for (var i = 0; i < 4; i++)
        {
            quietStatuses.Add(await PostKeyedAsync(app, quiet.Secret));
        }

        Assert.Contains(HttpStatusCode.TooManyRequests, busyStatuses);
        Assert.All(quietStatuses, s => Assert.Equal(HttpStatusCode.OK, s));
    }

    private static async Task<HttpStatusCode> PostUnkeyedAsync(WebApplicationFactory<Program> app, string peer, string forwardedFor)
    {
        var client = AccessTestSupport.Browser(app, peer);
        var request = new HttpRequestMessage(HttpMethod.Post, "/api/v1/events") { Content = new StringContent("{}", Encoding.UTF8, "application/json") };
        request.Headers.Add("X-Forwarded-For", forwardedFor);
        return (await client.SendAsync(request)).StatusCode;
    }

    private static async Task<HttpStatusCode> PostKeyedAsync(AppFactory app, string key)
    {
        var client = app.CreateClient();
        client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", key);
        var body = $$"""{"eventId":"{{Guid.NewGuid()}}","installationId":"inst-rl","command":"fetch","status":"succeeded","timestamp":"2026-11-20T10:00:00Z"}""";
        return (await client.PostAsync("/api/v1/events", new StringContent(body, Encoding.UTF8, "application/json"))).StatusCode;
    }
}
