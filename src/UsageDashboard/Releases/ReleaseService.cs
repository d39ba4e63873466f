using Microsoft.Extensions.Options;
using Npgsql;
using UsageDashboard.Catalog;
using UsageDashboard.Insights;
using UsageDashboard.Rollups;

namespace UsageDashboard.Releases;

/// <summary>
/// Release diffs: a tool release against the version before it, or two versions (or two periods) of a
/// plugin. Tool releases read the day and month rollups; plugin comparisons read <c>run_plugins</c> joined
/// to their runs (the plugin rollups carry no command), through the (tool, name, occurred_at) index.
/// Counts are exact; <see cref="ReleaseSql"/> holds the statements.
/// </summary>
public sealed class ReleaseService(NpgsqlDataSource dataSource, RollupSource rollups, PluginNames names, TimeProvider time, IOptions<ReleaseOptions> options)
{
    public static readonly IReadOnlyList<string> SliceDimensions = ["os", "runtime", "command"];

    public DateOnly Today => DateOnly.FromDateTime(time.GetUtcNow().UtcDateTime);

    /// <summary>The diff of <paramref name="version"/> of <paramref name="tool"/>, or null when the tool never ran it.</summary>
    public async Task<ReleaseDiff?> GetToolReleaseAsync(string tool, string version, string? baselineVersion, int? days, CancellationToken ct)
    {
        var o = options.Value;
        var today = Today;
        var versions = await ToolVersionsAsync(tool, today, ct);
        if (!versions.TryGetValue(version, out var firstDay))
        {
            return null;
        }
        var warnings = new List<string>();
        var older = versions.Keys.Where(v => VersionOrder.Instance.Compare(v, version) < 0).OrderBy(v => v, VersionOrder.Instance).ToList();
        var previous = baselineVersion ?? older.LastOrDefault();
        if (baselineVersion is not null && !versions.ContainsKey(baselineVersion))
        {
            warnings.Add("The baseline version never ran; nothing to compare with.");
        }
        var span = Math.Clamp(days ?? o.Days, 1, 366);
        var from = Max(firstDay, today.AddDays(1 - span));
        var current = await ToolSideAsync(tool, version, from, today, ct);
        // The previous version over the same days (same weekdays, same outside world); when it has gone
        // out of use, over the days before the release instead.
        var baseline = previous is null ? Empty(from, today) : await ToolSideAsync(tool, previous, from, today, ct);
        if (previous is not null && baseline.Side.Outcomes.Judged < o.MinJudged)
        {
            baseline = await ToolSideAsync(tool, previous, firstDay.AddDays(-span), firstDay.AddDays(-1), ct);
            warnings.Add($"The previous version had too few runs alongside this one; it is compared over the {span} days before {Format.Date(firstDay)}.");
        }
        if (previous is null)
        {
            warnings.Add("No earlier version to compare with.");
        }
        var dims = baseline.Side.Outcomes.Judged == 0 ? [] : Pair(baseline.Cells, current.Cells);
        var plugins = baseline.Side.Outcomes.Judged == 0 ? [] : Pair(baseline.Plugins, current.Plugins);
        return new ReleaseDiff
        {
            Tool = tool,
            Kind = "tool",
            Name = tool,
            Baseline = baseline.Side,
            Current = current.Side,
            Slices = SliceDecomposition.Decompose(SliceDimensions, dims, o.MinJudged),
            ErrorTypes = ErrorTypes(baseline, current, o.MinJudged),
            Plugins = SliceDecomposition.Decompose(["plugin"], plugins, o.MinJudged),
            Adoption = await AdoptionAsync(ReleaseSql.ToolAdoption, tool, null, version, from, today, ct),
            Rollback = await RollbackAsync(ReleaseSql.ToolRollback, tool, null, version, older.ToArray(), firstDay, today, ct),
            Url = ReleaseUrls.Release(tool, version),
            Warnings = warnings,
        };
    }

