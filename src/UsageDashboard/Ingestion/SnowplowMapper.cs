using System.Buffers;
using System.Collections.Frozen;
using System.Text.Json;
using UsageDashboard.Store;
using static UsageDashboard.Ingestion.JsonValues;

namespace UsageDashboard.Ingestion;

/// <summary>
/// The Snowplow tracker protocol (payload_data 1-0-x) as dbt and Meltano send it: structured (<c>se</c>)
/// and self-describing (<c>ue</c>) events, contexts as <c>co</c> or base64url <c>cx</c>, every value a
/// string. The tool is the one whose <c>SnowplowAppIds</c> holds the event's <c>aid</c>.
/// </summary>
public static partial class SnowplowMapper
{
    public const string Source = "snowplow";

    /// <summary>Parameters read into canonical fields, or deliberately not kept.</summary>
    private static readonly FrozenSet<string> s_consumed = new[]
    {
        "e", "eid", "dtm", "stm", "ttm", "aid", "uid", "duid", "nuid", "tnuid", "cx", "co", "ue_px", "ue_pr", "se_ca", "se_ac", "se_la",
        "se_pr", "se_va", "tz", "lang", "tv", "tna", "p",
    }.ToFrozenSet(StringComparer.Ordinal);

    /// <summary>One self-describing JSON: the Iglu schema's vendor and name, and its data.</summary>
    public readonly record struct SelfDescribing(string Vendor, string Name, string Version, JsonElement Data);

    public static MapResult Map(JsonElement e, IngestContext context, ToolDirectory tools)
    {
        if (e.ValueKind != JsonValueKind.Object)
        {
            return MapResult.Reject(Reasons.NotAnObject, "a Snowplow event is a JSON object of string values");
        }
        var aid = Text(e, "aid");
        var tool = context.ForcedTool ?? tools.ToolForAppId(aid);
        if (tool is null)
        {
            return MapResult.Reject(Reasons.UnknownAppId, aid is null ? "the event has no aid" : "no tool has this Snowplow app id (Tools:<tool>:SnowplowAppIds)");
        }
        if (!TryDecode(e, "cx", "co", out var contextsJson, out var problem) || !TryDecode(e, "ue_px", "ue_pr", out var unstructJson, out problem))
        {
            var reason = problem!.StartsWith("invalid base64", StringComparison.Ordinal) ? Reasons.InvalidBase64
                : problem.Contains("PostgreSQL cannot store", StringComparison.Ordinal) ? Reasons.InvalidText
                : Reasons.InvalidJson;
            return MapResult.Reject(reason, problem, tool);
        }
        var contexts = new List<SelfDescribing>();
        if (contextsJson is { } cj)
        {
            // {schema: contexts/1-0-x, data: [{schema, data}, ...]}; a bare array is accepted too.
            var items = cj.ValueKind == JsonValueKind.Array ? cj : Array(cj, "data");
            if (items is null)
            {
                return MapResult.Reject(Reasons.InvalidField, "contexts must be {schema, data: [...]}", tool);
            }
            foreach (var item in items.Value.EnumerateArray())
            {
                if (Parse(item) is { } sd)
                {
                    contexts.Add(sd);
                }
            }
        }
        SelfDescribing? unstruct = null;
        if (unstructJson is { } uj)
        {
            // {schema: unstruct_event/1-0-0, data: {schema, data}}
            unstruct = Object(uj, "data") is { } inner ? Parse(inner) : null;
            if (unstruct is null)
            {
                return MapResult.Reject(Reasons.InvalidField, "ue_px/ue_pr must be {schema, data: {schema, data}}", tool);
            }
        }
        var eventType = Text(e, "e");
        var time = Canon.FromUnixMilliseconds(Text(e, "ttm")) ?? Canon.FromUnixMilliseconds(Text(e, "dtm")) ?? Canon.FromUnixMilliseconds(Text(e, "stm"));
        var properties = new PropertyBag();

        MapResult result;
        if (unstruct?.Vendor == "com.meltano" || contexts.Any(c => c.Vendor == "com.meltano"))
        {
            result = MapMeltano(e, tool, unstruct, contexts, properties, time, context.Identifiers);
        }
        else if (eventType == "se" && (Text(e, "se_ca") == "dbt" || contexts.Any(c => c.Vendor == "com.dbt")))
        {
            result = MapDbt(e, tool, contexts, properties, time, context.Identifiers);
        }
        else
        {
            result = MapGeneric(e, tool, eventType, unstruct, contexts, properties, time, context.Identifiers);
        }
        if (!result.IsRejected)
        {
            properties.Add("timezone", Text(e, "tz"));
            properties.Add("locale", Text(e, "lang"));
            foreach (var p in e.EnumerateObject())
            {
                if (NameOf(p) is { } key && !s_consumed.Contains(key))
                {
                    properties.Add(key, p.Value);
                }
            }
        }
        return result;
    }

