using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using UsageDashboard.Ingestion;

namespace UsageDashboard.Demo;

/// <summary>
/// The <c>properties</c> the demo's events carry, as the mappers store them from each tool's wire shape
/// (docs/ingestion.md): dbt's project id, adapter_unique_id, resource_counts, run_model, package_install and
/// deprecation_warn contexts; Meltano's project_context; Evidently's usage.parts (0.1) and extra (0.4+);
/// Jetty's project_id. Drawn from a Random of its own, so adding them left every other demo value as it was.
/// Projects are derived from the installation id: most installations are alone in theirs, some share a
/// team's project (a developer and the team's CI), as the tools' project ids do.
/// </summary>
internal sealed class DemoFeatures(int seed)
{
    private readonly Random _random = new(unchecked(seed * 31 + 17));

    private static readonly Weighted<string> s_materializations = new(("view", 40), ("table", 30), ("incremental", 20), ("ephemeral", 7), ("snapshot", 3));
    private static readonly Weighted<string> s_hubPackages = new(
        ("dbt-labs/dbt_utils", 50), ("dbt-labs/codegen", 12), ("calogica/dbt_expectations", 12), ("dbt-labs/audit_helper", 6),
        ("elementary-data/elementary", 8), ("dbt-labs/dbt_project_evaluator", 4), ("metaplane/dbt_expectations", 3));
    private static readonly Weighted<string> s_packageVersions = new(("1.1.1", 40), ("1.0.0", 25), ("0.9.6", 20), ("1.2.0", 15));
    private static readonly Weighted<string> s_deprecations = new(
        ("project-config-data-paths", 3), ("config-source-paths-deprecation", 3), ("generic-test-missing-arguments-property", 2),
        ("package-redirect", 1), ("custom-key-in-config-deprecation", 1));
    private static readonly Weighted<string> s_reportParts = new(
        ("data_drift", 40), ("data_quality", 20), ("num_target_drift", 12), ("cat_target_drift", 10),
        ("classification_performance", 10), ("regression_performance", 8));
    private static readonly Weighted<string> s_metrics = new(
        ("ValueDrift", 30), ("DatasetMissingValueCount", 20), ("ColumnSummaryMetric", 15), ("DatasetDriftMetric", 15), ("ClassificationQualityMetric", 10), ("RegressionQualityMetric", 10));
    private static readonly Weighted<string> s_metricPresets = new(("DataDriftPreset", 50), ("DataQualityPreset", 25), ("ClassificationPreset", 15), ("RegressionPreset", 10));
    private static readonly Weighted<string> s_tests = new(("TestNumberOfMissingValues", 30), ("TestShareOfDriftedColumns", 30), ("TestColumnValueMin", 20), ("TestAccuracyScore", 20));
    private static readonly Weighted<string> s_testPresets = new(("DataStabilityTestPreset", 40), ("DataDriftTestPreset", 35), ("NoTargetPerformanceTestPreset", 25));
    private static readonly string[] s_environments = ["dev", "prod", "staging", "ci", "team-analytics"];

    /// <summary>A project id as the tool sends it: dbt's MD5 hex of the name, a UUID for Meltano and Jetty.</summary>
    public static string Project(string tool, string installationId)
    {
        var h = Hash(installationId);
        // 70 % of installations have a project of their own, the others share one of a pool of team projects.
        var name = h % 10 < 7 ? "own:" + installationId : "team:" + (h / 10 % 500).ToString(CultureInfo.InvariantCulture);
        var digest = MD5.HashData(Encoding.UTF8.GetBytes(tool + "/" + name));
        return tool == DemoCatalog.Dbt ? Convert.ToHexStringLower(digest) : new Guid(digest).ToString();
    }

    /// <summary>dbt's adapter_unique_id (MD5 of the warehouse account): a team's installations share one.</summary>
    private static string Organisation(string installationId) =>
        Convert.ToHexStringLower(MD5.HashData(Encoding.UTF8.GetBytes("org:" + (Hash(installationId) / 7 % 300).ToString(CultureInfo.InvariantCulture))));

    private static uint Hash(string s)
    {
        var h = 2166136261u;
        foreach (var c in s)
        {
            h = (h ^ c) * 16777619u;
        }
        return h;
    }

