using System.Text.Json;
using System.Net;
using System.Text.Json.Nodes;
using static UsageDashboard.Tests.Ingestion.Payloads;

namespace UsageDashboard.Tests.Ingestion;

public sealed class SnowplowEndpointTests : IClassFixture<SnowplowEndpointTests.Fixture>, IAsyncLifetime
{
    public sealed class Fixture : IngestionFixture;

    private const string Tp2 = "/com.snowplowanalytics.snowplow/tp2";
    private static readonly DateTimeOffset s_start = IngestionFixture.Now.AddMinutes(-30);

    private readonly Fixture _app;

    public SnowplowEndpointTests(Fixture app) => _app = app;

    public Task InitializeAsync() => _app.ResetAsync();

    public Task DisposeAsync() => Task.CompletedTask;

    private Task<HttpResponseMessage> PostAsync(params JsonObject[] events) =>
        _app.Client(null).PostAsync(Tp2, Json(PayloadData(events).ToJsonString(), "application/json; charset=utf-8"));

    [Fact]
    public async Task PostTp2_DbtRunWithOneModel_SucceededRunWithAdapterPlugin()
    {
        const string inv = "c2a4e7d0-51b2-4f3e-8f6a-1e9d0b3c7a55";
        var start = DbtEvent("invocation", "start", s_start, Contexts(DbtInvocation(inv, "start"), DbtPlatform(), DbtEnv()));
        var project = DbtEvent("project_id", inv, s_start.AddSeconds(1), Contexts(Context("iglu:com.dbt/project_id/jsonschema/1-0-1", new JsonObject { ["project_id"] = "06e5b98c2db46f8a72cc4f66410e9b3b" })));
        var adapter = DbtEvent("adapter_info", inv, s_start.AddSeconds(2), Contexts(Context("iglu:com.dbt/adapter_info/jsonschema/1-0-1", new JsonObject { ["adapter_type"] = "snowflake", ["adapter_unique_id"] = "0f1e2d3c4b5a69788796a5b4c3d2e1f0" })));
        var model = DbtEvent("run_model", inv, s_start.AddSeconds(26), Contexts(DbtRunModel(inv)));
        var end = DbtEvent("invocation", "end", s_start.AddSeconds(28), Contexts(DbtInvocation(inv, "end", "ok"), DbtPlatform(), DbtEnv()));

        var response = await PostAsync(start, project, adapter, model, end);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal(5, await _app.CountAsync("SELECT count(*) FROM events WHERE tool = 'dbt' AND source = 'snowplow'"));
        Assert.Equal(0, await _app.CountAsync("SELECT count(*) FROM quarantine"));
        var run = Assert.Single(await _app.RowsAsync("SELECT * FROM runs"));
        Assert.Equal(inv, run["run_key"]);
        Assert.Equal(DbtUser, run["installation_id"]);
        Assert.Equal("run", run["command"]);
        Assert.Equal("succeeded", run["status"]);
        Assert.Equal(28_000L, run["duration_ms"]);
        Assert.Equal("linux", run["os_name"]);
        Assert.Equal("6.8.0", run["os_version"]);
        Assert.Equal("3.11.9", run["runtime_version"]);
        Assert.Equal("1.11.2", run["tool_version"]);
        Assert.Equal("github-actions", run["environment"]);
        Assert.True((bool)run["is_ci"]!);
        var plugin = Assert.Single(await _app.RowsAsync("SELECT * FROM run_plugins"));
        Assert.Equal("snowflake", plugin["name"]);
        Assert.Equal("adapter", plugin["type"]);
        Assert.Equal("1.10.2", plugin["version"]);
        Assert.Equal("succeeded", plugin["status"]);
        var names = (await _app.RowsAsync("SELECT event_name FROM events ORDER BY occurred_at")).Select(r => (string)r["event_name"]!);
        Assert.Equal(["invocation_start", "project_id", "adapter_info", "run_model", "invocation_end"], names);
    }

