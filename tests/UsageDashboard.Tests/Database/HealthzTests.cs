using System.Net;
using Microsoft.Extensions.DependencyInjection;
using UsageDashboard.Hosting;
using UsageDashboard.Tests.Infrastructure;

namespace UsageDashboard.Tests.Database;

public sealed class HealthzTests : IClassFixture<HealthzTests.Db>
{
    public sealed class Db : DatabaseFixture;

    private readonly Db _db;

    public HealthzTests(Db db) => _db = db;

    [Fact]
    public async Task Healthz_DatabaseAnswers_200()
    {
        await using var app = new AppFactory(_db.ConnectionString);

        var response = await app.CreateClient().GetAsync("/healthz");

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
    }

    [Fact]
    public async Task Readyz_StartupWorkPending_503NamingItThen200()
    {
        await using var app = new AppFactory(_db.ConnectionString);
        var client = app.CreateClient();
        var readiness = app.Services.GetRequiredService<StartupReadiness>();
        readiness.Expect("test work");

        var starting = await client.GetAsync("/readyz");
        var body = await starting.Content.ReadAsStringAsync();
        readiness.Finished("test work");
        // The app's own start-up work (cache load, partition pass) finishes in the background.
        var deadline = DateTime.UtcNow.AddSeconds(60);
        HttpResponseMessage ready;
        while ((ready = await client.GetAsync("/readyz")).StatusCode != HttpStatusCode.OK && DateTime.UtcNow < deadline)
        {
            await Task.Delay(100);
        }

        Assert.Equal(HttpStatusCode.ServiceUnavailable, starting.StatusCode);
        Assert.Contains("\"starting\"", body, StringComparison.Ordinal);
        Assert.Contains("\"test work\"", body, StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.OK, ready.StatusCode);
        Assert.Empty(readiness.Pending);
    }

    [Fact]
    public async Task Healthz_DatabaseDown_503AndPagesSay503WithRetryAfter()
    {
        // A socket folder with no server behind it: the database is down from the start.
        var down = $"Host={Path.Combine(Path.GetTempPath(), "ud-no-server")};Port=5432;Username=postgres;Database=x;Timeout=2";
        await using var app = new AppFactory(down, settings: new Dictionary<string, string?> { ["Database:MigrateOnStartup"] = "false" });
        var client = app.CreateClient();
        // A token must be looked up in the database, so an authenticated API call meets the outage.
        client.DefaultRequestHeaders.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", "udt_anything");

        var health = await client.GetAsync("/healthz");
        var ready = await client.GetAsync("/readyz");
        var api = await client.GetAsync("/api/insights/overview");

        Assert.Equal(HttpStatusCode.ServiceUnavailable, health.StatusCode);
        Assert.Equal(HttpStatusCode.ServiceUnavailable, ready.StatusCode);
        Assert.Equal(HttpStatusCode.ServiceUnavailable, api.StatusCode);
        Assert.Equal("5", api.Headers.GetValues("Retry-After").Single());
        Assert.Contains("database_unavailable", await api.Content.ReadAsStringAsync(), StringComparison.Ordinal);
    }
}