    private static MapResult MapDbt(JsonElement e, string tool, List<SelfDescribing> contexts, PropertyBag properties, DateTime? time, IdentifierHasher identifiers)
    {
        var action = Text(e, "se_ac") ?? "event";
        var label = Text(e, "se_la");
        var invocation = Find(contexts, "invocation");
        var installation = Text(e, "uid") ?? (invocation is { } inv0 ? String(inv0, "user_id") : null);
        if (string.IsNullOrWhiteSpace(installation))
        {
            return MapResult.Reject(Reasons.MissingInstallationId, "uid (the .user.yml id) is required", tool);
        }
        var runModel = Find(contexts, "run_model");
        // The invocation id joins start, end and everything between; most events carry it as se_la.
        var runKey = (invocation is { } inv1 ? String(inv1, "invocation_id") : null)
            ?? (runModel is { } rm0 ? String(rm0, "invocation_id") : null)
            ?? (action != "invocation" ? label : null)
            ?? contexts.Select(c => String(c.Data, "invocation_id")).FirstOrDefault(id => id is not null);

        var status = RunStatus.Unknown;
        string? errorType = null;
        var eventName = action;
        if (action == "invocation")
        {
            var progress = (invocation is { } inv2 ? String(inv2, "progress") : null) ?? label;
            var resultType = invocation is { } inv3 ? String(inv3, "result_type") : null;
            eventName = "invocation_" + (progress ?? "unknown");
            (status, errorType) = progress switch
            {
                "start" => (RunStatus.Started, null),
                "end" when resultType == "ok" => (RunStatus.Succeeded, null),
                "end" when resultType is not null => (RunStatus.Failed, null),
                // invalid_project, invalid_target, connection_failure...: why dbt refused to run.
                "invalid" => (RunStatus.Failed, Canon.ErrorType(resultType) ?? "invalid"),
                _ => (RunStatus.Unknown, null),
            };
            properties.Add("resultType", resultType);
        }

        var plugins = new List<PluginRef>();
        if (Find(contexts, "adapter_info") is { } adapter && String(adapter, "adapter_type") is { Length: > 0 } adapterType)
        {
            plugins.Add(new PluginRef { Name = adapterType, Type = "adapter" });
            properties.Add("adapterUniqueId", String(adapter, "adapter_unique_id"));
        }
        if (runModel is { } rm)
        {
            // One event per model: the model's own outcome belongs to the adapter that ran it, not to the
            // run (the invocation end decides that), and its execution time is not the run's duration.
            var info = Object(rm, "adapter_info");
            if (info is { } ai && String(ai, "adapter_name") is { Length: > 0 } adapterName)
            {
                plugins.Add(new PluginRef { Name = adapterName, Type = "adapter", Version = String(ai, "adapter_version"), Status = ModelStatus(rm) });
                properties.Add("baseAdapterVersion", String(ai, "base_adapter_version"));
            }
            properties.Add("modelStatus", ModelStatus(rm));
        }

        string? osName = null, osVersion = null, python = null;
        if (Find(contexts, "platform") is { } platform)
        {
            (osName, osVersion) = Canon.Platform(String(platform, "platform"));
            python = String(platform, "python");
            properties.Add("platform", String(platform, "platform"));
            properties.Add("pythonImplementation", String(platform, "python_version"));
        }
        var environment = Find(contexts, "invocation_env") is { } envContext ? String(envContext, "environment") : null;
        if (invocation is { } inv4)
        {
            properties.Add("runType", String(inv4, "run_type"));
            properties.Add("projectId", String(inv4, "project_id"));
        }
        foreach (var c in contexts)
        {
            if (c.Name is not ("invocation" or "platform" or "invocation_env" or "adapter_info"))
            {
                properties.Add(c.Name, c.Data);
            }
        }
        properties.Add("category", Text(e, "se_ca"));
        properties.Add("property", Text(e, "se_pr"));
        properties.Add("value", Text(e, "se_va"));

        var ev = new TelemetryEvent
        {
            Tool = tool,
            Source = Source,
            // The .user.yml id is a random UUID4 (kept); anything else in uid is hashed.
            InstallationId = identifiers.Installation(installation),
            UserId = null,
            EventName = eventName,
            RunKey = runKey ?? "",
            Command = invocation is { } inv5 ? String(inv5, "command") : null,
            Status = status,
            ErrorType = errorType,
            ToolVersion = invocation is { } inv6 ? String(inv6, "version") : null,
            OsName = osName,
            OsVersion = osVersion,
            RuntimeName = python is null ? null : "python",
            RuntimeVersion = python,
            Environment = environment,
            IsCi = IsCiEnvironment(environment),
            Plugins = plugins,
        };
        return MapResult.Ok(ev, properties, Text(e, "eid"), time);
    }