    /// <summary>
    /// Two versions of a plugin over the same days, or (Meltano, whose subject is a pip_url that installs
    /// whatever was released last) two periods of one version or of all (<see cref="ComparePair"/>).
    /// Null when the plugin never ran for this tool.
    /// </summary>
    public async Task<ReleaseDiff?> ComparePluginAsync(string tool, string plugin, ComparePair pair, int? days, CancellationToken ct)
    {
        var o = options.Value;
        var today = Today;
        var span = Math.Clamp(days ?? o.Days, 1, 366);
        var window = (From: today.AddDays(1 - span), To: today);
        var a = pair.FromPeriod ?? window;
        var b = pair.ToPeriod ?? window;
        var baseline = await PluginSideAsync(tool, plugin, pair.FromVersion, a.From, a.To, ct);
        var current = await PluginSideAsync(tool, plugin, pair.ToVersion, b.From, b.To, ct);
        if (baseline.Side.Outcomes.Judged == 0 && current.Side.Outcomes.Judged == 0 && !await PluginExistsAsync(tool, plugin, ct))
        {
            return null;
        }
        var dims = baseline.Side.Outcomes.Judged == 0 ? [] : Pair(baseline.Cells, current.Cells);
        var older = pair.FromVersion is null ? [] : new[] { pair.FromVersion };
        var firstDay = b.From;
        return new ReleaseDiff
        {
            Tool = tool,
            Kind = "plugin",
            Name = plugin,
            Baseline = baseline.Side,
            Current = current.Side,
            Slices = SliceDecomposition.Decompose(SliceDimensions, dims, o.MinJudged),
            ErrorTypes = ErrorTypes(baseline, current, o.MinJudged),
            Adoption = pair.ToVersion is null ? [] : await AdoptionAsync(ReleaseSql.PluginAdoption, tool, plugin, pair.ToVersion, b.From, b.To, ct),
            Rollback = pair.ToVersion is null ? new Rollback(0, 0) : await RollbackAsync(ReleaseSql.PluginRollback, tool, plugin, pair.ToVersion, older, firstDay, today, ct),
            Url = ReleaseUrls.Compare(tool, plugin, pair.FromText, pair.ToText),
        };
    }

    /// <summary>The number of days a flag's explanation compares: the week the detector's long window covers.</summary>
    public const int ExplainDays = 7;

    /// <summary>
    /// Names the slice that carries a flagged subject's excess failures, for the flag's plain-words reason,
    /// with the diff that shows the rest. A tool release is compared with the version before it; a plugin
    /// version with the plugin's previous version over the same week, or (no other version) with its own
    /// week before. Null when there is nothing to compare.
    /// </summary>
    public async Task<FlagExplanation?> ExplainAsync(string tool, bool isToolRelease, string name, string version, CancellationToken ct)
    {
        ReleaseDiff? diff;
        if (isToolRelease)
        {
            diff = await GetToolReleaseAsync(tool, version, null, ExplainDays, ct);
        }
        else
        {
            // The version before this one; for a version older than all the others (a pin), the newest other one.
            var others = (await PluginVersionsAsync(tool, name, ct)).Where(v => v != version).ToList();
            var previous = others.Where(v => VersionOrder.Instance.Compare(v, version) < 0).Max(VersionOrder.Instance) ?? others.Max(VersionOrder.Instance);
            var today = Today;
            var pair = previous is not null
                ? new ComparePair(previous, version, previous, version, null, null)
                : Periods(version, (today.AddDays(-2 * ExplainDays + 1), today.AddDays(-ExplainDays)), (today.AddDays(1 - ExplainDays), today));
            diff = await ComparePluginAsync(tool, name, pair, ExplainDays, ct);
        }
        if (diff?.Slices.Headline is not { } top || top.Excess <= 0)
        {
            return diff is null ? null : new FlagExplanation(null, null, diff.Url);
        }
        var share = Format.Percent(top.Share, 0);
        return new FlagExplanation($"{share} of the excess failures: {top.Label}.", top.Label, diff.Url);
    }

    private static ComparePair Periods(string version, (DateOnly From, DateOnly To) a, (DateOnly From, DateOnly To) b) =>
        new($"{Format.Date(a.From)}..{Format.Date(a.To)}", $"{Format.Date(b.From)}..{Format.Date(b.To)}", version, version, a, b);

    private async Task<List<string>> PluginVersionsAsync(string tool, string name, CancellationToken ct)
    {
        await using var cmd = new NpgsqlCommand();
        var days = rollups.PluginDaysAllTime();
        cmd.CommandText = $"SELECT DISTINCT d.version FROM {days} d WHERE d.tool = @tool AND d.name = @name AND d.version IS NOT NULL";
        cmd.Parameters.AddWithValue("tool", tool);
        cmd.Parameters.AddWithValue("name", name);
        await using var conn = await dataSource.OpenConnectionAsync(ct);
        cmd.Connection = conn;
        var versions = new List<string>();
        await using var reader = await cmd.ExecuteReaderAsync(ct);
        while (await reader.ReadAsync(ct))
        {
            versions.Add(reader.GetString(0));
        }
        return versions;
    }

