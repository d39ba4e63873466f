using System.Net;
using System.Text.Json;
using UsageDashboard.Store;
using UsageDashboard.Tests.Infrastructure;
using static UsageDashboard.Tests.Infrastructure.TestEvents;

namespace UsageDashboard.Tests.Releases;

/// <summary>
/// Release diffs over hand-built data with a known excess. Tool "reltool": 1.0.0 on linux (200 runs, 10
/// failed) and windows (100, 5), all Timeout; 1.1.0 on linux (100, 5 Timeout) and windows (100, 45: 5
/// Timeout and 40 ConnectionError): 40 excess failures, all in windows · python 3.11 · run. Installations
/// a0–a4 ran 1.1.0 on day −4 and 1.0.0 on day −2 (rolled back). Tool "plugtool": tap-x 1.0 failing 5
/// of 100, 2.0 failing 25 of 100 on linux.
/// </summary>
public sealed class ReleaseApiTests(ReleaseApiTests.Db db) : IClassFixture<ReleaseApiTests.Db>
{
    internal static readonly DateTimeOffset Now = new(2026, 11, 20, 12, 0, 0, TimeSpan.Zero);

    public sealed class Db : DatabaseFixture
    {
        public override async Task InitializeAsync()
        {
            await base.InitializeAsync();
            var now = Now.UtcDateTime;
            var events = new List<TelemetryEvent>();
            void Add(string version, string os, int daysAgo, string[] installations, int runsEach, int failures, string error, int secondErrorFrom = int.MaxValue, string? secondError = null)
            {
                var n = 0;
                foreach (var inst in installations)
                {
                    for (var r = 0; r < runsEach; r++, n++)
                    {
                        var failed = n < failures;
                        events.Add(CreateEvent(tool: "reltool", installationId: inst, at: now.AddDays(-daysAgo).AddMinutes(-n - 1), toolVersion: version, osName: os,
                            runtimeName: "python", runtimeVersion: "3.11.9", command: "run", status: failed ? RunStatus.Failed : RunStatus.Succeeded,
                            errorType: failed ? (n >= secondErrorFrom ? secondError : error) : null));
                    }
                }
            }
            string[] Ids(string prefix, int from, int to) => Enumerable.Range(from, to - from).Select(i => $"{prefix}{i}").ToArray();
            Add("1.0.0", "linux", 2, Ids("a", 0, 10), 20, 10, "Timeout");
            Add("1.0.0", "windows", 3, Ids("w", 5, 10), 20, 5, "Timeout");
            Add("1.1.0", "linux", 4, Ids("a", 0, 5), 20, 5, "Timeout");
            Add("1.1.0", "windows", 1, Ids("w", 0, 5), 20, 45, "Timeout", secondErrorFrom: 5, secondError: "ConnectionError");
            for (var i = 0; i < 200; i++)
            {
                var version = i < 100 ? "1.0" : "2.0";
                var failed = i % 100 < (i < 100 ? 5 : 25);
                var status = failed ? RunStatus.Failed : RunStatus.Succeeded;
                events.Add(CreateEvent(tool: "plugtool", installationId: $"p{i % 10}", at: now.AddDays(-1).AddMinutes(-i - 1), status: status, errorType: failed ? "Boom" : null,
                    plugins: [new PluginRef { Name = "tap-x", Type = "extractors", Version = version, Status = status }]));
            }
            await CreateWriter(this, new FakeTimeProvider(Now)).WriteAsync(events, default);
            await TestRollups.RefreshAsync(this);
        }
    }

    private AppFactory CreateApp() => new(db.ConnectionString, new FakeTimeProvider(Now), new Dictionary<string, string?> { ["Health:RunInBackground"] = "false" });