    /// <summary>dbt's node status (SUCCESS, ERROR, SKIPPED, PASS, FAIL, WARN, PARTIAL SUCCESS, NO-OP).</summary>
    private static string ModelStatus(JsonElement runModel)
    {
        var status = String(runModel, "run_status")?.Trim().ToUpperInvariant();
        return status switch
        {
            "SUCCESS" or "PASS" or "WARN" => RunStatus.Succeeded,
            "ERROR" or "FAIL" or "PARTIAL SUCCESS" or "RUNTIME ERROR" => RunStatus.Failed,
            "SKIPPED" or "NO-OP" => RunStatus.Skipped,
            _ when Bool(runModel, "run_error") == true => RunStatus.Failed,
            _ when Bool(runModel, "run_skipped") == true => RunStatus.Skipped,
            _ => RunStatus.Unknown,
        };
    }

    /// <summary>DBT_INVOCATION_ENV is free-form ("manual" by default); CI systems announce themselves by name.</summary>
    public static bool IsCiEnvironment(string? environment)
    {
        var env = environment?.Trim().ToLowerInvariant();
        if (string.IsNullOrEmpty(env))
        {
            return false;
        }
        if (env == "ci" || env.StartsWith("ci-", StringComparison.Ordinal) || env.EndsWith("-ci", StringComparison.Ordinal) || env.Contains("-ci-", StringComparison.Ordinal))
        {
            return true;
        }
        string[] systems = ["github", "gitlab", "jenkins", "circleci", "buildkite", "bitbucket", "azure-pipelines", "travis", "teamcity", "drone", "pipeline"];
        return systems.Any(s => env.Contains(s, StringComparison.Ordinal));
    }

    private static MapResult MapGeneric(JsonElement e, string tool, string? eventType, SelfDescribing? unstruct, List<SelfDescribing> contexts, PropertyBag properties,
        DateTime? time, IdentifierHasher identifiers)
    {
        var installation = Text(e, "uid") ?? Text(e, "duid") ?? Text(e, "tnuid") ?? Text(e, "nuid");
        if (string.IsNullOrWhiteSpace(installation))
        {
            return MapResult.Reject(Reasons.MissingInstallationId, "uid, duid or nuid is required", tool);
        }
        if (eventType is null)
        {
            return MapResult.Reject(Reasons.InvalidField, "e (event type) is required", tool);
        }
        var action = Text(e, "se_ac");
        if (unstruct is { } u)
        {
            properties.Add(u.Name, u.Data);
        }
        foreach (var c in contexts)
        {
            properties.Add(c.Name, c.Data);
        }
        properties.Add("category", Text(e, "se_ca"));
        properties.Add("label", Text(e, "se_la"));
        properties.Add("property", Text(e, "se_pr"));
        properties.Add("value", Text(e, "se_va"));
        var ev = new TelemetryEvent
        {
            Tool = tool,
            Source = Source,
            // A web tracker's uid is the application's user id, duid/nuid are cookie ids: always hashed.
            InstallationId = identifiers.Personal(installation),
            EventName = unstruct?.Name ?? action ?? eventType,
            RunKey = "",
            Command = eventType == "se" ? action : null,
            Status = RunStatus.Unknown,
        };
        return MapResult.Ok(ev, properties, Text(e, "eid"), time);
    }

    private static JsonElement? Find(List<SelfDescribing> contexts, string name)
    {
        foreach (var c in contexts)
        {
            if (c.Name == name && c.Data.ValueKind == JsonValueKind.Object)
            {
                return c.Data;
            }
        }
        return null;
    }

