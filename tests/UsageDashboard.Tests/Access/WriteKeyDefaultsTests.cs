using System.Net;
using System.Net.Http.Headers;
using System.Text;
using Microsoft.AspNetCore.Hosting;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Logging;
using UsageDashboard.Tests.Infrastructure;

namespace UsageDashboard.Tests.Access;

/// <summary>The well-known development write keys never reach a Production deployment.</summary>
public sealed class WriteKeyDefaultsTests : IClassFixture<WriteKeyDefaultsTests.Db>
{
    public sealed class Db : DatabaseFixture;

    private readonly Db _db;

    public WriteKeyDefaultsTests(Db db) => _db = db;

    [Fact]
    public void Configuration_Production_HasNoWriteKeysAndDevelopmentFileIsNotPublished()
    {
        var production = new ConfigurationBuilder()
            .SetBasePath(AppFactory.RepoRoot)
            .AddJsonFile("appsettings.json", optional: false)
            .AddJsonFile("appsettings.Production.json", optional: true)
            .Build();
        var project = File.ReadAllText(Path.Combine(AppFactory.RepoRoot, "src", "UsageDashboard", "UsageDashboard.csproj"));

        var keys = production.GetSection("Tools").GetChildren()
            .SelectMany(t => t.GetSection("WriteKeys").GetChildren())
            .Select(k => k.Value)
            .Where(v => !string.IsNullOrEmpty(v));

        Assert.Empty(keys);
        Assert.Equal("dbt", production["Tools:dbt:SnowplowAppIds:0"]);
        Assert.Matches("""Include="\$\(RepoRoot\)appsettings\.Development\.json"[^>]*CopyToPublishDirectory="Never" """.TrimEnd(), project);
    }

    [Fact]
    public void Configuration_Development_HasTheDevelopmentKeys()
    {
        var development = new ConfigurationBuilder()
            .SetBasePath(AppFactory.RepoRoot)
            .AddJsonFile("appsettings.json", optional: false)
            .AddJsonFile("appsettings.Development.json", optional: false)
            .Build();

        foreach (var tool in AppFactory.ToolsWithDevelopmentKeys)
        {
            Assert.Equal($"dev-{tool}-write-key", development[$"Tools:{tool}:WriteKeys:0"]);
        }
        Assert.Equal("meltano", development["Tools:meltano:SnowplowAppIds:0"]);
    }

    [Fact]
    public async Task PostEvents_ProductionStartWithDevelopmentKey_401AndWarningNamesKeylessTools()
    {
        var logs = new LogCapture();
        await using var factory = new AppFactory(_db.ConnectionString, environment: "Production");
        await using var app = factory.WithWebHostBuilder(b => b.ConfigureLogging(l => l.AddProvider(logs)));
        var client = app.CreateClient();
        client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", "dev-dbt-write-key");
        var body = """{"eventId":"8d1f6a52-4a0e-4a5b-9a8e-3b1c2d3e4f51","installationId":"inst-p","command":"run","status":"succeeded","timestamp":"2026-11-20T10:00:00Z"}""";

        var response = await client.PostAsync("/api/v1/events", new StringContent(body, Encoding.UTF8, "application/json"));

        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
        var warning = Assert.Single(logs.Entries, e => e.Level == LogLevel.Warning && e.Message.StartsWith("No write key for", StringComparison.Ordinal));
        Assert.Contains("dbt, evidently, jetty, meltano", warning.Message, StringComparison.Ordinal);
        Assert.Contains("/admin/write-keys", warning.Message, StringComparison.Ordinal);
    }
}
