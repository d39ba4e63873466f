using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Npgsql;
using UsageDashboard.Tests.Infrastructure;

namespace UsageDashboard.Tests.Ingestion;

/// <summary>A database of the test class's own and the real app over it, with a fixed clock.</summary>
public class IngestionFixture : DatabaseFixture
{
    public static readonly DateTimeOffset Now = new(2026, 11, 1, 12, 0, 0, TimeSpan.Zero);

    public const string DbtKey = "dev-dbt-write-key";
    public const string JettyKey = "dev-jetty-write-key";
    public const string EvidentlyKey = "dev-evidently-write-key";
    public const string MeltanoKey = "dev-meltano-write-key";
    /// <summary>A key of two tools, so events must name theirs.</summary>
    public const string SharedKey = "test-shared-key";
    /// <summary>The write key of the native test tool.</summary>
    public const string ToolKey = "test-mytool-key";

    public FakeTimeProvider Clock { get; } = new(Now);
    public AppFactory App { get; private set; } = null!;

    protected virtual IReadOnlyDictionary<string, string?> Settings => new Dictionary<string, string?>();

    public override async Task InitializeAsync()
    {
        await base.InitializeAsync();
        var settings = new Dictionary<string, string?>
        {
            ["Tools:mytool:WriteKeys:0"] = ToolKey,
            ["Tools:mytool:WriteKeys:1"] = SharedKey,
            ["Tools:dbt:WriteKeys:1"] = SharedKey,
            // The seed examples are real events from 2022-2023 and the clock is fixed in 2026: kept long
            // enough that the collector's retention rule accepts them. Tests of that rule set their own.
            ["Retention:RawEventsDays"] = "3650",
        };
        foreach (var (k, v) in Settings)
        {
            settings[k] = v;
        }
        App = new AppFactory(ConnectionString, Clock, settings);
        App.CreateClient().Dispose();
    }

    public override async Task DisposeAsync()
    {
        await App.DisposeAsync();
        await base.DisposeAsync();
    }

    public HttpClient Client(string? key = ToolKey)
    {
        var client = App.CreateClient();
        if (key is not null)
        {
            client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", key);
        }
        return client;
    }

    public async Task<long> CountAsync(string sql, params object[] args)
    {
        await using var cmd = DataSource.CreateCommand(sql);
        foreach (var a in args)
        {
            cmd.Parameters.Add(new NpgsqlParameter { Value = a });
        }
        return Convert.ToInt64(await cmd.ExecuteScalarAsync(), System.Globalization.CultureInfo.InvariantCulture);
    }

    public async Task<List<Dictionary<string, object?>>> RowsAsync(string sql)
    {
        await using var cmd = DataSource.CreateCommand(sql);
        await using var reader = await cmd.ExecuteReaderAsync();
        var rows = new List<Dictionary<string, object?>>();
        while (await reader.ReadAsync())
        {
            var row = new Dictionary<string, object?>();
            for (var i = 0; i < reader.FieldCount; i++)
            {
                row[reader.GetName(i)] = reader.IsDBNull(i) ? null : reader.GetValue(i);
            }
            rows.Add(row);
        }
        return rows;
    }
}

/// <summary>Wire payloads of each system, composed the way its client builds them.</summary>
public static class Payloads
{
    public static StringContent Json(string json, string contentType = "application/json")
    {
        var content = new StringContent(json, Encoding.UTF8);
        content.Headers.ContentType = MediaTypeHeaderValue.Parse(contentType);
        return content;
    }

    public static StringContent Json(JsonNode node) => Json(node.ToJsonString());