    private static DateOnly Max(DateOnly a, DateOnly b) => a > b ? a : b;

    private static SideData Empty(DateOnly from, DateOnly to) => new(new ReleaseSide("(none)", null, from, to, new Outcomes()), [], [], []);

    private sealed record SideData(ReleaseSide Side, List<SliceCounts> Cells, List<(string Type, long Count)> Errors, List<SliceCounts> Plugins);

    /// <summary>Cells of two sides as one list: each key's baseline and current counts side by side.</summary>
    private static List<SliceCounts> Pair(List<SliceCounts> baseline, List<SliceCounts> current)
    {
        var cells = new Dictionary<string, SliceCounts>(StringComparer.Ordinal);
        foreach (var (c, isCurrent) in baseline.Select(c => (c, false)).Concat(current.Select(c => (c, true))))
        {
            var key = string.Join("\u0001", c.Key);
            var prior = cells.GetValueOrDefault(key) ?? new SliceCounts(c.Key, new Outcomes(), new Outcomes());
            cells[key] = isCurrent ? prior with { Current = prior.Current + c.Current } : prior with { Baseline = prior.Baseline + c.Current };
        }
        return cells.Values.ToList();
    }

    /// <summary>Error types as a decomposition of one dimension: each type's failures against its baseline share of judged runs.</summary>
    private static List<ErrorTypeChange> ErrorTypes(SideData baseline, SideData current, long minJudged)
    {
        var b = baseline.Side.Outcomes;
        var c = current.Side.Outcomes;
        var before = baseline.Errors.ToDictionary(e => e.Type, e => e.Count, StringComparer.Ordinal);
        var after = current.Errors.ToDictionary(e => e.Type, e => e.Count, StringComparer.Ordinal);
        var cells = before.Keys.Union(after.Keys, StringComparer.Ordinal)
            .Select(t => new SliceCounts([t], new Outcomes(b.Judged, before.GetValueOrDefault(t)), new Outcomes(c.Judged, after.GetValueOrDefault(t))))
            .ToList();
        if (b.Judged == 0 || c.Judged == 0)
        {
            return [];
        }
        var d = SliceDecomposition.Decompose(["error_type"], cells, minJudged);
        var failuresBefore = Math.Max(1, before.Values.Sum());
        var failuresAfter = Math.Max(1, after.Values.Sum());
        return d.Slices.Concat(d.Other is null ? [] : [d.Other])
            .Where(s => s.Excess > 0 || s.Current.Failures > 0)
            .Select(s =>
            {
                var type = s.Key[0];
                var count = after.GetValueOrDefault(type);
                var was = before.GetValueOrDefault(type);
                return new ErrorTypeChange(type, count, (double)count / failuresAfter, was, (double)was / failuresBefore, was == 0 && count > 0, s);
            })
            .ToList();
    }

    private async Task<Dictionary<string, DateOnly>> ToolVersionsAsync(string tool, DateOnly today, CancellationToken ct)
    {
        await using var cmd = new NpgsqlCommand();
        var days = rollups.RunDays(cmd, ReleaseSql.Epoch, today);
        cmd.CommandText = $"SELECT d.tool_version, min(d.day) FROM {days} d WHERE d.tool = @tool AND d.tool_version IS NOT NULL AND (NOT @exclude_ci OR NOT d.is_ci) GROUP BY 1";
        AddCommon(cmd, tool);
        var versions = new Dictionary<string, DateOnly>(StringComparer.Ordinal);
        await using var conn = await dataSource.OpenConnectionAsync(ct);
        cmd.Connection = conn;
        await using var reader = await cmd.ExecuteReaderAsync(ct);
        while (await reader.ReadAsync(ct))
        {
            versions[reader.GetString(0)] = reader.GetFieldValue<DateOnly>(1);
        }
        return versions;
    }

    private async Task<bool> PluginExistsAsync(string tool, string plugin, CancellationToken ct)
    {
        await using var cmd = dataSource.CreateCommand("SELECT EXISTS (SELECT 1 FROM run_plugins WHERE tool = @tool AND name = @name)");
        cmd.Parameters.AddWithValue("tool", tool);
        cmd.Parameters.AddWithValue("name", plugin);
        return (bool)(await cmd.ExecuteScalarAsync(ct))!;
    }

