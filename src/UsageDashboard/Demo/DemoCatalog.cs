using UsageDashboard.Catalog;

namespace UsageDashboard.Demo;

/// <summary>A release of a tool or plugin, dated relative to the end of the generated history.</summary>
internal sealed record Release(string Version, double DaysBeforeEnd);

/// <summary>Picks from weighted items with exactly one random draw, so a sequence of picks is reproducible.</summary>
internal sealed class Weighted<T>
{
    private readonly T[] _items;
    private readonly double[] _cumulative;

    public Weighted(params (T Item, double Weight)[] entries)
    {
        _items = new T[entries.Length];
        _cumulative = new double[entries.Length];
        var sum = 0.0;
        for (var i = 0; i < entries.Length; i++)
        {
            _items[i] = entries[i].Item;
            sum += entries[i].Weight;
            _cumulative[i] = sum;
        }
    }

    public IReadOnlyList<T> Items => _items;

    public T Pick(Random random)
    {
        var x = random.NextDouble() * _cumulative[^1];
        var i = Array.BinarySearch(_cumulative, x);
        // An exact hit on a boundary belongs to the next item: cumulative[i] is the end of item i's range.
        i = i >= 0 ? i + 1 : ~i;
        return _items[Math.Min(i, _items.Length - 1)];
    }
}

/// <summary>
/// What the demo tools look like: commands with their long tails, releases, adapters, Meltano Hub plugin
/// names (taken from the public hub catalog, src/UsageDashboard/Catalog/meltano-hub-plugins.csv, embedded so the
/// generator needs no file and stays deterministic), error class names and platform mixes.
/// </summary>
internal static class DemoCatalog
{
    public const string Dbt = "dbt";
    public const string Meltano = "meltano";
    public const string Evidently = "evidently";
    public const string Jetty = "jetty";

    // dbt: command weights follow what dbt projects mostly do (run/build/test), then a long tail.
    public static readonly Weighted<string> DbtCommands = new(
        ("run", 30), ("build", 22), ("test", 16), ("compile", 7), ("deps", 7), ("docs generate", 4),
        ("seed", 3), ("source freshness", 3), ("snapshot", 2.5), ("ls", 2.5), ("run-operation", 1.5),
        ("debug", 1.5), ("parse", 1), ("docs serve", 0.6), ("clean", 0.5), ("show", 0.5), ("retry", 0.3),
        ("init", 0.2), ("clone", 0.1));

    public static readonly Release[] DbtReleases =
    [
        new("1.7.17", 330), new("1.8.6", 240), new("1.8.8", 175), new("1.9.1", 130), new("1.9.3", 95),
        new("1.9.4", 70), new("1.10.0", 42), new(DemoDataGenerator.BrokenToolVersion, DemoDataGenerator.BrokenToolReleaseDaysBeforeEnd),
    ];

    public static readonly Weighted<string> DbtAdapters = new(
        ("snowflake", 30), ("bigquery", 20), ("postgres", 18), ("databricks", 12), ("redshift", 8), ("duckdb", 8),
        ("trino", 2), ("spark", 2), ("sqlserver", 1.5), ("fabric", 1), ("clickhouse", 1), ("athena", 1));

    /// <summary>Adapters release on their own cadence, in step with dbt-core minors.</summary>
    public static readonly Release[] AdapterReleases =
    [
        new("1.7.5", 330), new("1.8.2", 240), new("1.8.7", 170), new("1.9.0", 130), new("1.9.2", 80),
        new("1.9.4", 40), new("1.10.0", 15),
    ];

    public static readonly Weighted<string> DbtErrors = new(
        ("DbtRuntimeError", 35), ("DbtDatabaseError", 25), ("CompilationError", 15), ("ParsingError", 8),
        ("DbtProjectError", 5), ("KeyboardInterrupt", 5), ("DbtProfileError", 4), ("FailFastError", 3));