    [Fact]
    public async Task PostTp2_DbtModelErrorAndRunError_FailedRunAndFailedAdapter()
    {
        const string inv = "11111111-51b2-4f3e-8f6a-1e9d0b3c7a55";
        var start = DbtEvent("invocation", "start", s_start, Contexts(DbtInvocation(inv, "start"), DbtPlatform(), DbtEnv("manual")));
        var model = DbtEvent("run_model", inv, s_start.AddSeconds(5), Contexts(DbtRunModel(inv, "ERROR")));
        var end = DbtEvent("invocation", "end", s_start.AddSeconds(6), Contexts(DbtInvocation(inv, "end", "error"), DbtPlatform(), DbtEnv("manual")));

        await PostAsync(start, model, end);

        var run = Assert.Single(await _app.RowsAsync("SELECT status, is_ci FROM runs"));
        Assert.Equal("failed", run["status"]);
        Assert.False((bool)run["is_ci"]!);
        Assert.Equal("failed", (await _app.RowsAsync("SELECT status FROM run_plugins"))[0]["status"]);
    }

    [Fact]
    public async Task PostTp2_DbtInvalidInvocation_FailedWithReasonAsErrorType()
    {
        const string inv = "22222222-51b2-4f3e-8f6a-1e9d0b3c7a55";
        var invalid = DbtEvent("invocation", "invalid", s_start, Contexts(DbtInvocation(inv, "invalid", "invalid_profile", "debug"), DbtPlatform(), DbtEnv()));

        await PostAsync(invalid);

        var run = Assert.Single(await _app.RowsAsync("SELECT status, error_type, command FROM runs"));
        Assert.Equal("failed", run["status"]);
        Assert.Equal("invalid_profile", run["error_type"]);
        Assert.Equal("debug", run["command"]);
    }

    [Fact]
    public async Task PostTp2_ContextsUnpaddedStandardOrPlain_AllDecoded()
    {
        const string inv = "33333333-51b2-4f3e-8f6a-1e9d0b3c7a55";
        var contexts = Contexts(DbtInvocation(inv, "start"), DbtPlatform(), DbtEnv());
        var unpadded = DbtEvent("invocation", "start", s_start, contexts, padding: false);
        var standard = DbtEvent("invocation", "start", s_start, contexts);
        standard["cx"] = Convert.ToBase64String(System.Text.Encoding.UTF8.GetBytes(contexts));
        var plain = DbtEvent("invocation", "start", s_start, contexts);
        plain.Remove("cx");
        plain["co"] = contexts;

        await PostAsync(unpadded, standard, plain);

        Assert.Equal(3, await _app.CountAsync("SELECT count(*) FROM events WHERE command = 'run' AND run_key = $1", inv));
    }

    [Fact]
    public async Task PostTp2_ResentBatch_CountedOnce()
    {
        const string inv = "44444444-51b2-4f3e-8f6a-1e9d0b3c7a55";
        var start = DbtEvent("invocation", "start", s_start, Contexts(DbtInvocation(inv, "start"), DbtPlatform(), DbtEnv()));

        await PostAsync(start);
        await PostAsync(start);

        Assert.Equal(1, await _app.CountAsync("SELECT count(*) FROM events"));
        Assert.Equal(1, await _app.CountAsync("SELECT event_count FROM runs"));
    }

    [Fact]
    public async Task PostTp2_UnknownAppIdAndBadBase64_QuarantinedAnswer200()
    {
        var unknown = DbtEvent("invocation", "start", s_start, Contexts(DbtPlatform()));
        unknown["aid"] = "someone-else";
        var badBase64 = DbtEvent("invocation", "start", s_start, Contexts(DbtPlatform()));
        badBase64["cx"] = "!!!not base64!!!";
        var good = DbtEvent("invocation", "start", s_start, Contexts(DbtInvocation("55555555-51b2-4f3e-8f6a-1e9d0b3c7a55", "start")));

        var response = await PostAsync(unknown, badBase64, good);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal(1, await _app.CountAsync("SELECT count(*) FROM events"));
        var reasons = (await _app.RowsAsync("SELECT reason, tool, source FROM quarantine ORDER BY id")).Select(r => ((string)r["reason"]!, r["tool"] as string, (string)r["source"]!)).ToList();
        Assert.Equal([("unknown_app_id", null, "snowplow"), ("invalid_base64", "dbt", "snowplow")], reasons);
    }

