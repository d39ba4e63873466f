using System.Security.Cryptography;
using System.Text;

namespace UsageDashboard.Insights;

/// <summary>One feature key a tool's telemetry carries: what the rollup calls it, how pages title it, and where it comes from on the wire.</summary>
public sealed record FeatureKey(string Key, string Title, string Source);

/// <summary>
/// The per-tool allowlist of feature keys (<c>/features</c> and <c>GET /api/insights/properties</c>): what each
/// tool's team says it collects telemetry for (seeds 000–004). The values come from the SQL function
/// <c>feature_values</c> (migration ProjectsAndFeatures). Project and organisation ids are counted, never
/// listed, so they are not keys here.
/// </summary>
public static class FeatureCatalog
{
    public const string ProjectKey = "project";
    public const string OrganisationKey = "organisation";
    public const string ProjectExcludedKey = "project_excluded";

    private static readonly FeatureKey[] s_dbt =
    [
        new("materialization", "Materialisations", "run_model.model_materialization, one event per model"),
        new("model_status", "Model statuses", "run_model.run_status (model_status)"),
        new("project_size", "Project size", "resource_counts.models, bucketed"),
        new("package", "Installed packages", "package_install.name (hub packages in clear, others by source)"),
        new("package_version", "Package versions", "package_install.name and version (hub packages)"),
        new("deprecation", "Deprecation warnings", "deprecation_warn.deprecation_name"),
    ];

    private static readonly FeatureKey[] s_evidently =
    [
        new("report_part", "Report types", "usage.parts (Evidently 0.1)"),
        new("metric", "Metrics", "extra.metrics"),
        new("metric_preset", "Metric presets", "extra.metric_presets"),
        new("test", "Tests", "extra.tests"),
        new("test_preset", "Test presets", "extra.test_presets"),
        new("snapshot_type", "Snapshot types", "extra.snapshot_type"),
    ];

    private static readonly FeatureKey[] s_jetty =
    [
        new("connector_stack", "Connector stacks", "event.properties.connector_types, the connectors a run named together"),
    ];

    private static readonly FeatureKey[] s_meltano =
    [
        new("plugin_category", "Plugin categories per command", "cli_context.command and plugins_context.plugins[].category"),
        new("environment", "Environments", "project_context.environment_name_hash (SHA-256 of the name)"),
    ];

    private static readonly Dictionary<string, FeatureKey[]> s_byTool = new(StringComparer.Ordinal)
    {
        ["dbt"] = s_dbt, ["evidently"] = s_evidently, ["jetty"] = s_jetty, ["meltano"] = s_meltano,
    };

    /// <summary>Tools whose telemetry names a project, and the field it is read from.</summary>
    public static readonly IReadOnlyDictionary<string, string> ProjectSources = new Dictionary<string, string>(StringComparer.Ordinal)
    {
        ["dbt"] = "invocation.project_id", ["meltano"] = "project_context.project_uuid (not when project_uuid_source is random)", ["jetty"] = "project_id",
    };

    /// <summary>Tools whose telemetry names an organisation: dbt's adapter_unique_id (a hash of the warehouse account).</summary>
    public static readonly IReadOnlyDictionary<string, string> OrganisationSources = new Dictionary<string, string>(StringComparer.Ordinal)
    {
        ["dbt"] = "adapter_info.adapter_unique_id",
    };

    /// <summary>The keys of <paramref name="tool"/>; a tool of another name may carry any of them.</summary>
    public static IReadOnlyList<FeatureKey> For(string? tool) =>
        tool is not null && s_byTool.TryGetValue(tool, out var keys) ? keys : [.. s_byTool.Values.SelectMany(k => k)];

    public static FeatureKey? Find(string? tool, string key) => For(tool).FirstOrDefault(k => k.Key == key);

    /// <summary>The documented list, for the 400 answer and the README.</summary>
    public static IReadOnlyDictionary<string, IReadOnlyList<string>> Allowlist =>
        s_byTool.ToDictionary(p => p.Key, p => (IReadOnlyList<string>)[.. p.Value.Select(k => k.Key)], StringComparer.Ordinal);

    /// <summary>
    /// Meltano sends an environment's name only as its SHA-256: the names every project uses are recognised
    /// (they are not personal), any other is shown as the start of its hash.
    /// </summary>
    private static readonly Dictionary<string, string> s_environmentNames =
        new[] { "dev", "development", "staging", "stage", "prod", "production", "test", "testing", "ci", "qa", "uat", "local", "sandbox", "preprod" }
            .ToDictionary(n => Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(n))), n => n, StringComparer.Ordinal);

    /// <summary>How a value is shown: environment hashes by name where known.</summary>
    public static string Display(string key, string value) =>
        key == "environment"
            ? s_environmentNames.TryGetValue(value, out var name) ? name : value.Length > 12 ? $"hash {value[..12]}…" : value
            : value;
}
