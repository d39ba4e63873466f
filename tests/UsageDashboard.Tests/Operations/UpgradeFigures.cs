using System.Globalization;
using System.Text.Json.Nodes;
using Npgsql;

namespace UsageDashboard.Tests.Operations;

/// <summary>
/// The counts the insight pages show for one period, as a flat "figure → count" map, from two independent
/// sources: plain SQL over the tables every release has (<c>runs</c>, <c>run_plugins</c>), which reads a
/// store of the previous release exactly as it is, and the app's insights API (what the pages render).
/// </summary>
public static class UpgradeFigures
{
    /// <summary>The periods compared: the range presets a page offers.</summary>
    public static readonly string[] Ranges = ["7d", "30d", "90d"];

    /// <summary>
    /// The oracle: the figures computed by SQL alone, the way the pages define them (a run counts on the UTC
    /// day it occurred; an installation, which belongs to one tool, is active when it has a run in the period).
    /// </summary>
    public static async Task<SortedDictionary<string, long>> FromSqlAsync(NpgsqlDataSource dataSource, string range, DateOnly today)
    {
        var days = int.Parse(range.TrimEnd('d'), CultureInfo.InvariantCulture);
        var from = today.AddDays(1 - days).ToDateTime(TimeOnly.MinValue, DateTimeKind.Utc);
        var to = today.AddDays(1).ToDateTime(TimeOnly.MinValue, DateTimeKind.Utc);
        var figures = new SortedDictionary<string, long>(StringComparer.Ordinal);
        const string Period = "occurred_at >= @from AND occurred_at < @to";
        await ReadAsync(dataSource, $"""
            SELECT 'runs', count(*) FROM runs WHERE {Period}
            UNION ALL SELECT 'succeeded', count(*) FROM runs WHERE {Period} AND status = 'succeeded'
            UNION ALL SELECT 'failed', count(*) FROM runs WHERE {Period} AND status = 'failed'
            UNION ALL SELECT 'aborted', count(*) FROM runs WHERE {Period} AND status = 'aborted'
            UNION ALL SELECT 'active installations', count(DISTINCT (tool, installation_id)) FROM runs WHERE {Period}
            """, from, to, figures);
        await ReadAsync(dataSource, $"""
            SELECT 'command ' || tool || '/' || command || ' ' || k, CASE k WHEN 'runs' THEN runs ELSE installations END
            FROM (SELECT tool, command, count(*) AS runs, count(DISTINCT installation_id) AS installations
                  FROM runs WHERE {Period} AND command IS NOT NULL GROUP BY tool, command) c,
                 (VALUES ('runs'), ('installations')) v(k)
            """, from, to, figures);
        await ReadAsync(dataSource, $"""
            SELECT 'plugin ' || tool || '/' || name || ' ' || k, CASE k WHEN 'runs' THEN runs ELSE installations END
            FROM (SELECT tool, name, count(*) AS runs, count(DISTINCT installation_id) AS installations
                  FROM run_plugins WHERE {Period} GROUP BY tool, name) p,
                 (VALUES ('runs'), ('installations')) v(k)
            """, from, to, figures);
        await ReadAsync(dataSource, $"""
            SELECT 'os ' || os || ' ' || k, CASE k WHEN 'runs' THEN runs ELSE installations END
            FROM (SELECT coalesce(os_name, 'unknown') AS os, count(*) AS runs, count(DISTINCT (tool, installation_id)) AS installations
                  FROM runs WHERE {Period} GROUP BY 1) o,
                 (VALUES ('runs'), ('installations')) v(k)
            """, from, to, figures);
        return figures;
    }

    /// <summary>The same figures as the insights API serves them to the pages (overview, commands, plugins, installations, environments).</summary>
    public static async Task<SortedDictionary<string, long>> FromApiAsync(HttpClient client, string range)
    {
        var figures = new SortedDictionary<string, long>(StringComparer.Ordinal);
        var overview = await GetAsync(client, "/api/insights/overview?range=" + range);
        figures["runs"] = (long)overview["runs"]!;
        figures["active installations"] = (long)overview["activeInstallations"]!;
        var commands = await GetAsync(client, "/api/insights/commands?range=" + range);
        Assert.Equal(figures["runs"], (long)commands["totalRuns"]!);
        foreach (var c in commands["items"]!.AsArray())
        {
            var key = $"command {c!["tool"]}/{c["command"]} ";
            figures[key + "runs"] = (long)c["runs"]!;
            figures[key + "installations"] = (long)c["installations"]!;
            figures["succeeded"] = figures.GetValueOrDefault("succeeded") + (long)c["succeededRuns"]!;
            figures["failed"] = figures.GetValueOrDefault("failed") + (long)c["failedRuns"]!;
            figures["aborted"] = figures.GetValueOrDefault("aborted") + (long)c["abortedRuns"]!;
        }
        // The overview's top commands are the commands page's rows, cut short.
        foreach (var c in overview["topCommands"]!.AsArray())
        {
            var key = $"command {c!["tool"]}/{c["command"]} ";
            Assert.Equal(figures[key + "runs"], (long)c["runs"]!);
            Assert.Equal(figures[key + "installations"], (long)c["installations"]!);
        }
        var plugins = await GetAsync(client, "/api/insights/plugins?range=" + range);
        foreach (var p in plugins["items"]!.AsArray())
        {
            var key = $"plugin {p!["tool"]}/{p["plugin"]} ";
            figures[key + "runs"] = (long)p["runs"]!;
            figures[key + "installations"] = (long)p["installations"]!;
        }
        var installations = await GetAsync(client, "/api/insights/installations?active=any&range=" + range);
        Assert.Equal(figures["active installations"], (long)installations["activeInstallations"]!);
        var environments = await GetAsync(client, "/api/insights/environments?range=" + range);
        Assert.Equal(figures["active installations"], (long)environments["installations"]!);
        foreach (var v in environments["items"]!.AsArray().Where(v => (string)v!["dimension"]! == "os"))
        {
            figures[$"os {v!["value"]} runs"] = (long)v["runs"]!;
            figures[$"os {v["value"]} installations"] = (long)v["installations"]!;
        }
        return figures;
    }

    private static async Task<JsonNode> GetAsync(HttpClient client, string url)
    {
        using var response = await client.GetAsync(url);
        var body = await response.Content.ReadAsStringAsync();
        Assert.True(response.IsSuccessStatusCode, url + ": " + body);
        var json = JsonNode.Parse(body)!;
        Assert.Empty(json["warnings"]!.AsArray());
        return json;
    }

    private static async Task ReadAsync(NpgsqlDataSource dataSource, string sql, DateTime from, DateTime to, IDictionary<string, long> into)
    {
        await using var cmd = dataSource.CreateCommand(sql);
        cmd.Parameters.AddWithValue("from", from);
        cmd.Parameters.AddWithValue("to", to);
        await using var reader = await cmd.ExecuteReaderAsync();
        while (await reader.ReadAsync())
        {
            into[reader.GetString(0)] = reader.GetInt64(1);
        }
    }
}