    [Fact]
    public async Task PostTp2_MalformedBody_400NotRetried()
    {
        var response = await _app.Client(null).PostAsync(Tp2, Json("{\"schema\": \"iglu:com.snowplowanalytics.snowplow/payload_data/jsonschema/1-0-4\", \"data\": [{\"e\": "));

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
    }

    [Fact]
    public async Task GetPixel_DbtEventInQueryString_1x1GifAndStored()
    {
        const string inv = "66666666-51b2-4f3e-8f6a-1e9d0b3c7a55";
        var e = DbtEvent("invocation", "start", s_start, Contexts(DbtInvocation(inv, "start"), DbtPlatform(), DbtEnv()), padding: false);
        var query = string.Join('&', e.Select(kv => kv.Key + "=" + Uri.EscapeDataString(kv.Value!.GetValue<string>())));

        var response = await _app.Client(null).GetAsync("/i?" + query);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("image/gif", response.Content.Headers.ContentType!.MediaType);
        var gif = await response.Content.ReadAsByteArrayAsync();
        Assert.Equal("GIF89a"u8.ToArray(), gif[..6]);
        Assert.Equal(1, await _app.CountAsync("SELECT count(*) FROM events WHERE run_key = $1 AND status = 'started'", inv));
    }

    [Fact]
    public async Task PostTp2_MeltanoStartedCompletedExit_OneSucceededRunWithHashedPlugins()
    {
        const string process = "0198c7a2-5d31-7c4e-9a0b-3f2e1d0c9b8a";
        var contexts = MeltanoContexts(process);
        var started = MeltanoEvent("iglu:com.meltano/cli_event/jsonschema/1-0-1", CliEvent("started"), s_start, contexts);
        var completed = MeltanoEvent("iglu:com.meltano/cli_event/jsonschema/1-0-1", CliEvent("completed"), s_start.AddSeconds(24), contexts);
        var exit = MeltanoEvent("iglu:com.meltano/exit_event/jsonschema/1-0-1",
            new JsonObject { ["exit_code"] = 0, ["exit_timestamp"] = "2026-11-01T11:30:25.102311+00:00", ["process_duration_microseconds"] = 24972311 },
            s_start.AddSeconds(25), contexts);

        await PostAsync(started, completed, exit);

        var run = Assert.Single(await _app.RowsAsync("SELECT * FROM runs"));
        Assert.Equal("meltano", run["tool"]);
        Assert.Equal(process, run["run_key"]);
        Assert.Equal(MeltanoClient, run["installation_id"]);
        Assert.Equal("run", run["command"]);
        Assert.Equal("succeeded", run["status"]);
        Assert.Equal(24_972L, run["duration_ms"]);
        Assert.Equal("linux", run["os_name"]);
        Assert.Equal("ubuntu 22.04", run["os_version"]);
        Assert.Equal("3.12.4", run["runtime_version"]);
        Assert.Equal("4.0.3", run["tool_version"]);
        Assert.True((bool)run["is_ci"]!);
        Assert.Equal(3, run["event_count"]);
        // Stored as sent: (name digest '.' variant digest) is the plugin, the pip_url digest its version.
        var plugins = (await _app.RowsAsync("SELECT name, type, version, status FROM run_plugins ORDER BY type"))
            .Select(p => ((string)p["name"]!, (string)p["type"]!, (string)p["version"]!, (string)p["status"]!)).ToList();
        Assert.Equal([
            (TapGithubHash + "." + MeltanolabsHash, "extractors", "5bd1b63646f43719f5e3cfb06637814f1f262bffc865e972d8c9473bbb6ad42e", "succeeded"),
            (TargetPostgresHash + "." + MeltanolabsHash, "loaders", "49b5f136d299e54d2864402ff7228f96d7dfc4bead37eaceb17c280a9f6162ad", "succeeded")], plugins);
        var exitProperties = (string)(await _app.RowsAsync("SELECT properties FROM events WHERE event_name = 'exit_event'"))[0]["properties"]!;
        Assert.Equal(0, JsonDocument.Parse(exitProperties).RootElement.GetProperty("exitCode").GetInt32());
        // Hashed repository and user names are not kept.
        Assert.DoesNotContain("c957a0312fccb47dbd8aff7316b10e29b62e6d51509f0b47c29c48f810286043", exitProperties);
    }