    public static JsonObject CreateNativeEvent(
        string? eventId = null, string installationId = "inst-1", string? tool = null, string? status = "succeeded",
        string? command = "sync", string? runId = null, DateTimeOffset? timestamp = null, double? durationMs = null)
    {
        var e = new JsonObject
        {
            ["eventId"] = eventId ?? Guid.NewGuid().ToString(),
            ["installationId"] = installationId,
            ["command"] = command,
            ["status"] = status,
            ["timestamp"] = (timestamp ?? IngestionFixture.Now.AddMinutes(-5)).ToString("O", System.Globalization.CultureInfo.InvariantCulture),
            ["toolVersion"] = "2.4.1",
            ["os"] = new JsonObject { ["name"] = "Linux", ["version"] = "6.8.0" },
            ["runtime"] = new JsonObject { ["name"] = "python", ["version"] = "3.12.4" },
        };
        if (tool is not null)
        {
            e["tool"] = tool;
        }
        if (runId is not null)
        {
            e["runId"] = runId;
        }
        if (durationMs is not null)
        {
            e["durationMs"] = durationMs;
        }
        return e;
    }

    /// <summary>What the Python tracker does: urlsafe_b64encode(json.dumps(obj)), with padding unless told.</summary>
    public static string Base64Url(string json, bool padding = true)
    {
        var s = Convert.ToBase64String(Encoding.UTF8.GetBytes(json)).Replace('+', '-').Replace('/', '_');
        return padding ? s : s.TrimEnd('=');
    }

    public static JsonObject Context(string schema, JsonObject data) => new() { ["schema"] = schema, ["data"] = data };

    public static string Contexts(params JsonObject[] items) => new JsonObject
    {
        ["schema"] = "iglu:com.snowplowanalytics.snowplow/contexts/jsonschema/1-0-1",
        ["data"] = new JsonArray(items.Select(i => (JsonNode)i.DeepClone()).ToArray()),
    }.ToJsonString();

    public static long Ms(DateTimeOffset t) => t.ToUnixTimeMilliseconds();

    public const string DbtUser = "8b0f2f1e-3c0a-4d52-9a3e-6f1d2b7c9e44";

    public static JsonObject DbtInvocation(string invocationId, string progress, string? resultType = null, string command = "run") =>
        Context("iglu:com.dbt/invocation/jsonschema/1-0-2", new JsonObject
        {
            ["progress"] = progress, ["result_type"] = resultType, ["result"] = null, ["project_id"] = null,
            ["user_id"] = DbtUser, ["invocation_id"] = invocationId, ["command"] = command, ["options"] = null,
            ["version"] = "1.11.2", ["run_type"] = "regular", ["adapter_type"] = null, ["adapter_unique_id"] = null,
        });

    public static JsonObject DbtPlatform() => Context("iglu:com.dbt/platform/jsonschema/1-0-0", new JsonObject
    {
        ["platform"] = "Linux-6.8.0-1012-aws-x86_64-with-glibc2.39", ["python"] = "3.11.9", ["python_version"] = "CPython",
    });

    public static JsonObject DbtEnv(string environment = "github-actions") =>
        Context("iglu:com.dbt/invocation_env/jsonschema/1-0-0", new JsonObject { ["environment"] = environment });

    public static JsonObject DbtRunModel(string invocationId, string status = "SUCCESS", string adapterVersion = "1.10.2") =>
        Context("iglu:com.dbt/run_model/jsonschema/1-1-1", new JsonObject
        {
            ["invocation_id"] = invocationId, ["index"] = 1, ["total"] = 1, ["execution_time"] = 4.218,
            ["run_status"] = status, ["run_skipped"] = false, ["run_error"] = status == "ERROR",
            ["model_materialization"] = "incremental", ["model_incremental_strategy"] = "merge",
            ["model_id"] = "fc77c15ed1d75ccebfa6d5df0223b93e", ["hashed_contents"] = "5e0d6b1c4f2a9e8d7c6b5a4f3e2d1c0b",
            ["timing"] = new JsonArray(
                new JsonObject { ["name"] = "compile", ["started_at"] = "2026-08-21T09:16:15.201Z", ["completed_at"] = "2026-08-21T09:16:15.288Z" },
                new JsonObject { ["name"] = "execute", ["started_at"] = "2026-08-21T09:16:15.290Z", ["completed_at"] = "2026-08-21T09:16:19.503Z" }),
            ["language"] = "sql", ["has_group"] = false, ["contract_enforced"] = false, ["access"] = "protected", ["versioned"] = false,
            ["adapter_info"] = new JsonObject { ["adapter_name"] = "snowflake", ["base_adapter_version"] = "1.16.0", ["adapter_version"] = adapterVersion, ["model_adapter_details"] = new JsonObject() },
            ["catalog_type"] = null,
        });

