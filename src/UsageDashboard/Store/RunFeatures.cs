using System.Globalization;
using System.Text;
using System.Text.Json;

namespace UsageDashboard.Store;

/// <summary>
/// One run's feature values and project, derived in memory from its events' properties during a bulk load:
/// a port of the SQL functions <c>feature_values</c> and <c>feature_project</c> (migration ProjectsAndFeatures).
/// The SQL functions are the definition (the incremental refresher and every rebuild use them); a test loads the
/// same events both ways and fails on any difference in the feature rollups. Deriving here spares the load a pass
/// over every event's jsonb in the database, which took most of a 1M-event load (docs/benchmarks.md).
/// </summary>
/// <remarks>
/// Reads follow jsonb's operators: <c>-&gt;</c> is null unless the value is an object with the key (the last
/// of repeated keys, as jsonb keeps it), <c>-&gt;&gt;</c> gives a string as is, JSON null as NULL and anything
/// else in jsonb's text form (<see cref="JsonbText"/>); <c>left(v, 200)</c> counts code points.
/// </remarks>
internal sealed class RunFeatures
{
    private const int MaxLength = 200;

    private readonly List<(string Key, string Value)> _values = [];

    /// <summary>The run's distinct (key, value) pairs from its events, in the order first seen.</summary>
    public IReadOnlyList<(string Key, string Value)> Values => _values;

    /// <summary><c>max(feature_project(tool, properties))</c> over the run's events: NULL when none names one.</summary>
    public string? Project { get; private set; }

    /// <summary>Takes in one event's properties (a non-NULL jsonb).</summary>
    public void Add(string tool, JsonElement p)
    {
        var project = ProjectOf(tool, p);
        Project = BulkRunDerivation.Max(Project, project);

        Value("materialization", Text(Get(Get(p, "run_model"), "model_materialization")));
        Value("model_status", Text(Get(p, "modelStatus")));
        Value("project_size", ProjectSize(Text(Get(Get(p, "resource_counts"), "models"))));
        var install = Get(p, "package_install");
        var source = Text(Get(install, "source"));
        if (source == "hub")
        {
            var name = Text(Get(install, "name"));
            Value("package", name);
            Value("package_version", name is null ? null : name + " " + (Text(Get(install, "version")) ?? "?"));
        }
        else if (install is not null)
        {
            // jsonb null is not SQL NULL: a package_install of null is still "(unknown, hashed)".
            Value("package", "(" + (source ?? "unknown") + ", hashed)");
        }
        Value("deprecation", Text(Get(Get(p, "deprecation_warn"), "deprecation_name")));
        Value("organisation", Text(Get(p, "adapterUniqueId")));
        Strings("report_part", Get(p, "parts"));
        Strings("metric", Get(p, "metrics"));
        Strings("metric_preset", Get(p, "metric_presets"));
        Strings("test", Get(p, "tests"));
        Strings("test_preset", Get(p, "test_presets"));
        Value("snapshot_type", Text(Get(p, "snapshot_type")));
        Value("environment", Text(Get(p, "environmentNameHash")));
        Value("project", project);
        Value("project_excluded", Text(Get(p, "projectUuidSource")) == "random" ? "random" : null);
    }

    /// <summary><c>feature_project</c>: the first project id the event names, Meltano's random ones not counted.</summary>
    private static string? ProjectOf(string tool, JsonElement p)
    {
        var project = Text(Get(p, "projectId")) ?? Text(Get(Get(p, "project_id"), "project_id"));
        if (project is null && Text(Get(p, "projectUuidSource")) != "random")
        {
            project = Text(Get(p, "projectUuid"));
        }
        if (project is null && tool == "jetty" && Get(p, "project_id") is { ValueKind: JsonValueKind.String } jetty)
        {
            project = jetty.GetString();
        }
        return project is null ? null : Left(project);
    }

    private static string? ProjectSize(string? models)
    {
        if (models is not { Length: >= 1 and <= 9 } || !models.All(char.IsAsciiDigit))
        {
            return null;
        }
        var n = int.Parse(models, CultureInfo.InvariantCulture);
        return n switch
        {
            0 => "0 models",
            <= 10 => "1-10 models",
            <= 50 => "11-50 models",
            <= 200 => "51-200 models",
            <= 1000 => "201-1000 models",
            _ => "over 1000 models",
        };
    }

    /// <summary><c>feature_strings</c>: the non-empty strings of an array (anything but an array: none).</summary>
    private void Strings(string key, JsonElement? array)
    {
        if (array is not { ValueKind: JsonValueKind.Array } a)
        {
            return;
        }
        foreach (var x in a.EnumerateArray())
        {
            if (x.ValueKind == JsonValueKind.String)
            {
                Value(key, x.GetString());
            }
        }
    }

    private void Value(string key, string? value)
    {
        if (value is null)
        {
            return;
        }
        value = Left(value);
        if (value.Length == 0)
        {
            return;
        }
        foreach (var (k, v) in _values)
        {
            if (ReferenceEquals(k, key) && v == value)
            {
                return;
            }
        }
        _values.Add((key, value));
    }