    private async Task<SideData> ToolSideAsync(string tool, string version, DateOnly from, DateOnly to, CancellationToken ct)
    {
        await using var cmd = new NpgsqlCommand();
        var commands = rollups.CommandDays(cmd, from, to);
        var errors = rollups.ErrorDays(cmd, from, to);
        var plugins = rollups.PluginDays(cmd, from, to);
        cmd.CommandText = ReleaseSql.ToolSide(commands, errors, plugins);
        AddCommon(cmd, tool);
        cmd.Parameters.AddWithValue("version", version);
        cmd.Parameters.AddWithValue("from_day", from);
        cmd.Parameters.AddWithValue("to_day", to);
        return await ReadSideAsync(cmd, version, version, from, to, pluginNames: true, ct);
    }

    private async Task<SideData> PluginSideAsync(string tool, string plugin, string? version, DateOnly from, DateOnly to, CancellationToken ct)
    {
        await using var cmd = new NpgsqlCommand(ReleaseSql.PluginSide);
        AddCommon(cmd, tool);
        cmd.Parameters.AddWithValue("name", plugin);
        cmd.Parameters.Add(new NpgsqlParameter<string?>("version", NpgsqlTypes.NpgsqlDbType.Text) { TypedValue = version });
        cmd.Parameters.AddWithValue("from_at", from.ToDateTime(TimeOnly.MinValue, DateTimeKind.Utc));
        cmd.Parameters.AddWithValue("to_at", to.AddDays(1).ToDateTime(TimeOnly.MinValue, DateTimeKind.Utc));
        var label = (version is null ? "all versions" : names.VersionLabel(plugin, version)) + $" {Format.Date(from)}..{Format.Date(to)}";
        return await ReadSideAsync(cmd, label, version, from, to, pluginNames: false, ct);
    }

    /// <summary>Reads the cells (os, runtime name, runtime version, command, judged, failures), then error types, then (tool sides) plugins.</summary>
    private async Task<SideData> ReadSideAsync(NpgsqlCommand cmd, string label, string? version, DateOnly from, DateOnly to, bool pluginNames, CancellationToken ct)
    {
        await using var conn = await dataSource.OpenConnectionAsync(ct);
        cmd.Connection = conn;
        var cells = new List<SliceCounts>();
        var errors = new List<(string, long)>();
        var plugins = new List<SliceCounts>();
        var total = new Outcomes();
        await using (var reader = await cmd.ExecuteReaderAsync(ct))
        {
            while (await reader.ReadAsync(ct))
            {
                var counts = new Outcomes(reader.GetInt64(4), reader.GetInt64(5));
                total += counts;
                string[] key = [Text(reader, 0, "(unknown)"), RuntimeLabel(Text(reader, 1, ""), Text(reader, 2, "")), Text(reader, 3, "(none)")];
                cells.Add(new SliceCounts(key, new Outcomes(), counts));
            }
            await reader.NextResultAsync(ct);
            while (await reader.ReadAsync(ct))
            {
                errors.Add((reader.GetString(0), reader.GetInt64(1)));
            }
            if (pluginNames && await reader.NextResultAsync(ct))
            {
                while (await reader.ReadAsync(ct))
                {
                    var name = names.Resolve(reader.GetString(0)).Display;
                    plugins.Add(new SliceCounts([name], new Outcomes(), new Outcomes(reader.GetInt64(1), reader.GetInt64(2))));
                }
            }
        }
        return new SideData(new ReleaseSide(label, version, from, to, total), cells, errors, plugins);
    }

    private static string Text(NpgsqlDataReader reader, int i, string empty) => reader.IsDBNull(i) || reader.GetString(i).Length == 0 ? empty : reader.GetString(i);

    /// <summary>"python 3.12": the runtime and its major.minor, the grain at which runtimes break things.</summary>
    public static string RuntimeLabel(string name, string version)
    {
        var parts = version.Split('.');
        var short_ = parts.Length >= 2 ? parts[0] + "." + parts[1] : version;
        var label = (name + " " + short_).Trim();
        return label.Length == 0 ? "(unknown)" : label;
    }

