using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json.Nodes;
using UsageDashboard.Tests.Infrastructure;

namespace UsageDashboard.Tests.Operations;

/// <summary>Data that reaches every page, and the figures the pages show (the insights API's JSON).</summary>
public static class InsightFigures
{
    public static readonly DateTimeOffset Now = new(2026, 11, 1, 12, 0, 0, TimeSpan.Zero);

    private static readonly string[] s_pages =
    [
        "/api/insights/overview", "/api/insights/overview?tool=dbt", "/api/insights/commands", "/api/insights/plugins",
        "/api/insights/installations", "/api/insights/environments", "/api/insights/commands?period=7d",
    ];

    /// <summary>Runs of three tools over three weeks: several installations, commands, outcomes, plugins and environments.</summary>
    public static async Task PostAsync(HttpClient http)
    {
        var random = new Random(7);
        foreach (var tool in (string[])["dbt", "meltano", "jetty"])
        {
            var events = new JsonArray();
            for (var i = 0; i < 40; i++)
            {
                var e = new JsonObject
                {
                    ["eventId"] = Guid.NewGuid().ToString(),
                    ["tool"] = tool,
                    ["installationId"] = $"{tool}-installation-{random.Next(8)}",
                    ["command"] = random.Next(3) switch { 0 => "run", 1 => "test", _ => "build" },
                    ["status"] = random.Next(5) == 0 ? "failed" : "succeeded",
                    ["timestamp"] = Now.AddHours(-random.Next(1, 24 * 21)).ToString("O", System.Globalization.CultureInfo.InvariantCulture),
                    ["durationMs"] = random.Next(100, 60_000),
                    ["toolVersion"] = random.Next(2) == 0 ? "1.8.0" : "1.9.1",
                    ["os"] = new JsonObject { ["name"] = random.Next(2) == 0 ? "Linux" : "Darwin", ["version"] = "6.8.0" },
                    ["runtime"] = new JsonObject { ["name"] = "python", ["version"] = "3.12.4" },
                    ["ci"] = random.Next(3) == 0,
                };
                if (random.Next(2) == 0)
                {
                    e["plugins"] = new JsonArray(new JsonObject { ["name"] = "tap-github", ["type"] = "extractor", ["version"] = "1.4.2", ["status"] = "succeeded" });
                }
                events.Add(e);
            }
            using var request = new HttpRequestMessage(HttpMethod.Post, "/api/v1/events") { Content = new StringContent(events.ToJsonString(), Encoding.UTF8, "application/json") };
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", $"dev-{tool}-write-key");
            using var response = await http.SendAsync(request);
            var body = await response.Content.ReadAsStringAsync();
            Assert.True(response.StatusCode == HttpStatusCode.OK, body);
            Assert.Equal(40, JsonNode.Parse(body)!["accepted"]!.GetValue<int>());
        }
    }

    /// <summary>Every page's figures, by URL, as the API serves them.</summary>
    public static async Task<Dictionary<string, string>> ReadAsync(HttpClient reader)
    {
        var figures = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var page in s_pages)
        {
            using var response = await reader.GetAsync(page);
            var body = await response.Content.ReadAsStringAsync();
            Assert.True(response.StatusCode == HttpStatusCode.OK, page + ": " + body);
            figures[page] = body;
        }
        Assert.Contains("\"runs\":", figures["/api/insights/overview"], StringComparison.Ordinal);
        return figures;
    }

    public static void AssertEqual(Dictionary<string, string> before, Dictionary<string, string> after)
    {
        foreach (var (page, body) in before)
        {
            Assert.True(body == after[page], $"{page} changed:\nbefore {body}\nafter  {after[page]}");
        }
    }

    /// <summary>The app over <paramref name="connectionString"/> with the figures' fixed clock.</summary>
    public static AppFactory CreateApp(string connectionString) => new(connectionString, new FakeTimeProvider(Now));
}
