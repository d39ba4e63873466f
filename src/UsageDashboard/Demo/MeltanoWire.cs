using System.Buffers;
using System.Globalization;
using System.Text.Json;
using UsageDashboard.Catalog;
using UsageDashboard.Ingestion;
using UsageDashboard.Store;

namespace UsageDashboard.Demo;

/// <summary>A Meltano plugin as a project installs it: a hub (name, variant) and the pip_url it installs from.</summary>
internal sealed class MeltanoPlugin
{
    public MeltanoPlugin(CatalogEntry entry, string pipUrl)
    {
        Entry = entry;
        PipUrl = pipUrl;
        NameHash = PluginCatalog.Sha256Hex(entry.Name);
        NamespaceHash = PluginCatalog.Sha256Hex(entry.Namespace);
        VariantHash = PluginCatalog.Sha256Hex(entry.Variant);
        PipUrlHash = PluginCatalog.Sha256Hex(pipUrl);
    }

    public CatalogEntry Entry { get; }
    public string PipUrl { get; }
    public bool IsDefaultPipUrl => PipUrl == Entry.PipUrl;
    public string NameHash { get; }
    public string NamespaceHash { get; }
    public string VariantHash { get; }
    public string PipUrlHash { get; }
}

/// <summary>What stays fixed about one Meltano project checkout on the wire.</summary>
internal sealed record MeltanoProject(string ClientUuid, string ProjectUuid, bool RandomProjectUuid, string SystemName, string SystemRelease, bool IsCi);

/// <summary>One Meltano process as the demo runs it.</summary>
internal sealed record MeltanoProcess(
    MeltanoProject Project, string Command, MeltanoPlugin[] Plugins, string MeltanoVersion, string Python,
    Guid ContextUuid, Guid ProjectContextUuid, Guid PluginsContextUuid, string? ProjectUuidOverride);

/// <summary>
/// Meltano's telemetry in its real wire shape (reference: telemetry-formats §2): Snowplow tp2
/// <c>payload_data</c> events with a base64url <c>ue_px</c> (cli_event, exit_event) and base64url <c>cx</c>
/// contexts (environment_context, project_context, cli_context, plugins_context with SHA-256 digests of
/// real hub plugins, exception_context), mapped by <see cref="SnowplowMapper"/> and
/// <see cref="CanonicalEvents.Complete"/> exactly as the collector maps live traffic, so the demo exercises
/// the real path.
/// </summary>
internal sealed class MeltanoWire
{
    public const string PayloadDataSchema = "iglu:com.snowplowanalytics.snowplow/payload_data/jsonschema/1-0-4";

    private static readonly IngestionOptions s_options = new();
    private static readonly ToolDirectory s_tools = new(new Dictionary<string, ToolOptions> { [DemoCatalog.Meltano] = new() { SnowplowAppIds = ["meltano"] } });

    private readonly ArrayBufferWriter<byte> _buffer = new(8192);
    private readonly ArrayBufferWriter<byte> _inner = new(4096);
    // A client_uuid is a random UUID and kept as sent: the key never hashes anything the demo sends.
    private readonly IdentifierHasher _identifiers = new(new byte[32]);

    /// <summary>The wire events (one element of payload_data's data array each) the demo generated, when asked to keep them.</summary>
    public List<byte[]>? Kept { get; set; }

    /// <summary>
    /// One event of <paramref name="process"/>: <paramref name="cliEvent"/> is started, completed or failed
    /// for a cli_event, null for the exit_event (with <paramref name="durationMs"/> and the exit code).
    /// </summary>
    public void Event(MeltanoProcess process, Guid eventId, DateTime at, DateTime receivedAt, string? cliEvent, string? errorType, long durationMs)
    {
        var bytes = Write(process, eventId, at, cliEvent, errorType, durationMs);
        Kept?.Add(bytes);
        _pending.Add((bytes, receivedAt));
    }

    private readonly List<(byte[] Wire, DateTime ReceivedAt)> _pending = [];

    public int PendingCount => _pending.Count;

    /// <summary>
    /// Maps the events written since the last call into <paramref name="into"/>, in parallel: mapping is
    /// pure, so the result is the same as one by one, and a day of Meltano events maps on every core.
    /// </summary>
    public void MapPending(List<TelemetryEvent> into)
    {
        var mapped = new TelemetryEvent[_pending.Count];
        Parallel.For(0, _pending.Count, i => mapped[i] = Map(_pending[i].Wire, _pending[i].ReceivedAt));
        into.AddRange(mapped);
        _pending.Clear();
    }