    private static async Task<JsonElement> GetJsonAsync(HttpClient client, string url)
    {
        var response = await client.GetAsync(url);
        var body = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.OK, body);
        return JsonDocument.Parse(body).RootElement.Clone();
    }

    [Fact]
    public async Task GetRelease_KnownExcessInOneSlice_RanksItFirstWithExactFigures()
    {
        await using var app = CreateApp();
        var client = await app.CreateClientAsAsync(UsageDashboard.Access.Roles.Viewer, TokenScopes.Read);

        var json = await GetJsonAsync(client, "/api/insights/releases/reltool/1.1.0");

        Assert.Equal("1.0.0", json.GetProperty("baseline").GetProperty("version").GetString());
        Assert.Equal(300, json.GetProperty("baseline").GetProperty("judgedRuns").GetInt64());
        Assert.Equal(15, json.GetProperty("baseline").GetProperty("failures").GetInt64());
        Assert.Equal(200, json.GetProperty("current").GetProperty("judgedRuns").GetInt64());
        Assert.Equal(50, json.GetProperty("current").GetProperty("failures").GetInt64());
        Assert.Equal(0.2, json.GetProperty("change").GetDouble(), 6);
        var top = json.GetProperty("slices")[0];
        Assert.Equal("windows · python 3.11 · run", top.GetProperty("slice").GetString());
        Assert.Equal(40, top.GetProperty("excessFailures").GetDouble(), 6);
        Assert.Equal(5, top.GetProperty("expectedFailures").GetDouble(), 6);
        Assert.Equal(1, top.GetProperty("shareOfExcess").GetDouble(), 6);
        Assert.Equal(0, json.GetProperty("slices")[1].GetProperty("excessFailures").GetDouble(), 6);
        Assert.Equal("windows", json.GetProperty("headline").GetProperty("key")[0].GetString());
        var connection = json.GetProperty("errorTypes").EnumerateArray().Single(e => e.GetProperty("errorType").GetString() == "ConnectionError");
        Assert.True(connection.GetProperty("isNew").GetBoolean());
        Assert.Equal(40, connection.GetProperty("count").GetInt64());
        Assert.Equal(0.8, connection.GetProperty("share").GetDouble(), 6);
        Assert.Equal(40, connection.GetProperty("excess").GetDouble(), 6);
        var timeout = json.GetProperty("errorTypes").EnumerateArray().Single(e => e.GetProperty("errorType").GetString() == "Timeout");
        Assert.Equal(0, timeout.GetProperty("excess").GetDouble(), 6);
        Assert.False(timeout.GetProperty("isNew").GetBoolean());
        // a0–a4 ran 1.1.0 four days ago and 1.0.0 two days ago; w0–w4 stayed.
        Assert.Equal(10, json.GetProperty("rollback").GetProperty("installations").GetInt64());
        Assert.Equal(5, json.GetProperty("rollback").GetProperty("rolledBack").GetInt64());
        var yesterday = json.GetProperty("adoption").EnumerateArray().Single(a => a.GetProperty("day").GetString() == "2026-11-19");
        Assert.Equal(5, yesterday.GetProperty("installations").GetInt64());
        Assert.Equal(5, yesterday.GetProperty("allInstallations").GetInt64());
        Assert.Equal("/releases/reltool/1.1.0", json.GetProperty("url").GetString());
    }

    [Fact]
    public async Task GetRelease_CellsAndSides_EqualRawSqlOverRuns()
    {
        await using var app = CreateApp();
        var client = await app.CreateClientAsAsync(UsageDashboard.Access.Roles.Viewer, TokenScopes.Read);
        var json = await GetJsonAsync(client, "/api/insights/releases/reltool/1.1.0");

        // The oracle: the same cells straight from runs, with no rollup in between.
        await using var cmd = db.DataSource.CreateCommand("""
            SELECT os_name || ' · ' || runtime_name || ' ' || substring(runtime_version FROM '^[0-9]+\.[0-9]+') || ' · ' || command,
                   count(*) FILTER (WHERE status IN ('succeeded', 'failed', 'aborted')), count(*) FILTER (WHERE status IN ('failed', 'aborted'))
            FROM runs WHERE tool = 'reltool' AND tool_version = '1.1.0' AND NOT is_ci AND occurred_at >= @from
            GROUP BY 1 ORDER BY 1
            """);
        cmd.Parameters.AddWithValue("from", new DateTime(2026, 11, 16, 0, 0, 0, DateTimeKind.Utc));
        var expected = new List<string>();
        await using (var reader = await cmd.ExecuteReaderAsync())
        {
            while (await reader.ReadAsync())
            {
                expected.Add($"{reader.GetString(0)}:{reader.GetInt64(1)}:{reader.GetInt64(2)}");
            }
        }
        var actual = json.GetProperty("slices").EnumerateArray()
            .Select(s => $"{s.GetProperty("slice").GetString()}:{s.GetProperty("judgedRuns").GetInt64()}:{s.GetProperty("failures").GetInt64()}")
            .Order(StringComparer.Ordinal).ToList();
        Assert.Equal(expected, actual);
        Assert.Equal("2026-11-16", json.GetProperty("current").GetProperty("from").GetString());
    }

    [Fact]
    public async Task GetRelease_Csv_RankedSlices()
    {
        await using var app = CreateApp();
        var client = await app.CreateClientAsAsync(UsageDashboard.Access.Roles.Viewer, TokenScopes.Read);

        var response = await client.GetAsync("/api/insights/releases/reltool/1.1.0?format=csv");

        Assert.Equal("text/csv", response.Content.Headers.ContentType!.MediaType);
        var lines = (await response.Content.ReadAsStringAsync()).Split("\r\n");
        Assert.StartsWith("rank,os,runtime,command,judged_runs,failures", lines[0]);
        Assert.StartsWith("1,windows,python 3.11,run,100,45,0.45,100,5,5,40,", lines[1]);
    }

    [Fact]
    public async Task ComparePlugin_TwoVersions_ExcessAndErrorTypes()
    {
        await using var app = CreateApp();
        var client = await app.CreateClientAsAsync(UsageDashboard.Access.Roles.Viewer, TokenScopes.Read);

        var json = await GetJsonAsync(client, "/api/insights/plugins/tap-x/compare?tool=plugtool&from=1.0&to=2.0");

        Assert.Equal(100, json.GetProperty("baseline").GetProperty("judgedRuns").GetInt64());
        Assert.Equal(25, json.GetProperty("current").GetProperty("failures").GetInt64());
        Assert.Equal(20, json.GetProperty("slices")[0].GetProperty("excessFailures").GetDouble(), 6);
        Assert.Equal(20, json.GetProperty("errorTypes")[0].GetProperty("excess").GetDouble(), 6);
        Assert.Equal("/plugins/tap-x/compare?tool=plugtool&from=1.0&to=2.0", json.GetProperty("url").GetString());
    }

    [Fact]
    public async Task ComparePlugin_TwoPeriods_ComparesAllVersions()
    {
        await using var app = CreateApp();
        var client = await app.CreateClientAsAsync(UsageDashboard.Access.Roles.Viewer, TokenScopes.Read);

        var json = await GetJsonAsync(client, "/api/insights/plugins/tap-x/compare?tool=plugtool&from=2026-11-01..2026-11-10&to=2026-11-11..2026-11-20");

        Assert.Equal(0, json.GetProperty("baseline").GetProperty("judgedRuns").GetInt64());
        Assert.Equal(200, json.GetProperty("current").GetProperty("judgedRuns").GetInt64());
    }

    [Theory]
    [InlineData("/api/insights/releases/reltool/9.9.9", HttpStatusCode.NotFound)]
    [InlineData("/api/insights/releases/nosuchtool/1.0", HttpStatusCode.NotFound)]
    [InlineData("/api/insights/plugins/tap-nope/compare?tool=plugtool&from=1.0&to=2.0", HttpStatusCode.NotFound)]
    [InlineData("/api/insights/plugins/tap-x/compare?tool=plugtool&from=1.0", HttpStatusCode.BadRequest)]
    [InlineData("/api/insights/plugins/tap-x/compare?from=1.0&to=2.0", HttpStatusCode.BadRequest)]
    [InlineData("/api/insights/plugins/tap-x/compare?tool=plugtool&from=1.0&to=2026-11-01..2026-11-02", HttpStatusCode.BadRequest)]
    public async Task Get_BadOrUnknownInput_ClearClientError(string url, HttpStatusCode expected)
    {
        await using var app = CreateApp();
        var client = await app.CreateClientAsAsync(UsageDashboard.Access.Roles.Viewer, TokenScopes.Read);

        var response = await client.GetAsync(url);

        Assert.Equal(expected, response.StatusCode);
        Assert.Contains("\"error\"", await response.Content.ReadAsStringAsync());
    }

    [Fact]
    public async Task GetRelease_Anonymous_Refused()
    {
        await using var app = CreateApp();

        var response = await app.CreateClient().GetAsync("/api/insights/releases/reltool/1.1.0");

        Assert.NotEqual(HttpStatusCode.OK, response.StatusCode);
    }
}
