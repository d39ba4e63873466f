using System.Net;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using UsageDashboard.Access;
using UsageDashboard.Tests.Infrastructure;

namespace UsageDashboard.Tests.Access;

public sealed class AntiforgeryTests : IClassFixture<AntiforgeryTests.Db>
{
    public sealed class Db : DatabaseFixture;

    private readonly Db _db;

    public AntiforgeryTests(Db db) => _db = db;

    [Fact]
    public async Task Endpoints_EveryCookiePostWithoutAntiforgery_400()
    {
        await using var app = new AppFactory(_db.ConnectionString);
        var browser = AccessTestSupport.Browser(app);
        Assert.Null(await AccessTestSupport.SignInErrorAsync(browser, await app.CreateUserAsync(Roles.Admin), AppFactory.TestPassword));
        // Ingestion is keyed, not signed in: a browser's cookie gives a cross-site post nothing there.
        var posts = app.Services.GetRequiredService<EndpointDataSource>().Endpoints.OfType<RouteEndpoint>()
            .Where(e => e.Metadata.GetMetadata<HttpMethodMetadata>()?.HttpMethods.Contains("POST") == true)
            .Select(e => "/" + (e.RoutePattern.RawText ?? "").TrimStart('/'))
            .Where(p => !p.StartsWith("/api/v1/", StringComparison.Ordinal) && !p.StartsWith("/com.snowplowanalytics.snowplow/", StringComparison.Ordinal))
            .Where(p => !p.Contains('{', StringComparison.Ordinal))
            .Distinct()
            .ToList();

        Assert.Contains("/api/health/evaluate", posts);
        Assert.Contains("/logout", posts);
        foreach (var path in posts)
        {
            var response = await browser.PostAsync(path, new FormUrlEncodedContent(new Dictionary<string, string>()));
            Assert.True(response.StatusCode == HttpStatusCode.BadRequest, $"POST {path} answered {response.StatusCode}");
        }
    }

    [Fact]
    public async Task EvaluateHealth_CookieWithAntiforgeryHeader_200()
    {
        await using var app = new AppFactory(_db.ConnectionString);
        var browser = AccessTestSupport.Browser(app);
        Assert.Null(await AccessTestSupport.SignInErrorAsync(browser, await app.CreateUserAsync(Roles.Maintainer), AppFactory.TestPassword));
        var request = new HttpRequestMessage(HttpMethod.Post, "/api/health/evaluate");
        request.Headers.Add("RequestVerificationToken", await AccessTestSupport.AntiforgeryTokenAsync(browser));

        var response = await browser.SendAsync(request);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
    }
}