    /// <summary><c>left(s, 200)</c>: the first 200 code points (a surrogate pair is one).</summary>
    internal static string Left(string s)
    {
        if (s.Length <= MaxLength)
        {
            return s;
        }
        var count = 0;
        for (var i = 0; i < s.Length; i++)
        {
            if (char.IsLowSurrogate(s[i]) && i > 0 && char.IsHighSurrogate(s[i - 1]))
            {
                continue;
            }
            if (count == MaxLength)
            {
                return s[..i];
            }
            count++;
        }
        return s;
    }

    /// <summary><c>p -&gt; name</c>.</summary>
    private static JsonElement? Get(JsonElement? p, string name) =>
        p is { ValueKind: JsonValueKind.Object } o && o.TryGetProperty(name, out var v) ? v : null;

    /// <summary>The text <c>-&gt;&gt;</c> gives for a value <c>-&gt;</c> found.</summary>
    private static string? Text(JsonElement? v) => v switch
    {
        null or { ValueKind: JsonValueKind.Null } => null,
        { ValueKind: JsonValueKind.String } s => s.GetString(),
        { } other => JsonbText(other),
    };

    /// <summary>A non-string value as jsonb prints it: canonical numbers, keys by length then bytes, ", " and ": ".</summary>
    internal static string JsonbText(JsonElement v)
    {
        var sb = new StringBuilder();
        AppendJsonb(sb, v);
        return sb.ToString();
    }

    private static void AppendJsonb(StringBuilder sb, JsonElement v)
    {
        switch (v.ValueKind)
        {
            case JsonValueKind.Object:
                // jsonb keeps the last of repeated keys and orders keys by byte length, then bytes.
                var fields = new Dictionary<string, JsonElement>(StringComparer.Ordinal);
                foreach (var f in v.EnumerateObject())
                {
                    fields[f.Name] = f.Value;
                }
                var names = fields.Keys.ToList();
                names.Sort(static (a, b) =>
                {
                    var c = Encoding.UTF8.GetByteCount(a).CompareTo(Encoding.UTF8.GetByteCount(b));
                    return c != 0 ? c : BulkRunDerivation.CompareCodePoints(a, b);
                });
                sb.Append('{');
                for (var i = 0; i < names.Count; i++)
                {
                    sb.Append(i == 0 ? "" : ", ");
                    AppendString(sb, names[i]);
                    sb.Append(": ");
                    AppendJsonb(sb, fields[names[i]]);
                }
                sb.Append('}');
                break;
            case JsonValueKind.Array:
                sb.Append('[');
                var first = true;
                foreach (var x in v.EnumerateArray())
                {
                    sb.Append(first ? "" : ", ");
                    first = false;
                    AppendJsonb(sb, x);
                }
                sb.Append(']');
                break;
            case JsonValueKind.String:
                AppendString(sb, v.GetString()!);
                break;
            case JsonValueKind.Number:
                sb.Append(NumericText(v.GetRawText()));
                break;
            case JsonValueKind.True:
                sb.Append("true");
                break;
            case JsonValueKind.False:
                sb.Append("false");
                break;
            default:
                sb.Append("null");
                break;
        }
    }

    /// <summary>PostgreSQL's <c>escape_json</c>.</summary>
    private static void AppendString(StringBuilder sb, string s)
    {
        sb.Append('"');
        foreach (var c in s)
        {
            _ = c switch
            {
                '\b' => sb.Append("\\b"),
                '\f' => sb.Append("\\f"),
                '\n' => sb.Append("\\n"),
                '\r' => sb.Append("\\r"),
                '\t' => sb.Append("\\t"),
                '"' => sb.Append("\\\""),
                '\\' => sb.Append("\\\\"),
                < ' ' => sb.Append(CultureInfo.InvariantCulture, $"\\u{(int)c:x4}"),
                _ => sb.Append(c),
            };
        }
        sb.Append('"');
    }

    /// <summary>
    /// A JSON number as <c>numeric</c> prints it: no exponent, as many decimals as the input had after its
    /// exponent shifted them (<c>1.50e1</c> is 15.0, <c>1e2</c> is 100), no sign on zero.
    /// </summary>
    internal static string NumericText(string raw)
    {
        var negative = raw.StartsWith('-');
        var body = negative ? raw[1..] : raw;
        var e = body.IndexOfAny(['e', 'E']);
        var exponent = e < 0 ? 0 : int.Parse(body[(e + 1)..], NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture);
        var mantissa = e < 0 ? body : body[..e];
        var dot = mantissa.IndexOf('.');
        var integer = dot < 0 ? mantissa : mantissa[..dot];
        var fraction = dot < 0 ? "" : mantissa[(dot + 1)..];
        if (Math.Abs(exponent) > 1000)
        {
            // numeric_in refuses these, so no stored event holds one.
            throw new FormatException($"Number out of numeric's range: {raw}");
        }
        var digits = integer + fraction;
        var point = integer.Length + exponent;
        var scale = Math.Max(0, fraction.Length - exponent);
        string whole, decimals;
        if (point <= 0)
        {
            whole = "";
            decimals = new string('0', -point) + digits;
        }
        else if (point >= digits.Length)
        {
            whole = digits + new string('0', point - digits.Length);
            decimals = "";
        }
        else
        {
            whole = digits[..point];
            decimals = digits[point..];
        }
        whole = whole.TrimStart('0');
        var text = (whole.Length == 0 ? "0" : whole) + (scale > 0 ? "." + decimals.PadRight(scale, '0')[..scale] : "");
        return negative && digits.Any(d => d != '0') ? "-" + text : text;
    }
}