    /// <summary>What the broken dbt release raises on Windows: a path/encoding regression, mostly.</summary>
    public static readonly Weighted<string> DbtWindowsRegressionErrors = new(
        ("UnicodeDecodeError", 80), ("DbtRuntimeError", 12), ("PermissionError", 8));

    public static readonly Weighted<string> MeltanoCommands = new(
        ("run", 40), ("elt", 14), ("invoke", 14), ("install", 9), ("config", 6), ("add", 4), ("state", 3),
        ("schedule", 3), ("select", 2), ("test", 1.5), ("job", 1.5), ("lock", 1), ("init", 0.5), ("remove", 0.3));

    public static readonly Release[] MeltanoReleases =
    [
        new("3.3.2", 300), new("3.4.2", 220), new("3.5.4", 150), new("3.6.0", 90), new("3.7.0", 50),
        new("3.7.1", 25), new("3.7.2", 8),
    ];

    // Names from the Meltano Hub catalog; the weight is how popular the demo makes each one.
    public static readonly Weighted<string> Extractors = new(
        (DemoDataGenerator.BrokenPluginName, 60), ("tap-postgres", 12), ("tap-salesforce", 7), ("tap-hubspot", 7),
        ("tap-stripe", 6), ("tap-google-analytics", 5), ("tap-ga4", 4), ("tap-shopify", 4), ("tap-mysql", 5),
        ("tap-gitlab", 3), ("tap-jira", 3), ("tap-slack", 2), ("tap-zendesk", 2.5), ("tap-facebook", 2.5),
        ("tap-csv", 3), ("tap-s3-csv", 2), ("tap-rest-api-msdk", 3), ("tap-spreadsheets-anywhere", 2),
        ("tap-mongodb", 2), ("tap-linkedin-ads", 1.5), ("tap-google-sheets", 2), ("tap-intercom", 1.2),
        ("tap-pipedrive", 1), ("tap-quickbooks", 1), ("tap-mailchimp", 1), ("tap-asana", 0.8), ("tap-airtable", 1),
        ("tap-snowflake", 1.5), ("tap-mssql", 1.5), ("tap-klaviyo", 1));

    public static readonly Weighted<string> Loaders = new(
        ("target-postgres", 22), ("target-snowflake", 20), ("target-bigquery", 14), ("target-duckdb", 8),
        ("target-jsonl", 6), ("target-csv", 4), ("target-redshift", 5), ("target-parquet", 4), ("target-s3", 3),
        ("target-sqlite", 2), ("target-clickhouse", 1.5), ("target-mysql", 1.5));

    public static readonly Weighted<string> MeltanoErrors = new(
        ("RunnerError", 30), ("PluginExecutionError", 25), ("AsyncSubprocessError", 10), ("PluginNotFoundError", 8),
        ("MeltanoConfigurationError", 8), ("ProjectNotFound", 6), ("BlockSetValidationError", 5),
        ("StateIDLockedError", 4), ("KeyboardInterrupt", 4));

    /// <summary>
    /// The hub variants of each demo plugin name (embedded catalog): the first is the one most projects add
    /// (meltanolabs where it exists, never the Airbyte wrapper), the rest are what a few projects choose instead.
    /// </summary>
    public static readonly IReadOnlyDictionary<string, CatalogEntry[]> MeltanoVariants = LoadVariants();

    private static Dictionary<string, CatalogEntry[]> LoadVariants()
    {
        var wanted = Extractors.Items.Concat(Loaders.Items).ToHashSet(StringComparer.Ordinal);
        return PluginCatalog.Embedded()
            .Where(e => wanted.Contains(e.Name) && e.PipUrl.Length > 0 && e.Variant.Length > 0)
            .GroupBy(e => e.Name, StringComparer.Ordinal)
            .ToDictionary(g => g.Key, g => g.DistinctBy(e => e.Variant)
                .OrderBy(e => e.Variant == "meltanolabs" ? 0 : e.Variant == "airbyte" ? 2 : 1).ThenBy(e => e.Variant, StringComparer.Ordinal).ToArray(),
                StringComparer.Ordinal);
    }