    /// <summary>Maps one wire event as the collector does (thread-safe) (<see cref="SnowplowMapper.Map"/>, then <see cref="CanonicalEvents.Complete"/>).</summary>
    public TelemetryEvent Map(byte[] eventJson, DateTime receivedAt)
    {
        using var doc = JsonDocument.Parse(eventJson);
        var context = new IngestContext
        {
            ReceivedAt = receivedAt,
            AllowedTools = [DemoCatalog.Meltano],
            Options = s_options,
            Identifiers = _identifiers,
        };
        var mapped = SnowplowMapper.Map(doc.RootElement, context, s_tools);
        if (mapped.IsRejected)
        {
            throw new InvalidOperationException("the demo generated a Meltano event the collector rejects: " + mapped.Reason);
        }
        return CanonicalEvents.Complete(mapped, context);
    }

    /// <summary>A tp2 POST body of wire events.</summary>
    public static string Body(IEnumerable<byte[]> events) =>
        "{\"schema\":\"" + PayloadDataSchema + "\",\"data\":[" + string.Join(",", events.Select(e => System.Text.Encoding.UTF8.GetString(e))) + "]}";

    private byte[] Write(MeltanoProcess p, Guid eventId, DateTime at, string? cliEvent, string? errorType, long durationMs)
    {
        var dtm = new DateTimeOffset(at).ToUnixTimeMilliseconds();
        _buffer.ResetWrittenCount();
        using (var w = new Utf8JsonWriter(_buffer))
        {
            w.WriteStartObject();
            w.WriteString("e", "ue");
            w.WriteString("ue_px", Base64Url(UnstructEvent(cliEvent, at, durationMs, errorType is not null)));
            w.WriteString("cx", Base64Url(Contexts(p, errorType)));
            w.WriteString("eid", eventId.ToString());
            w.WriteString("dtm", dtm.ToString(CultureInfo.InvariantCulture));
            // The Python tracker sends whole seconds in stm.
            w.WriteString("stm", (dtm / 1000 * 1000).ToString(CultureInfo.InvariantCulture));
            w.WriteString("tv", "py-1.1.0");
            w.WriteString("tna", "meltano-core");
            w.WriteString("aid", "meltano");
            w.WriteString("p", "pc");
            w.WriteString("lang", "en_US");
            w.WriteString("tz", "UTC");
            w.WriteEndObject();
        }
        return _buffer.WrittenSpan.ToArray();
    }

    private byte[] UnstructEvent(string? cliEvent, DateTime at, long durationMs, bool failed)
    {
        _inner.ResetWrittenCount();
        using (var w = new Utf8JsonWriter(_inner))
        {
            w.WriteStartObject();
            w.WriteString("schema", "iglu:com.snowplowanalytics.snowplow/unstruct_event/jsonschema/1-0-0");
            w.WritePropertyName("data");
            w.WriteStartObject();
            if (cliEvent is not null)
            {
                w.WriteString("schema", "iglu:com.meltano/cli_event/jsonschema/1-0-1");
                w.WritePropertyName("data");
                w.WriteStartObject();
                w.WriteString("event", cliEvent);
                w.WriteEndObject();
            }
            else
            {
                w.WriteString("schema", "iglu:com.meltano/exit_event/jsonschema/1-0-1");
                w.WritePropertyName("data");
                w.WriteStartObject();
                w.WriteNumber("exit_code", failed ? 1 : 0);
                w.WriteString("exit_timestamp", at.ToString("yyyy-MM-dd'T'HH:mm:ss.ffffff'+00:00'", CultureInfo.InvariantCulture));
                w.WriteNumber("process_duration_microseconds", durationMs * 1000);
                w.WriteEndObject();
            }
            w.WriteEndObject();
            w.WriteEndObject();
        }
        return _inner.WrittenSpan.ToArray();
    }