    /// <summary>A dbt structured event (se) as the Python tracker sends it: every value a string.</summary>
    public static JsonObject DbtEvent(string action, string label, DateTimeOffset at, string contexts, string? eid = null, string? uid = DbtUser, bool padding = true) => new()
    {
        ["e"] = "se", ["se_ca"] = "dbt", ["se_ac"] = action, ["se_la"] = label,
        ["cx"] = Base64Url(contexts, padding),
        ["eid"] = eid ?? Guid.NewGuid().ToString(),
        ["dtm"] = Ms(at).ToString(System.Globalization.CultureInfo.InvariantCulture),
        ["stm"] = (Ms(at) / 1000 * 1000 + 1000).ToString(System.Globalization.CultureInfo.InvariantCulture),
        ["tv"] = "py-1.1.0", ["tna"] = "cf", ["aid"] = "dbt", ["p"] = "pc", ["uid"] = uid,
    };

    public static JsonObject PayloadData(params JsonObject[] events) => new()
    {
        ["schema"] = "iglu:com.snowplowanalytics.snowplow/payload_data/jsonschema/1-0-4",
        ["data"] = new JsonArray(events.Select(e => (JsonNode)e.DeepClone()).ToArray()),
    };

    public const string MeltanoClient = "0197f0e1-2b3c-7d4e-8f90-a1b2c3d4e5f6";
    public const string TapGithubHash = "0e07fc5775c55bbd811663147b37937cc91a7c3489aba607da118ea56cf1a75a";
    public const string TargetPostgresHash = "72507d60beca11b80108e3fed106ec636d0422295a214f0327cbe1529c27fd4f";
    /// <summary>SHA-256 of "meltanolabs", the variant of both plugins in the §2.6 example.</summary>
    public const string MeltanolabsHash = "c6c8d47bbfa6ca311eec82139052d313298bb4fc605236093ebe3af06b38f90f";