    [Fact]
    public async Task PostTp2_MeltanoFailedWithException_FailedRunWithExceptionType()
    {
        const string process = "0198c7a2-0000-7c4e-9a0b-3f2e1d0c9b8a";
        var exception = new JsonObject
        {
            ["type"] = "RunnerError", ["str_hash"] = "aa", ["repr_hash"] = "bb",
            ["traceback"] = new JsonArray(new JsonObject { ["file"] = "meltano/core/runner/singer.py", ["line_number"] = 120 }),
            ["cause"] = null, ["context"] = null,
        };
        var started = MeltanoEvent("iglu:com.meltano/cli_event/jsonschema/1-0-1", CliEvent("started"), s_start, MeltanoContexts(process, "el"));
        var failed = MeltanoEvent("iglu:com.meltano/cli_event/jsonschema/1-0-1", CliEvent("failed"), s_start.AddSeconds(3), MeltanoContexts(process, "el", exception));

        await PostAsync(started, failed);

        var run = Assert.Single(await _app.RowsAsync("SELECT status, error_type, duration_ms, command FROM runs"));
        Assert.Equal("failed", run["status"]);
        Assert.Equal("RunnerError", run["error_type"]);
        Assert.Equal(3_000L, run["duration_ms"]);
        Assert.Equal("el", run["command"]);
    }

    [Fact]
    public async Task PostTp2_MeltanoAborted_AbortedRun()
    {
        const string process = "0198c7a2-1111-7c4e-9a0b-3f2e1d0c9b8a";
        var started = MeltanoEvent("iglu:com.meltano/cli_event/jsonschema/1-0-1", CliEvent("started"), s_start, MeltanoContexts(process));
        var aborted = MeltanoEvent("iglu:com.meltano/cli_event/jsonschema/1-0-1", CliEvent("aborted"), s_start.AddSeconds(9), MeltanoContexts(process));

        await PostAsync(started, aborted);

        Assert.Equal("aborted", (await _app.RowsAsync("SELECT status FROM runs"))[0]["status"]);
    }

    [Fact]
    public async Task PostTp2_MeltanoStartedOnly_RunningRun()
    {
        // Seed 004: a started event with no completion is a run still going (aborted after Runs:AbortAfter).
        var started = MeltanoEvent("iglu:com.meltano/cli_event/jsonschema/1-0-1", CliEvent("started"), s_start, MeltanoContexts("0198c7a2-2222-7c4e-9a0b-3f2e1d0c9b8a"));

        await PostAsync(started);

        Assert.Equal("running", (await _app.RowsAsync("SELECT status FROM runs"))[0]["status"]);
    }

    [Fact]
    public async Task PostTp2_MeltanoWithoutClientUuid_Quarantined()
    {
        var e = MeltanoEvent("iglu:com.meltano/cli_event/jsonschema/1-0-1", CliEvent("started"), s_start,
            Contexts(Context("iglu:com.meltano/environment_context/jsonschema/1-3-0", new JsonObject { ["context_uuid"] = "x" })));

        await PostAsync(e);

        Assert.Equal("missing_installation_id", (await _app.RowsAsync("SELECT reason FROM quarantine"))[0]["reason"]);
    }
}