    /// <summary>A dbt invocation's start (<paramref name="end"/> false) or end event properties.</summary>
    public JsonDocument Dbt(string installationId, string command, bool end, bool failed)
    {
        var p = new Dictionary<string, object?>
        {
            ["projectId"] = Project(DemoCatalog.Dbt, installationId),
            ["runType"] = "regular",
        };
        if (!end)
        {
            return Document(p);
        }
        p["adapterUniqueId"] = Organisation(installationId);
        var models = (int)(Hash(installationId) % 7) switch { 0 => 4, 1 or 2 => 25, 3 or 4 => 120, 5 => 420, _ => 1500 } + (int)(Hash(installationId) % 11);
        p["resource_counts"] = new Dictionary<string, int> { ["models"] = models, ["tests"] = models * 2, ["sources"] = models / 5, ["macros"] = 30 };
        if (command is "run" or "build")
        {
            // REVIEW: dbt sends one run_model event per model; the demo puts one model's context on the end
            // event, which counts the same per run (a value counts once per run) without multiplying events.
            p["run_model"] = new Dictionary<string, object?>
            {
                ["model_materialization"] = s_materializations.Pick(_random),
                ["run_status"] = failed ? "error" : "success",
                ["run_skipped"] = false,
            };
            p["modelStatus"] = failed ? "error" : "success";
        }
        if (command == "deps")
        {
            p["package_install"] = _random.NextDouble() < 0.85
                ? new Dictionary<string, string> { ["name"] = s_hubPackages.Pick(_random), ["source"] = "hub", ["version"] = s_packageVersions.Pick(_random) }
                : new Dictionary<string, string> { ["name"] = Convert.ToHexStringLower(MD5.HashData(Encoding.UTF8.GetBytes(installationId))), ["source"] = "git", ["version"] = "9f0c2a" };
        }
        if (_random.NextDouble() < 0.06)
        {
            p["deprecation_warn"] = new Dictionary<string, string> { ["deprecation_name"] = s_deprecations.Pick(_random) };
        }
        return Document(p);
    }

    /// <summary>
    /// The digest of the Meltano environment a run used (Meltano sends <c>environment_name_hash</c>), one of a
    /// few common names picked per run.
    /// </summary>
    public static string MeltanoEnvironmentHash(string clientUuid, string context)
    {
        var environment = s_environments[(int)(Hash(clientUuid + context) % (uint)s_environments.Length)];
        return Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(environment)));
    }

    /// <summary>Evidently: usage.parts for reports (0.1), extra's metrics and tests for snapshots and test suites (0.4+).</summary>
    public JsonDocument? Evidently(string command)
    {
        var p = new Dictionary<string, object?>();
        switch (command)
        {
            case "report":
                p["parts"] = Distinct(s_reportParts, 1 + _random.Next(2));
                break;
            case "snapshot":
                p["snapshot_type"] = "report";
                p["metrics"] = Distinct(s_metrics, 1 + _random.Next(3));
                p["metric_presets"] = Distinct(s_metricPresets, _random.Next(2));
                p["tests"] = Array.Empty<string>();
                break;
            case "test_suite":
                p["snapshot_type"] = "test_suite";
                p["tests"] = Distinct(s_tests, 1 + _random.Next(2));
                p["test_presets"] = Distinct(s_testPresets, _random.Next(2));
                break;
            default:
                return null;
        }
        return Document(p);
    }

    /// <summary>Jetty's top-level project_id, which the mapper keeps in properties.</summary>
    public static JsonDocument Jetty(string installationId) =>
        Document(new Dictionary<string, object?> { ["project_id"] = Project(DemoCatalog.Jetty, installationId), ["schema_version"] = 1 });

    private string[] Distinct(Weighted<string> values, int count)
    {
        var picked = new List<string>();
        for (var i = 0; i < count * 3 && picked.Count < count; i++)
        {
            var v = values.Pick(_random);
            if (!picked.Contains(v))
            {
                picked.Add(v);
            }
        }
        return [.. picked];
    }

    /// <summary>
    /// <paramref name="properties"/> as a document sized to fit (<see cref="JsonValues.ParseDetached"/>):
    /// SerializeToDocument keeps its 16 KB pooled write buffer, which every event in flight then held.
    /// </summary>
    private static JsonDocument Document(Dictionary<string, object?> properties) =>
        JsonValues.ParseDetached(JsonSerializer.SerializeToUtf8Bytes(properties));
}