    private async Task<IReadOnlyList<AdoptionDay>> AdoptionAsync(Func<string, string> sql, string tool, string? plugin, string version, DateOnly from, DateOnly to, CancellationToken ct)
    {
        await using var cmd = new NpgsqlCommand();
        var months = plugin is null ? rollups.InstallationMonths(cmd, from, to) : rollups.PluginMonths(cmd, from, to);
        cmd.CommandText = sql(months);
        AddCommon(cmd, tool);
        cmd.Parameters.AddWithValue("name", plugin ?? "");
        cmd.Parameters.AddWithValue("version", version);
        cmd.Parameters.AddWithValue("from_day", from);
        cmd.Parameters.AddWithValue("to_day", to);
        await using var conn = await dataSource.OpenConnectionAsync(ct);
        cmd.Connection = conn;
        var days = new List<AdoptionDay>();
        await using var reader = await cmd.ExecuteReaderAsync(ct);
        while (await reader.ReadAsync(ct))
        {
            days.Add(new AdoptionDay(reader.GetFieldValue<DateOnly>(0), reader.GetInt64(1), reader.GetInt64(2)));
        }
        return days;
    }

    private async Task<Rollback> RollbackAsync(Func<string, string> sql, string tool, string? plugin, string version, string[] older, DateOnly from, DateOnly to, CancellationToken ct)
    {
        await using var cmd = new NpgsqlCommand();
        var months = plugin is null ? rollups.InstallationMonths(cmd, from, to) : rollups.PluginMonths(cmd, from, to);
        cmd.CommandText = sql(months);
        AddCommon(cmd, tool);
        cmd.Parameters.AddWithValue("name", plugin ?? "");
        cmd.Parameters.AddWithValue("version", version);
        cmd.Parameters.AddWithValue("older", older);
        cmd.Parameters.AddWithValue("from_day", from);
        await using var conn = await dataSource.OpenConnectionAsync(ct);
        cmd.Connection = conn;
        await using var reader = await cmd.ExecuteReaderAsync(ct);
        await reader.ReadAsync(ct);
        return new Rollback(reader.GetInt64(0), reader.GetInt64(1));
    }

    private void AddCommon(NpgsqlCommand cmd, string tool)
    {
        cmd.Parameters.AddWithValue("tool", tool);
        cmd.Parameters.AddWithValue("exclude_ci", options.Value.ExcludeCi);
    }
}

/// <summary>What a plugin comparison compares: two versions, or two periods (of one version or all).</summary>
public sealed record ComparePair(string FromText, string ToText, string? FromVersion, string? ToVersion,
    (DateOnly From, DateOnly To)? FromPeriod, (DateOnly From, DateOnly To)? ToPeriod)
{
    /// <summary>Reads <c>from</c>/<c>to</c>: both versions, or both periods <c>YYYY-MM-DD..YYYY-MM-DD</c> (then <paramref name="version"/> narrows them).</summary>
    public static ComparePair? Parse(string? from, string? to, string? version, out string? error)
    {
        error = null;
        if (string.IsNullOrEmpty(from) || string.IsNullOrEmpty(to))
        {
            error = "Both from and to are required: two versions, or two periods as YYYY-MM-DD..YYYY-MM-DD.";
            return null;
        }
        var a = Period(from);
        var b = Period(to);
        if ((a is null) != (b is null) || (a is null && (from.Contains("..", StringComparison.Ordinal) || to.Contains("..", StringComparison.Ordinal))))
        {
            error = "from and to must both be versions or both be periods (YYYY-MM-DD..YYYY-MM-DD, at most 366 days, from 2000 on).";
            return null;
        }
        return a is null
            ? new ComparePair(from, to, from, to, null, null)
            : new ComparePair(from, to, string.IsNullOrEmpty(version) ? null : version, string.IsNullOrEmpty(version) ? null : version, a, b);
    }

    private static (DateOnly, DateOnly)? Period(string text)
    {
        var parts = text.Split("..");
        var inv = System.Globalization.CultureInfo.InvariantCulture;
        if (parts.Length == 2
            && DateOnly.TryParseExact(parts[0], "yyyy-MM-dd", inv, System.Globalization.DateTimeStyles.None, out var f)
            && DateOnly.TryParseExact(parts[1], "yyyy-MM-dd", inv, System.Globalization.DateTimeStyles.None, out var t)
            && f <= t && f.Year >= 2000 && t.DayNumber - f.DayNumber < 366)
        {
            return (f, t);
        }
        return null;
    }
}