    /// <summary>The broken tap crashes inside the extractor, which Meltano reports as a runner failure.</summary>
    public static readonly Weighted<string> BrokenPluginErrors = new(("RunnerError", 70), ("PluginExecutionError", 30));

    public static readonly Weighted<string> EvidentlyCommands = new(("report", 45), ("test_suite", 20), ("ui", 20), ("snapshot", 15));

    public static readonly Release[] EvidentlyReleases =
    [
        new("0.4.33", 330), new("0.4.40", 220), new("0.5.1", 150), new("0.6.1", 100), new("0.6.5", 60),
        new("0.7.0", 30), new("0.7.3", 9),
    ];

    public static readonly Weighted<string> EvidentlyErrors = new(
        ("ValueError", 40), ("KeyError", 20), ("TypeError", 15), ("ModuleNotFoundError", 10), ("FileNotFoundError", 10),
        ("MemoryError", 5));

    public static readonly Weighted<string> JettyCommands = new(
        ("invoked_fetch", 45), ("invoked_explore", 25), ("invoked_diff", 10), ("invoked_plan", 8),
        ("invoked_apply", 6), ("invoked_new", 3), ("invoked_bootstrap", 3));

    public static readonly Release[] JettyReleases =
    [
        new("0.3.2", 400), new("0.4.0", 250), new("0.4.1", 120), new("0.4.2", 45), new("0.4.3", 12),
    ];

    public static readonly Weighted<string> JettyConnectors = new(
        ("dbt", 30), ("snowflake", 28), ("tableau", 18), ("okta", 12), ("bigquery", 8), ("postgres", 6),
        ("databricks", 5), ("looker", 4), ("powerbi", 3));

    /// <summary>Python minors with the patch release the demo reports for each.</summary>
    public static readonly string[] PythonVersions = ["3.9.21", "3.10.16", "3.11.11", "3.12.8", "3.13.1"];

    /// <summary>Python share among installations set up about a year before the end, then at the end: newer minors gain.</summary>
    public static readonly double[] PythonShareOld = [0.15, 0.25, 0.35, 0.22, 0.03];
    public static readonly double[] PythonShareNew = [0.04, 0.12, 0.28, 0.40, 0.16];

    public static readonly string[] LinuxVersions = ["5.15", "6.1", "6.5", "6.8", "6.11"];
    public static readonly double[] LinuxShareOld = [0.35, 0.25, 0.2, 0.18, 0.02];
    public static readonly double[] LinuxShareNew = [0.15, 0.2, 0.15, 0.35, 0.15];
    public static readonly string[] MacVersions = ["13.7", "14.7", "15.1"];
    public static readonly double[] MacShareOld = [0.35, 0.55, 0.1];
    public static readonly double[] MacShareNew = [0.1, 0.4, 0.5];
    public static readonly string[] WindowsVersions = ["10", "11"];
    public static readonly double[] WindowsShareOld = [0.6, 0.4];
    public static readonly double[] WindowsShareNew = [0.35, 0.65];

    /// <summary>Relative run volume by local hour of day: a working-day curve with a lunch dip.</summary>
    public static readonly double[] LocalHourWeights =
    [
        0.15, 0.1, 0.08, 0.08, 0.1, 0.2, 0.4, 0.8, 1.4, 1.9, 2.0, 1.9,
        1.5, 1.8, 1.9, 1.8, 1.6, 1.2, 0.8, 0.6, 0.5, 0.45, 0.35, 0.25,
    ];

    /// <summary>Where installations are, as UTC offsets in hours (Americas, Europe, India, Asia-Pacific).</summary>
    public static readonly Weighted<double> UtcOffsets = new(
        (-8, 0.2), (-5, 0.22), (0, 0.1), (1, 0.2), (2, 0.08), (5.5, 0.08), (8, 0.07), (10, 0.05));
}
