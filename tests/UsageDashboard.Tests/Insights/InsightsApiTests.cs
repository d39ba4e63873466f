using System.Net;
using System.Text.Json;
using UsageDashboard.Insights;
using UsageDashboard.Store;
using UsageDashboard.Tests.Infrastructure;
using static UsageDashboard.Tests.Infrastructure.TestEvents;

namespace UsageDashboard.Tests.Insights;

public sealed class InsightsApiTests : IClassFixture<InsightsApiTests.Db>
{
    public sealed class Db : DatabaseFixture
    {
        public override async Task InitializeAsync()
        {
            await base.InitializeAsync();
            var day = new DateTime(2026, 11, 20, 9, 0, 0, DateTimeKind.Utc);
            await CreateWriter(this).WriteAsync(
            [
                CreateEvent(installationId: "i1", at: day, status: RunStatus.Succeeded, command: "run"),
                CreateEvent(installationId: "i1", at: day.AddHours(1), status: RunStatus.Failed, command: "run"),
                CreateEvent(installationId: "i2", at: day.AddHours(2), status: RunStatus.Succeeded, command: "=cmd|' /C calc'!A0"),
            ], default);
            // The rollups are built before any app starts: each test's app would otherwise build them in
            // the background while its first request reads them (a page rendered empty under a loaded suite).
            await TestRollups.RefreshAsync(this);
        }
    }

    private readonly Db _db;

    public InsightsApiTests(Db db) => _db = db;

    private AppFactory CreateApp() => new(_db.ConnectionString, new FakeTimeProvider(new DateTimeOffset(2026, 11, 22, 12, 0, 0, TimeSpan.Zero)));

    [Fact]
    public async Task Overview_Json_HeadlineNumbersCamelCase()
    {
        await using var app = CreateApp();

        var json = JsonDocument.Parse(await (await app.CreateClientAsAsync(UsageDashboard.Access.Roles.Viewer)).GetStringAsync("/api/insights/overview?tool=dbt&range=7d"));

        var root = json.RootElement;
        Assert.Equal(2, root.GetProperty("activeInstallations").GetInt32());
        Assert.Equal(2, root.GetProperty("newInstallations").GetInt32());
        Assert.Equal(3, root.GetProperty("runs").GetInt32());
        Assert.Equal(2.0 / 3, root.GetProperty("successRate").GetDouble(), 6);
        Assert.Equal(7, root.GetProperty("daily").GetArrayLength());
        Assert.Equal("2026-11-16", root.GetProperty("query").GetProperty("from").GetString());
    }

    [Fact]
    public async Task Commands_Json_ItemsCarryCommandRunsFailedRunsSuccessRate()
    {
        await using var app = CreateApp();

        var json = JsonDocument.Parse(await (await app.CreateClientAsAsync(UsageDashboard.Access.Roles.Viewer)).GetStringAsync("/api/insights/commands?range=7d"));

        var first = json.RootElement.GetProperty("items")[0];
        Assert.Equal("run", first.GetProperty("command").GetString());
        Assert.Equal(2, first.GetProperty("runs").GetInt32());
        Assert.Equal(1, first.GetProperty("failedRuns").GetInt32());
        Assert.Equal(0.5, first.GetProperty("successRate").GetDouble());
    }

    [Fact]
    public async Task Commands_Csv_HeaderRowsAndFormulaNeutralised()
    {
        await using var app = CreateApp();

        var response = await (await app.CreateClientAsAsync(UsageDashboard.Access.Roles.Viewer)).GetAsync("/api/insights/commands?range=7d&format=csv");
        var lines = (await response.Content.ReadAsStringAsync()).Split("\r\n", StringSplitOptions.RemoveEmptyEntries);

        Assert.Equal("text/csv", response.Content.Headers.ContentType!.MediaType);
        Assert.StartsWith("tool,command,runs,failed_runs,aborted_runs,success_rate,ci_low,ci_high,judged_runs,installations", lines[0], StringComparison.Ordinal);
        Assert.StartsWith("dbt,run,2,1,0,0.5,", lines[1], StringComparison.Ordinal);
        Assert.StartsWith("dbt,'=cmd|' /C calc'!A0,1,0,0,1,", lines[2], StringComparison.Ordinal);
    }

    [Fact]
    public async Task Overview_Page_RendersHeadlineNumbers()
    {
        await using var app = CreateApp();

        var response = await (await app.CreateClientAsAsync(UsageDashboard.Access.Roles.Viewer)).GetAsync("/?range=7d");
        var html = await response.Content.ReadAsStringAsync();

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Contains("Daily active installations", html, StringComparison.Ordinal);
        Assert.Contains("data-chart=", html, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("a,b", "\"a,b\"")]
    [InlineData("say \"hi\"", "\"say \"\"hi\"\"\"")]
    [InlineData("-1.5", "-1.5")]
    [InlineData("@SUM(A1)", "'@SUM(A1)")]
    public void CsvField_SpecialCharacters_QuotedOrNeutralised(string value, string expected)
    {
        Assert.Equal(expected, InsightsApi.CsvField(value));
    }
}