    /// <summary>Parses <c>{"schema": "iglu:vendor/name/format/version", "data": ...}</c>.</summary>
    public static SelfDescribing? Parse(JsonElement item)
    {
        var schema = String(item, "schema");
        if (schema is null || !schema.StartsWith("iglu:", StringComparison.Ordinal) || !item.TryGetProperty("data", out var data))
        {
            return null;
        }
        var parts = schema[5..].Split('/');
        return parts.Length == 4 ? new SelfDescribing(parts[0], parts[1], parts[3], data) : null;
    }

    /// <summary>Reads the base64 parameter (cx, ue_px) or its plain twin (co, ue_pr) as JSON.</summary>
    private static bool TryDecode(JsonElement e, string base64Name, string plainName, out JsonElement? json, out string? problem)
    {
        json = null;
        problem = null;
        byte[]? bytes = null;
        if (Text(e, base64Name) is { Length: > 0 } encoded)
        {
            bytes = DecodeBase64(encoded);
            if (bytes is null)
            {
                problem = $"invalid base64 in {base64Name}";
                return false;
            }
        }
        else if (Text(e, plainName) is { Length: > 0 } plain)
        {
            bytes = System.Text.Encoding.UTF8.GetBytes(plain);
        }
        if (bytes is null)
        {
            return true;
        }
        // The decoded JSON was never seen by the body's scan: its escapes can spell NUL or a lone surrogate.
        if (JsonScan.Check(bytes, int.MaxValue, int.MaxValue) is { Error: JsonScan.InvalidText } finding)
        {
            problem = $"{base64Name}/{plainName}: {finding.Message}";
            return false;
        }
        try
        {
            json = JsonDocument.Parse(bytes, DocumentOptions).RootElement;
            return true;
        }
        catch (JsonException x)
        {
            problem = $"{(bytes.Length > 0 ? base64Name + "/" + plainName : plainName)} is not valid JSON (line {x.LineNumber + 1}, byte {x.BytePositionInLine + 1})";
            return false;
        }
    }

    /// <summary>Base64 in either alphabet (the Python tracker uses URL-safe), with or without padding.</summary>
    public static byte[]? DecodeBase64(string text)
    {
        var s = text.Trim();
        if (s.Length > 4 * 1024 * 1024)
        {
            return null;
        }
        var chars = ArrayPool<char>.Shared.Rent(s.Length + 3);
        try
        {
            var n = 0;
            foreach (var c in s)
            {
                chars[n++] = c switch { '-' => '+', '_' => '/', _ => c };
            }
            while (n % 4 != 0)
            {
                chars[n++] = '=';
            }
            var output = new byte[n / 4 * 3];
            return Convert.TryFromBase64Chars(chars.AsSpan(0, n), output, out var written) ? output[..written] : null;
        }
        finally
        {
            ArrayPool<char>.Shared.Return(chars);
        }
    }

    /// <summary>True when a JSON body is a Snowplow POST payload or a single tracker event.</summary>
    public static bool Looks(JsonElement e) =>
        e.ValueKind == JsonValueKind.Object
        && ((String(e, "schema") is { } schema && schema.Contains("payload_data", StringComparison.Ordinal))
            || (Get(e, "e") is not null && (Get(e, "eid") is not null || Get(e, "aid") is not null) && Get(e, "installationId") is null));

    /// <summary>The events of a payload_data body (the object itself when it is one event).</summary>
    public static bool TryGetEvents(JsonElement body, out JsonElement events, out string? problem)
    {
        problem = null;
        events = default;
        if (body.ValueKind == JsonValueKind.Array)
        {
            events = body;
            return true;
        }
        if (body.ValueKind != JsonValueKind.Object)
        {
            problem = "a Snowplow body is {\"schema\": \"iglu:com.snowplowanalytics.snowplow/payload_data/jsonschema/1-0-4\", \"data\": [...]}";
            return false;
        }
        if (String(body, "schema") is { } schema && !schema.StartsWith("iglu:com.snowplowanalytics.snowplow/payload_data/", StringComparison.Ordinal))
        {
            problem = "unsupported schema: expected iglu:com.snowplowanalytics.snowplow/payload_data/jsonschema/1-0-x";
            return false;
        }
        if (Array(body, "data") is { } data)
        {
            events = data;
            return true;
        }
        problem = "data must be an array of events";
        return false;
    }
}
