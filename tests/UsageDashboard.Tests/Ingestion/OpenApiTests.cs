namespace UsageDashboard.Tests.Ingestion;

public sealed class OpenApiTests : IClassFixture<OpenApiTests.Fixture>
{
    public sealed class Fixture : IngestionFixture;

    private readonly Fixture _app;

    public OpenApiTests(Fixture app) => _app = app;

    [Fact]
    public async Task OpenApi_DescribesEveryIngestionEndpointWithSchemasAndErrors()
    {
        var doc = await (await _app.Client(null).GetAsync("/openapi/v1.json")).ReadJsonAsync();

        var paths = doc.GetProperty("paths");
        foreach (var path in new[] { "/api/v1/events", "/api/v1/s2s/event", "/com.snowplowanalytics.snowplow/tp2", "/i", "/api/v1/schema/event.json" })
        {
            Assert.True(paths.TryGetProperty(path, out _), path);
        }
        var post = paths.GetProperty("/api/v1/events").GetProperty("post");
        var requestTypes = post.GetProperty("requestBody").GetProperty("content").EnumerateObject().Select(c => c.Name).ToList();
        Assert.Contains("application/json", requestTypes);
        Assert.Contains("application/x-ndjson", requestTypes);
        foreach (var status in new[] { "200", "400", "401", "413", "415", "422", "429", "503" })
        {
            Assert.True(post.GetProperty("responses").TryGetProperty(status, out _), status);
        }
        var schemas = doc.GetProperty("components").GetProperty("schemas");
        Assert.True(schemas.TryGetProperty("NativeEvent", out var native), string.Join(",", schemas.EnumerateObject().Select(p => p.Name)));
        Assert.Contains("installationId", native.GetProperty("required").EnumerateArray().Select(r => r.GetString()));
        Assert.True(schemas.TryGetProperty("ErrorResponse", out _));
        Assert.True(schemas.TryGetProperty("IngestResponse", out _));
    }

    [Fact]
    public async Task OpenApi_InsightsEndpoints_NameTheirResponseSchemas()
    {
        var doc = await (await _app.Client(null).GetAsync("/openapi/v1.json")).ReadJsonAsync();

        var schemas = doc.GetProperty("components").GetProperty("schemas");
        var names = string.Join(",", schemas.EnumerateObject().Select(p => p.Name));
        foreach (var name in new[]
        {
            "OverviewResponse", "CommandsResponse", "CommandResponse", "PluginsResponse", "PluginResponse", "InstallationsResponse",
            "EnvironmentsResponse", "PropertyResponse", "UnknownKeyError", "InsightQueryEcho",
        })
        {
            Assert.True(schemas.TryGetProperty(name, out _), $"{name} not in {names}");
        }
        var paths = doc.GetProperty("paths");
        var overview = paths.GetProperty("/api/insights/overview").GetProperty("get").GetProperty("responses").GetProperty("200");
        Assert.Contains("OverviewResponse", overview.GetRawText());
        var property = paths.GetProperty("/api/insights/properties").GetProperty("get").GetProperty("responses");
        Assert.Contains("UnknownKeyError", property.GetProperty("400").GetRawText());
        Assert.True(schemas.GetProperty("CommandItem").GetProperty("properties").TryGetProperty("successRateInterval", out _));
    }
}
