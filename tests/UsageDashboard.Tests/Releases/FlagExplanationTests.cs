using System.Net;
using System.Text.Json;
using Microsoft.Extensions.DependencyInjection;
using UsageDashboard.Access;
using UsageDashboard.Store;
using UsageDashboard.Tests.Infrastructure;
using static UsageDashboard.Tests.Infrastructure.TestEvents;

namespace UsageDashboard.Tests.Releases;

/// <summary>
/// A flag names the slice that carries its excess and links to the diff: tap-y 2.0.0 healthy for three days
/// (2% on linux and windows alike); 2.1.0 first seen two hours ago, failing 80% on windows and 2% on linux.
/// </summary>
public sealed class FlagExplanationTests(FlagExplanationTests.Db db) : IClassFixture<FlagExplanationTests.Db>
{
    private static readonly DateTimeOffset s_now = new(2026, 11, 20, 12, 0, 0, TimeSpan.Zero);

    public sealed class Db : DatabaseFixture
    {
        public override async Task InitializeAsync()
        {
            await base.InitializeAsync();
            var now = s_now.UtcDateTime;
            var events = new List<TelemetryEvent>();
            for (var i = 0; i < 600; i++)
            {
                events.Add(Run($"i{i % 30}", now.AddMinutes(-(i * 7) - 5), "2.0.0", i % 2 == 0 ? "windows" : "linux", failed: i % 50 < 2));
            }
            for (var i = 0; i < 120; i++)
            {
                var windows = i % 2 == 0;
                events.Add(Run($"n{i % 24}", now.AddMinutes(-i - 1), "2.1.0", windows ? "windows" : "linux", failed: windows ? i % 10 < 8 : i == 1));
            }
            await CreateWriter(this, new FakeTimeProvider(s_now)).WriteAsync(events, default);
            await TestRollups.RefreshAsync(this);
        }

        private static TelemetryEvent Run(string installation, DateTime at, string version, string os, bool failed)
        {
            var status = failed ? RunStatus.Failed : RunStatus.Succeeded;
            return CreateEvent(tool: "flagtool", installationId: installation, at: at, status: status, osName: os,
                plugins: [new PluginRef { Name = "tap-y", Type = "extractors", Version = version, Status = status }]);
        }
    }

    [Fact]
    public async Task Evaluate_ExcessOnOneOs_ReasonNamesSliceAndFlagLinksToDiff()
    {
        await using var app = new AppFactory(db.ConnectionString, new FakeTimeProvider(s_now), new Dictionary<string, string?> { ["Health:RunInBackground"] = "false" });
        var maintainer = await app.CreateClientAsAsync(Roles.Maintainer);

        Assert.Equal(HttpStatusCode.OK, (await maintainer.PostAsync("/api/health/evaluate", null)).StatusCode);
        using var json = JsonDocument.Parse(await maintainer.GetStringAsync("/api/health/flags?tool=flagtool"));

        var flag = json.RootElement.GetProperty("items").EnumerateArray().Single(f => f.GetProperty("name").GetString() == "tap-y");
        Assert.Equal("2.1.0", flag.GetProperty("version").GetString());
        Assert.EndsWith("100% of the excess failures: windows · python 3.11 · run.", flag.GetProperty("reason").GetString(), StringComparison.Ordinal);
        Assert.Equal("/plugins/tap-y/compare?tool=flagtool&from=2.0.0&to=2.1.0", flag.GetProperty("diffUrl").GetString());
        await using var scope = app.Services.CreateAsyncScope();
        var stored = scope.ServiceProvider.GetRequiredService<UsageDbContext>().HealthFlags.Single(f => f.Tool == "flagtool" && f.Kind == "plugin");
        using var evidence = JsonDocument.Parse(stored.Evidence);
        Assert.Equal("windows · python 3.11 · run", evidence.RootElement.GetProperty("topSlice").GetString());
    }
}