    public static string MeltanoContexts(string processUuid, string command = "run", JsonObject? exception = null) => Contexts(
        Context("iglu:com.meltano/environment_context/jsonschema/1-3-0", new JsonObject
        {
            ["context_uuid"] = processUuid, ["parent_context_uuid"] = null, ["meltano_version"] = "4.0.3", ["is_dev_build"] = false,
            ["is_ci_environment"] = true, ["notable_flag_env_vars"] = new JsonObject { ["CI"] = true, ["GITHUB_ACTIONS"] = true },
            ["notable_hashed_env_vars"] = new JsonObject { ["GITHUB_REPOSITORY"] = "c957a0312fccb47dbd8aff7316b10e29b62e6d51509f0b47c29c48f810286043" },
            ["python_version"] = "3.12.4", ["python_implementation"] = "CPython", ["system_name"] = "Linux",
            ["system_release"] = "6.8.0-1017-azure", ["system_version"] = "#20~22.04.1-Ubuntu SMP", ["machine"] = "x86_64",
            ["windows_edition"] = null, ["freedesktop_id"] = "ubuntu", ["freedesktop_id_like"] = "debian", ["freedesktop_version_id"] = "22.04",
            ["num_cpu_cores"] = 4, ["num_cpu_cores_available"] = 4,
            ["process_hierarchy"] = new JsonArray(new JsonObject
            {
                ["process_name_hash"] = "b6d328f3b04718c0cc51daaf3b01817711aa55e39195484be4ffd4f9e09f622e",
                ["process_creation_timestamp"] = "2026-08-21T09:19:48.130000+00:00",
            }),
        }),
        Context("iglu:com.meltano/project_context/jsonschema/1-1-0", new JsonObject
        {
            ["context_uuid"] = "0198c7a2-5d33-7f10-8b21-6a5b4c3d2e1f", ["project_uuid"] = "b7854e29-07a4-2200-0ea7-1bda759ccd3d",
            ["project_uuid_source"] = "derived", ["client_uuid"] = MeltanoClient, ["send_anonymous_usage_stats"] = true,
            ["send_anonymous_usage_stats_source"] = "default",
            ["environment_name_hash"] = "ef260e9aa3c673af240d17a2660480361a8e081d1ffeca2a5ed0e3219fc18567",
        }),
        Context("iglu:com.meltano/cli_context/jsonschema/1-1-0", new JsonObject
        {
            ["command"] = command, ["parent_command_hint"] = "cli",
            ["options"] = new JsonObject { ["dry_run"] = false, ["full_refresh"] = false, ["state_id_suffix"] = null, ["blocks"] = "e3a0ede32b465aeab4e52e4d99eefda6c315de6ebfa2377f0f7d4b71cd54b4ef" },
        }),
        Context("iglu:com.meltano/plugins_context/jsonschema/1-0-0", new JsonObject
        {
            ["context_uuid"] = "0198c7a2-5d40-7a11-9c22-0f1e2d3c4b5a",
            ["plugins"] = new JsonArray(
                new JsonObject
                {
                    ["category"] = "extractors", ["name_hash"] = TapGithubHash,
                    ["namespace_hash"] = "15dc43b6305fca18f17dbaecf7c4ec8662cb4e4cf606472d904b55d02c2d9d0d", ["executable_hash"] = TapGithubHash,
                    ["variant_name_hash"] = "c6c8d47bbfa6ca311eec82139052d313298bb4fc605236093ebe3af06b38f90f",
                    ["pip_url_hash"] = "5bd1b63646f43719f5e3cfb06637814f1f262bffc865e972d8c9473bbb6ad42e", ["parent_name_hash"] = null, ["command"] = null,
                },
                new JsonObject
                {
                    ["category"] = "loaders", ["name_hash"] = TargetPostgresHash,
                    ["namespace_hash"] = "6fe9f36e0766094c1757d3d452751d3f48c3936ca46738334f7b9b2f3bdcf76e", ["executable_hash"] = TargetPostgresHash,
                    ["variant_name_hash"] = "c6c8d47bbfa6ca311eec82139052d313298bb4fc605236093ebe3af06b38f90f",
                    ["pip_url_hash"] = "49b5f136d299e54d2864402ff7228f96d7dfc4bead37eaceb17c280a9f6162ad", ["parent_name_hash"] = null, ["command"] = null,
                }),
        }),
        Context("iglu:com.meltano/exception_context/jsonschema/1-0-0", new JsonObject
        {
            ["context_uuid"] = "0198c7a2-6a02-7b33-8e44-1d2c3b4a5f60", ["exception"] = exception,
        }));

    /// <summary>A Meltano self-describing event (ue) with ue_px, as the Python tracker sends it.</summary>
    public static JsonObject MeltanoEvent(string schema, JsonObject data, DateTimeOffset at, string contexts, string? eid = null) => new()
    {
        ["e"] = "ue",
        ["ue_px"] = Base64Url(new JsonObject
        {
            ["schema"] = "iglu:com.snowplowanalytics.snowplow/unstruct_event/jsonschema/1-0-0",
            ["data"] = new JsonObject { ["schema"] = schema, ["data"] = data },
        }.ToJsonString()),
        ["cx"] = Base64Url(contexts),
        ["eid"] = eid ?? Guid.NewGuid().ToString(),
        ["dtm"] = Ms(at).ToString(System.Globalization.CultureInfo.InvariantCulture),
        ["stm"] = (Ms(at) / 1000 * 1000 + 1000).ToString(System.Globalization.CultureInfo.InvariantCulture),
        ["tv"] = "py-1.1.0", ["tna"] = "meltano-core", ["aid"] = "meltano", ["p"] = "pc", ["lang"] = "en_US", ["tz"] = "Europe/Berlin",
    };

    public static JsonObject CliEvent(string lifecycle) => new() { ["event"] = lifecycle };

    public static async Task<JsonElement> ReadJsonAsync(this HttpResponseMessage response)
    {
        var text = await response.Content.ReadAsStringAsync();
        return JsonDocument.Parse(text).RootElement;
    }
}