    private byte[] Contexts(MeltanoProcess p, string? errorType)
    {
        _inner.ResetWrittenCount();
        using (var w = new Utf8JsonWriter(_inner))
        {
            w.WriteStartObject();
            w.WriteString("schema", "iglu:com.snowplowanalytics.snowplow/contexts/jsonschema/1-0-1");
            w.WritePropertyName("data");
            w.WriteStartArray();

            Item(w, "environment_context", "1-3-0");
            w.WriteString("context_uuid", p.ContextUuid.ToString());
            w.WriteNull("parent_context_uuid");
            w.WriteString("meltano_version", p.MeltanoVersion);
            w.WriteBoolean("is_dev_build", false);
            w.WriteBoolean("is_ci_environment", p.Project.IsCi);
            w.WritePropertyName("notable_flag_env_vars");
            w.WriteStartObject();
            w.WriteBoolean("CI", p.Project.IsCi);
            w.WriteBoolean("GITHUB_ACTIONS", p.Project.IsCi);
            w.WriteEndObject();
            w.WritePropertyName("notable_hashed_env_vars");
            w.WriteStartObject();
            w.WriteEndObject();
            w.WriteString("python_version", p.Python);
            w.WriteString("python_implementation", "CPython");
            w.WriteString("system_name", p.Project.SystemName);
            w.WriteString("system_release", p.Project.SystemRelease);
            w.WriteNull("system_version");
            w.WriteString("machine", "x86_64");
            w.WriteNull("windows_edition");
            w.WriteNull("freedesktop_id");
            w.WriteNull("freedesktop_id_like");
            w.WriteNull("freedesktop_version_id");
            w.WriteNumber("num_cpu_cores", 4);
            w.WriteNumber("num_cpu_cores_available", 4);
            w.WritePropertyName("process_hierarchy");
            w.WriteStartArray();
            w.WriteEndArray();
            EndItem(w);

            Item(w, "project_context", "1-1-0");
            w.WriteString("context_uuid", p.ProjectContextUuid.ToString());
            w.WriteString("project_uuid", p.ProjectUuidOverride ?? p.Project.ProjectUuid);
            w.WriteString("project_uuid_source", p.Project.RandomProjectUuid ? "random" : "explicit");
            w.WriteString("client_uuid", p.Project.ClientUuid);
            w.WriteString("environment_name_hash", DemoFeatures.MeltanoEnvironmentHash(p.Project.ClientUuid, p.ContextUuid.ToString()));
            w.WriteBoolean("send_anonymous_usage_stats", true);
            w.WriteString("send_anonymous_usage_stats_source", "default");
            EndItem(w);

            Item(w, "cli_context", "1-1-0");
            var space = p.Command.IndexOf(' ', StringComparison.Ordinal);
            w.WriteString("command", space < 0 ? p.Command : p.Command[(space + 1)..]);
            w.WriteString("parent_command_hint", space < 0 ? "cli" : p.Command[..space]);
            w.WritePropertyName("options");
            w.WriteStartObject();
            w.WriteEndObject();
            EndItem(w);

            if (p.Plugins.Length > 0)
            {
                Item(w, "plugins_context", "1-0-0");
                w.WriteString("context_uuid", p.PluginsContextUuid.ToString());
                w.WritePropertyName("plugins");
                w.WriteStartArray();
                foreach (var plugin in p.Plugins)
                {
                    w.WriteStartObject();
                    w.WriteString("category", plugin.Entry.Category);
                    w.WriteString("name_hash", plugin.NameHash);
                    w.WriteString("namespace_hash", plugin.NamespaceHash);
                    w.WriteString("executable_hash", plugin.NameHash);
                    w.WriteString("variant_name_hash", plugin.VariantHash);
                    w.WriteString("pip_url_hash", plugin.PipUrlHash);
                    w.WriteNull("parent_name_hash");
                    w.WriteNull("command");
                    w.WriteEndObject();
                }
                w.WriteEndArray();
                EndItem(w);
            }

            Item(w, "exception_context", "1-0-0");
            w.WriteString("context_uuid", p.ContextUuid.ToString());
            if (errorType is null)
            {
                w.WriteNull("exception");
            }
            else
            {
                w.WritePropertyName("exception");
                w.WriteStartObject();
                w.WriteString("type", errorType);
                w.WriteNull("str_hash");
                w.WriteNull("repr_hash");
                w.WritePropertyName("traceback");
                w.WriteStartArray();
                w.WriteEndArray();
                w.WriteNull("cause");
                w.WriteNull("context");
                w.WriteEndObject();
            }
            EndItem(w);

            w.WriteEndArray();
            w.WriteEndObject();
        }
        return _inner.WrittenSpan.ToArray();
    }

    private static void Item(Utf8JsonWriter w, string name, string version)
    {
        w.WriteStartObject();
        w.WriteString("schema", $"iglu:com.meltano/{name}/jsonschema/{version}");
        w.WritePropertyName("data");
        w.WriteStartObject();
    }

    private static void EndItem(Utf8JsonWriter w)
    {
        w.WriteEndObject();
        w.WriteEndObject();
    }

    /// <summary>What the Python tracker sends: URL-safe base64 with padding.</summary>
    private static string Base64Url(byte[] bytes) => Convert.ToBase64String(bytes).Replace('+', '-').Replace('/', '_');
}
