using System.Net;
using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.Extensions.DependencyInjection;
using UsageDashboard.Access;
using UsageDashboard.Catalog;
using UsageDashboard.Health;
using UsageDashboard.Store;
using UsageDashboard.Tests.Infrastructure;
using UsageDashboard.Tests.Ingestion;
using static UsageDashboard.Tests.Ingestion.Payloads;

namespace UsageDashboard.Tests.Catalog;

/// <summary>
/// Meltano as it really sends (reference/telemetry-formats §2.6: every plugin field a SHA-256 digest, no
/// version) posted to the collector, read back where a maintainer reads it.
/// </summary>
public sealed class MeltanoEndToEndTests : IClassFixture<MeltanoEndToEndTests.Fixture>
{
    public sealed class Fixture : IngestionFixture
    {
        protected override IReadOnlyDictionary<string, string?> Settings => new Dictionary<string, string?> { ["Health:RunInBackground"] = "false" };
    }

    private const string Tp2 = "/com.snowplowanalytics.snowplow/tp2";
    private static readonly string s_privateName = PluginCatalog.Sha256Hex("tap-acme-internal");

    private readonly Fixture _app;

    public MeltanoEndToEndTests(Fixture app) => _app = app;

    [Fact]
    public async Task PostMeltano_HashedHubAndPrivatePlugins_MaintainerReadsNamesAndHubPublishesOnlyPublicOnes()
    {
        await _app.ResetAsync();
        var tapGithub = Plugin("extractors", "tap-github", "meltanolabs", "tap_github", "meltanolabs-tap-github");
        var targetPostgres = Plugin("loaders", "target-postgres", "meltanolabs", "target_postgres", "meltanolabs-target-postgres");
        var acme = Plugin("extractors", "tap-acme-internal", "acme", "tap_acme", "git+https://git.acme.example/tap-acme.git");
        var pinned = Plugin("extractors", "tap-github", "meltanolabs", "tap_github", "meltanolabs-tap-github==1.2.0");
        var events = new List<JsonObject>();
        for (var i = 0; i < 7; i++)
        {
            // Seven projects run tap-github → target-postgres from the hub defaults; each also runs its private tap.
            events.AddRange(Process(Guid.NewGuid().ToString(), i, tapGithub, targetPostgres));
            events.AddRange(Process(Guid.NewGuid().ToString(), i, acme, targetPostgres));
        }
        events.AddRange(Process(Guid.NewGuid().ToString(), 8, pinned, targetPostgres));

        var response = await _app.Client(null).PostAsync(Tp2, Json(PayloadData([.. events]).ToJsonString(), "application/json; charset=utf-8"));

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal(0, await _app.CountAsync("SELECT count(*) FROM quarantine"));
        await TestRollups.RefreshAsync(_app);

        // Inside the dashboard: names and variants, the private tap as private, no digest anywhere.
        var viewer = await _app.App.CreateClientAsAsync(Roles.Viewer);
        var list = await viewer.GetStringAsync("/api/insights/plugins?tool=meltano&range=30d");
        using (var doc = JsonDocument.Parse(list))
        {
            var items = doc.RootElement.GetProperty("items").EnumerateArray().ToList();
            var github = items.Single(p => p.GetProperty("plugin").GetString() == "tap-github (meltanolabs)");
            Assert.Equal("tap-github", github.GetProperty("key").GetString());
            Assert.Equal("meltanolabs", github.GetProperty("variant").GetString());
            Assert.Equal(8, github.GetProperty("installations").GetInt64());
            Assert.Contains(items, p => p.GetProperty("plugin").GetString() == "private extractor · " + s_privateName[..6]);
            // Only a private plugin's page key (its URL) is the stored digest; nothing a person reads is.
            Assert.All(items, p => Assert.DoesNotMatch("[0-9a-f]{64}", p.GetProperty("plugin").GetString()!));
        }
        var csv = await viewer.GetStringAsync("/api/insights/plugins?tool=meltano&range=30d&format=csv");
        Assert.Contains("tap-github (meltanolabs)", csv, StringComparison.Ordinal);
        Assert.DoesNotMatch("[0-9a-f]{64}", csv);
        var detail = await viewer.GetStringAsync("/api/insights/plugins/tap-github?tool=meltano&range=30d");
        Assert.Contains("\"meltanolabs · default pip_url\"", detail, StringComparison.Ordinal);
        Assert.Contains("\"meltanolabs · custom pip_url · " + PluginCatalog.Sha256Hex("meltanolabs-tap-github==1.2.0")[..6] + "\"", detail, StringComparison.Ordinal);
        var page = WebUtility.HtmlDecode(await viewer.GetStringAsync("/plugins?tool=meltano&range=30d"));
        Assert.Contains("tap-github (meltanolabs)", page, StringComparison.Ordinal);
        Assert.Contains("private extractor · " + s_privateName[..6], page, StringComparison.Ordinal);

        // A broken flag on tap-github's default pip_url, stored (as the detector stores it) with digests.
        var stored = PluginNames.StoredName(PluginCatalog.Sha256Hex("tap-github"), PluginCatalog.Sha256Hex("meltanolabs"));
        var defaultPipUrl = PluginCatalog.Sha256Hex("meltanolabs-tap-github");
        var now = IngestionFixture.Now.UtcDateTime;
        var flag = new HealthFlag
        {
            Tool = "meltano", Kind = "plugin", Name = stored, Version = defaultPipUrl, Severity = "broken", State = "open", Method = "history",
            Reason = $"{stored} {defaultPipUrl} failed 38% of 410 runs (95% CI 33%–43%) from 41 installations since 2026-10-31 08:00 UTC; 2.0% of 17,000 runs in the 7 d before",
            Evidence = "{}", FirstSeen = now.AddDays(-30), OpenedAt = now, UpdatedAt = now,
        };
        await using (var db = _app.CreateDbContext())
        {
            db.HealthFlags.Add(flag);
            await db.SaveChangesAsync();
        }
        var flags = await viewer.GetStringAsync("/api/health/flags?tool=meltano");
        Assert.Contains("\"title\":\"tap-github (meltanolabs, default pip_url)\"", flags, StringComparison.Ordinal);
        Assert.Contains("\"reason\":\"tap-github (meltanolabs, default pip_url) failed 38% of 410 runs", flags, StringComparison.Ordinal);
        Assert.DoesNotMatch("[0-9a-f]{64}", flags);
        var webhook = WebhookPayload.Create(flag, new HealthFlagEvent { FlagId = flag.Id, At = now, Action = "opened", Severity = "broken", Reason = flag.Reason },
            "http://dashboard", _app.App.Services.GetRequiredService<PluginNames>());
        Assert.Contains("[broken] opened: tap-github (meltanolabs, default pip_url) failed 38%", webhook, StringComparison.Ordinal);
        Assert.DoesNotMatch("[0-9a-f]{64}", webhook);

        // Published: the hub's (name, variant) with its default pip_url; never the private tap, nor the lone pin.
        // The flag's status follows onto the hub and its badge.
        var anonymous = _app.App.CreateClient();
        var hub = await anonymous.GetStringAsync("/api/hub/meltano/plugins");
        using (var doc = JsonDocument.Parse(hub))
        {
            var names = doc.RootElement.GetProperty("items").EnumerateArray().Select(p => p.GetProperty("name").GetString()).ToList();
            Assert.Contains("tap-github--meltanolabs", names);
            Assert.Contains("target-postgres--meltanolabs", names);
        }
        var one = await anonymous.GetStringAsync("/api/hub/meltano/plugins/tap-github--meltanolabs");
        Assert.Contains("\"default pip_url\"", one, StringComparison.Ordinal);
        using (var doc = JsonDocument.Parse(one))
        {
            Assert.Equal("broken", doc.RootElement.GetProperty("status").GetString());
            Assert.Equal("default pip_url", doc.RootElement.GetProperty("brokenVersions")[0].GetString());
        }
        Assert.Contains("\"message\":\"broken\"", await anonymous.GetStringAsync("/badges/meltano/tap-github--meltanolabs.json"), StringComparison.Ordinal);
        Assert.DoesNotContain("custom", one, StringComparison.Ordinal);
        Assert.DoesNotContain(s_privateName, hub, StringComparison.Ordinal);
        Assert.DoesNotContain(s_privateName[..6], hub, StringComparison.Ordinal);
        Assert.DoesNotContain("private", hub, StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.OK, (await anonymous.GetAsync("/badges/meltano/tap-github--meltanolabs.json")).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await anonymous.GetAsync($"/badges/meltano/{s_privateName}.json")).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await anonymous.GetAsync($"/api/hub/meltano/plugins/{s_privateName}.{PluginCatalog.Sha256Hex("acme")}")).StatusCode);
    }

    /// <summary>A plugins_context entry as Meltano builds it: every field a SHA-256 hex digest, no version.</summary>
    private static JsonObject Plugin(string category, string name, string variant, string ns, string pipUrl) => new()
    {
        ["category"] = category,
        ["name_hash"] = PluginCatalog.Sha256Hex(name),
        ["namespace_hash"] = PluginCatalog.Sha256Hex(ns),
        ["executable_hash"] = PluginCatalog.Sha256Hex(name),
        ["variant_name_hash"] = PluginCatalog.Sha256Hex(variant),
        ["pip_url_hash"] = PluginCatalog.Sha256Hex(pipUrl),
        ["parent_name_hash"] = null,
        ["command"] = null,
    };

    /// <summary>One `meltano run` process: started, completed and exit events sharing its contexts (not in CI, so the hub counts it).</summary>
    private static IEnumerable<JsonObject> Process(string client, int minute, params JsonObject[] plugins)
    {
        var process = Guid.NewGuid().ToString();
        var contexts = JsonNode.Parse(MeltanoContexts(process))!.AsObject();
        foreach (var item in contexts["data"]!.AsArray())
        {
            var data = item!["data"]!.AsObject();
            switch (item["schema"]!.GetValue<string>())
            {
                case "iglu:com.meltano/environment_context/jsonschema/1-3-0":
                    data["is_ci_environment"] = false;
                    data["notable_flag_env_vars"] = new JsonObject { ["CI"] = false, ["GITHUB_ACTIONS"] = false };
                    break;
                case "iglu:com.meltano/project_context/jsonschema/1-1-0":
                    data["client_uuid"] = client;
                    data["project_uuid"] = Guid.NewGuid().ToString();
                    break;
                case "iglu:com.meltano/plugins_context/jsonschema/1-0-0":
                    data["plugins"] = new JsonArray(plugins.Select(p => (JsonNode)p.DeepClone()).ToArray());
                    break;
            }
        }
        var cx = contexts.ToJsonString();
        var at = IngestionFixture.Now.AddHours(-3).AddMinutes(minute);
        yield return MeltanoEvent("iglu:com.meltano/cli_event/jsonschema/1-0-1", CliEvent("started"), at, cx);
        yield return MeltanoEvent("iglu:com.meltano/cli_event/jsonschema/1-0-1", CliEvent("completed"), at.AddSeconds(20), cx);
        yield return MeltanoEvent("iglu:com.meltano/exit_event/jsonschema/1-0-1",
            new JsonObject { ["exit_code"] = 0, ["exit_timestamp"] = at.AddSeconds(20).ToString("O"), ["process_duration_microseconds"] = 20_000_000 }, at.AddSeconds(20), cx);
    }
}
