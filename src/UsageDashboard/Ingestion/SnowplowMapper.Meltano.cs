using System.Text.Json;
using UsageDashboard.Catalog;
using UsageDashboard.Store;
using static UsageDashboard.Ingestion.JsonValues;

namespace UsageDashboard.Ingestion;
/// <summary>Meltano's self-describing events and contexts (docs/ingestion.md): its identity, plugins and outcome.</summary>
public static partial class SnowplowMapper
{
    private static MapResult MapMeltano(JsonElement e, string tool, SelfDescribing? unstruct, List<SelfDescribing> contexts, PropertyBag properties, DateTime? time,
        IdentifierHasher identifiers)
    {
        var project = Find(contexts, "project_context");
        var installation = project is { } p0 ? String(p0, "client_uuid") : null;
        if (string.IsNullOrWhiteSpace(installation))
        {
            return MapResult.Reject(Reasons.MissingInstallationId, "project_context.client_uuid is required", tool);
        }
        var environment = Find(contexts, "environment_context");
        var runKey = (environment is { } env0 ? String(env0, "context_uuid") : null) ?? (project is { } p1 ? String(p1, "context_uuid") : null);
        var eventName = unstruct?.Name ?? "event";
        var status = RunStatus.Unknown;
        long? duration = null;
        if (unstruct is { } u)
        {
            switch (u.Name)
            {
                case "cli_event":
                    status = Canon.Status(String(u.Data, "event"));
                    properties.Add("event", String(u.Data, "event"));
                    break;
                case "block_event":
                    properties.Add("blockType", String(u.Data, "type"));
                    properties.Add("blockEvent", String(u.Data, "event"));
                    break;
                case "exit_event":
                    // The exit code is kept but does not decide the run: cli_event already did, and an
                    // interrupted run (aborted) also exits non-zero.
                    if (Number(u.Data, "process_duration_microseconds") is { } us && us >= 0)
                    {
                        duration = (long)(us / 1000);
                    }
                    properties.Add("exitCode", Number(u.Data, "exit_code"));
                    properties.Add("exitTimestamp", String(u.Data, "exit_timestamp"));
                    break;
                default:
                    properties.Add(u.Name, u.Data);
                    break;
            }
        }
        string? command = null;
        if (Find(contexts, "cli_context") is { } cli)
        {
            command = String(cli, "command");
            var parent = String(cli, "parent_command_hint");
            // `meltano config set` reports command "set" with parent "config"; "cli" is the root group.
            if (command is not null && parent is not null && parent != "cli")
            {
                command = parent + " " + command;
            }
            properties.Add("options", Object(cli, "options"));
        }
        var plugins = new List<PluginRef>();
        if (Find(contexts, "plugins_context") is { } pc && Array(pc, "plugins") is { } list)
        {
            foreach (var plugin in list.EnumerateArray())
            {
                // Stored as sent, never resolved here (Catalog/PluginNames reads them): a plugin is its
                // (name, variant) pair, and its pip_url digest stands where the version would, since
                // Meltano sends no version and an unpinned pip_url installs whatever was released last.
                if (String(plugin, "name_hash") is { Length: > 0 } nameHash)
                {
                    plugins.Add(new PluginRef
                    {
                        Name = PluginNames.StoredName(nameHash, String(plugin, "variant_name_hash")),
                        Type = String(plugin, "category"),
                        Version = String(plugin, "pip_url_hash"),
                    });
                }
            }
            properties.Add("plugins", list);
        }
        string? errorType = null;
        if (Find(contexts, "exception_context") is { } exception && Object(exception, "exception") is { } ex)
        {
            errorType = Canon.ErrorType(String(ex, "type")) ?? "error";
        }
        string? osName = null, osVersion = null, python = null, toolVersion = null;
        var isCi = false;
        if (environment is { } env)
        {
            osName = Canon.OsName(String(env, "system_name"));
            osVersion = osName == "linux" && String(env, "freedesktop_version_id") is { } distroVersion
                ? (String(env, "freedesktop_id") is { } distro ? distro + " " + distroVersion : distroVersion)
                : String(env, "system_release");
            python = String(env, "python_version");
            toolVersion = String(env, "meltano_version");
            isCi = Bool(env, "is_ci_environment") ?? false;
            properties.Add("pythonImplementation", String(env, "python_implementation"));
            properties.Add("isDevBuild", Bool(env, "is_dev_build"));
            properties.Add("machine", String(env, "machine"));
            properties.Add("parentContextUuid", String(env, "parent_context_uuid"));
            properties.Add("numCpuCores", Number(env, "num_cpu_cores"));
            properties.Add("notableFlagEnvVars", Object(env, "notable_flag_env_vars"));
            // notable_hashed_env_vars (hashed repository and user names) and process_hierarchy are not
            // kept: a hash of a public name is a name to anyone with a dictionary.
        }
        if (project is { } p2)
        {
            properties.Add("projectUuid", String(p2, "project_uuid"));
            properties.Add("projectUuidSource", String(p2, "project_uuid_source"));
            properties.Add("environmentNameHash", String(p2, "environment_name_hash"));
            properties.Add("sendAnonymousUsageStats", Bool(p2, "send_anonymous_usage_stats"));
            properties.Add("sendAnonymousUsageStatsSource", String(p2, "send_anonymous_usage_stats_source"));
        }
        foreach (var c in contexts)
        {
            if (c.Name is not ("environment_context" or "project_context" or "cli_context" or "plugins_context" or "exception_context"))
            {
                properties.Add(c.Name, c.Data);
            }
        }
        var ev = new TelemetryEvent
        {
            Tool = tool,
            Source = Source,
            InstallationId = identifiers.Installation(installation),
            EventName = eventName,
            RunKey = runKey ?? "",
            Command = command,
            Status = status,
            DurationMs = duration,
            ErrorType = errorType,
            ToolVersion = toolVersion,
            OsName = osName,
            OsVersion = osVersion,
            RuntimeName = python is null ? null : "python",
            RuntimeVersion = python,
            IsCi = isCi,
            Plugins = plugins,
        };
        return MapResult.Ok(ev, properties, Text(e, "eid"), time);
    }
}
