using UsageDashboard.Rollups;

namespace UsageDashboard.Store;

/// <summary>
/// Every rollup table of a bulk load, aggregated in memory from the runs <see cref="BulkRunDerivation"/>
/// derived, and COPYed in the load's transaction. The aggregates in <see cref="RollupSql"/> stay the
/// definition (a test loads the same events and compares every row with a full rebuild from
/// <c>runs</c>): here they are the same groupings by the same values, where rebuilding them in SQL after
/// the load read every run and plugin row again once per table (6–8 s of a 1M-event load, after the
/// load had committed). This runs on the client's core while the server builds the events' indexes.
/// </summary>
/// <remarks>
/// Grouping compares text by ordinal equality, which is PostgreSQL's text equality under every
/// deterministic collation; NULLs group together as in GROUP BY. Timestamps are the stored ones
/// (microseconds, as <see cref="BulkRunDerivation"/> keeps them), days and months are UTC.
/// </remarks>
internal sealed class BulkRollups
{
    private const string NoCommand = "(none)";
    private const string NoError = "(not reported)";

    /// <summary>The plugin types whose runs count per command in the feature <c>plugin_category</c> (Meltano's).</summary>
    private static readonly HashSet<string> s_pluginCategories =
        new(["extractors", "loaders", "transformers", "utilities", "orchestrators", "mappers", "files"], StringComparer.Ordinal);

    private readonly Dictionary<RunDayKey, Outcomes> _runDays = [];
    private readonly Dictionary<InstallationMonthKey, (int Days, int OkDays)> _installationMonths = [];
    private readonly Dictionary<CommandDayKey, Outcomes> _commandDays = [];
    private readonly Dictionary<CommandMonthKey, int> _commandMonths = [];
    private readonly Dictionary<CommandDayKey, Dictionary<short, int>> _durations = [];
    private readonly Dictionary<PluginDayKey, (Outcomes Outcomes, DateTime FirstAt)> _pluginDays = [];
    private readonly Dictionary<PluginMonthKey, int> _pluginMonths = [];
    private readonly Dictionary<ErrorDayKey, (int Runs, DateTime LastAt)> _errorDays = [];
    private readonly Dictionary<ErrorMonthKey, int> _errorMonths = [];
    private readonly Dictionary<ErrorDayKey, (int Runs, DateTime LastAt)> _pluginErrorDays = [];
    private readonly Dictionary<ErrorMonthKey, int> _pluginErrorMonths = [];
    private readonly Dictionary<FeatureDayKey, Outcomes> _featureDays = [];
    private readonly Dictionary<FeatureMonthKey, int> _featureMonths = [];

    /// <summary>Aggregates every run of <paramref name="derivation"/> (after its <see cref="BulkRunDerivation.Complete"/>).</summary>
    public static BulkRollups From(BulkRunDerivation derivation)
    {
        var rollups = new BulkRollups();
        foreach (var run in derivation.Completed)
        {
            rollups.Add(run, derivation.InstallationKey(run.Tool, run.InstallationId));
        }
        return rollups;
    }

    private void Add(BulkRunDerivation.RunState r, int installation)
    {
        var day = DateOnly.FromDateTime(r.OccurredAt);
        var month = new DateOnly(day.Year, day.Month, 1);
        var bit = 1 << (day.Day - 1);
        var command = r.Command ?? NoCommand;
        var env = new Env(r.IsCi, r.OsName, r.ToolVersion, r.RuntimeName, r.RuntimeVersion, r.Environment);
        var failure = r.Status is RunStatus.Failed or RunStatus.Aborted;
        var error = r.ErrorType ?? NoError;

        var platform = new Platform(r.IsCi, r.OsName, r.OsVersion, r.RuntimeName, r.RuntimeVersion, r.ToolVersion, r.Environment);
        Count(_runDays, new RunDayKey(r.Tool, day, platform), r.Status);
        var instKey = new InstallationMonthKey(r.Tool, month, installation, platform);
        var masks = _installationMonths.GetValueOrDefault(instKey);
        _installationMonths[instKey] = (masks.Days | bit, masks.OkDays | (r.Status == RunStatus.Succeeded ? bit : 0));

        var commandDay = new CommandDayKey(r.Tool, day, command, env);
        Count(_commandDays, commandDay, r.Status);
        SetBit(_commandMonths, new CommandMonthKey(r.Tool, month, installation, command, env), bit);
        if (r.DurationMs is { } duration && duration >= 0)
        {
            if (!_durations.TryGetValue(commandDay, out var histogram))
            {
                _durations[commandDay] = histogram = [];
            }
            var bucket = (short)DurationHistogram.BucketOf(duration);
            histogram[bucket] = histogram.GetValueOrDefault(bucket) + 1;
        }
        if (failure)
        {
            CountLatest(_errorDays, new ErrorDayKey(r.Tool, day, command, error, env), r.OccurredAt);
            SetBit(_errorMonths, new ErrorMonthKey(r.Tool, month, installation, command, error, env), bit);
        }

        foreach (var p in r.Plugins ?? [])
        {
            // As stored in run_plugins: no version is '', the outcome is the plugin's own or else its run's.
            var plugin = new Plugin(p.Name, p.Type, p.Version ?? "");
            var status = p.Outcome(r.Status);
            var pluginDay = new PluginDayKey(r.Tool, day, plugin, env);
            var (outcomes, firstAt) = _pluginDays.TryGetValue(pluginDay, out var known) ? known : (default, r.OccurredAt);
            _pluginDays[pluginDay] = (outcomes.Add(status), r.OccurredAt < firstAt ? r.OccurredAt : firstAt);
            SetBit(_pluginMonths, new PluginMonthKey(r.Tool, month, installation, plugin, env), bit);
            if (status is RunStatus.Failed or RunStatus.Aborted)
            {
                CountLatest(_pluginErrorDays, new ErrorDayKey(r.Tool, day, p.Name, error, env), r.OccurredAt);
                SetBit(_pluginErrorMonths, new ErrorMonthKey(r.Tool, month, installation, p.Name, error, env), bit);
            }
        }
        AddFeatures(r, day, month, bit, installation, env);
    }

    /// <summary>
    /// The rows <c>RollupSql.FeatureFacts</c> gives a run: its events' values (<see cref="RunFeatures"/>), the
    /// values read from its plugins, and <c>runs = all</c> (day table only); projects and organisations go to
    /// the month table only.
    /// </summary>
    private void AddFeatures(BulkRunDerivation.RunState r, DateOnly day, DateOnly month, int bit, int installation, Env env)
    {
        var project = r.Features?.Project;
        void Feature(string key, string value, bool toDays, bool toMonths)
        {
            if (toDays)
            {
                Count(_featureDays, new FeatureDayKey(r.Tool, day, key, value, env), r.Status);
            }
            if (toMonths)
            {
                SetBit(_featureMonths, new FeatureMonthKey(r.Tool, month, installation, key, value, project, env), bit);
            }
        }
        foreach (var (key, value) in r.Features?.Values ?? [])
        {
            Feature(key, value, toDays: key is not ("project" or "organisation"), toMonths: true);
        }
        List<string>? connectors = null;
        List<string>? categories = null;
        foreach (var p in r.Plugins ?? [])
        {
            if (p.Type == "connector")
            {
                (connectors ??= []).Add(p.Name);
            }
            else if (s_pluginCategories.Contains(p.Type))
            {
                var category = (r.Command ?? NoCommand) + " · " + p.Type;
                if (categories is null || !categories.Contains(category))
                {
                    (categories ??= []).Add(category);
                }
            }
        }
        if (connectors is not null)
        {
            // string_agg(DISTINCT name, ' + ' ORDER BY name): a run's plugins are distinct by (name, type) already.
            connectors.Sort(BulkRunDerivation.CompareCodePoints);
            Feature("connector_stack", string.Join(" + ", connectors), true, true);
        }
        foreach (var category in categories ?? [])
        {
            Feature("plugin_category", category, true, true);
        }
        Feature("runs", "all", toDays: true, toMonths: false);
    }

    /// <summary>
    /// COPYs every table (emptied by the load's TRUNCATE of <c>runs</c>, in the same transaction) and gives
    /// each (table, month, tool) segment a new version, as a rebuild does, so every cache reloads them.
    /// </summary>
    public async Task WriteAsync(Npgsql.NpgsqlConnection conn, CancellationToken ct)
    {
        await CopyAsync(conn, "rollup_run_days", RollupSql.RunDaysColumns, _runDays, static (w, k, v) =>
        {
            StartDayRow(w, 13, k.Tool, k.Day);
            k.Platform.Write(w);
            v.Write(w);
        }, ct);
        await CopyAsync(conn, "rollup_installation_months", RollupSql.InstallationMonthsColumns, _installationMonths, static (w, k, v) =>
        {
            StartMonthRow(w, 12, k.Tool, k.Month, k.Installation);
            k.Platform.Write(w);
            w.Write(v.Days);
            w.Write(v.OkDays);
        }, ct);
        await CopyAsync(conn, "rollup_command_days", RollupSql.CommandDaysColumns, _commandDays, static (w, k, v) =>
        {
            StartCommandDay(w, 13, k);
            v.Write(w);
        }, ct);
        await CopyAsync(conn, "rollup_command_months", RollupSql.CommandMonthsColumns, _commandMonths, static (w, k, days) =>
        {
            StartMonthRow(w, 11, k.Tool, k.Month, k.Installation);
            w.Write(k.Command);
            k.Env.Write(w);
            w.Write(days);
        }, ct);
        await CopyAsync(conn, "rollup_command_durations", RollupSql.CommandDurationsColumns, _durations, static (w, k, histogram) =>
        {
            StartCommandDay(w, 11, k);
            // array_agg(... ORDER BY bucket): the buckets that occur, ascending, and their counts.
            var buckets = histogram.Keys.ToArray();
            Array.Sort(buckets);
            w.Write(buckets);
            w.Write(Array.ConvertAll(buckets, b => histogram[b]));
        }, ct);
        await CopyAsync(conn, "rollup_plugin_days", RollupSql.PluginDaysColumns, _pluginDays, static (w, k, v) =>
        {
            StartDayRow(w, 16, k.Tool, k.Day);
            k.Plugin.Write(w);
            k.Env.Write(w);
            v.Outcomes.Write(w);
            w.Write(v.FirstAt);
        }, ct);
        await CopyAsync(conn, "rollup_plugin_months", RollupSql.PluginMonthsColumns, _pluginMonths, static (w, k, days) =>
        {
            StartMonthRow(w, 13, k.Tool, k.Month, k.Installation);
            k.Plugin.Write(w);
            k.Env.Write(w);
            w.Write(days);
        }, ct);
        await CopyAsync(conn, "rollup_error_days", RollupSql.ErrorDaysColumns, _errorDays, WriteErrorDay, ct);
        await CopyAsync(conn, "rollup_error_months", RollupSql.ErrorMonthsColumns, _errorMonths, WriteErrorMonth, ct);
        await CopyAsync(conn, "rollup_plugin_error_days", RollupSql.PluginErrorDaysColumns, _pluginErrorDays, WriteErrorDay, ct);
        await CopyAsync(conn, "rollup_plugin_error_months", RollupSql.PluginErrorMonthsColumns, _pluginErrorMonths, WriteErrorMonth, ct);

        await CopyAsync(conn, "rollup_feature_days", RollupSql.FeatureDaysColumns, _featureDays, static (w, k, v) =>
        {
            StartDayRow(w, 14, k.Tool, k.Day);
            w.Write(k.Key);
            w.Write(k.Value);
            k.Env.Write(w);
            v.Write(w);
        }, ct);
        await CopyAsync(conn, "rollup_feature_months", RollupSql.FeatureMonthsColumns, _featureMonths, static (w, k, days) =>
        {
            StartMonthRow(w, 13, k.Tool, k.Month, k.Installation);
            w.Write(k.Key);
            w.Write(k.Value);
            w.Write(k.Project);
            k.Env.Write(w);
            w.Write(days);
        }, ct);
        await using var versions = new Npgsql.NpgsqlCommand(string.Concat(RollupSql.Tables.Select(RollupSql.ResetVersions)), conn) { CommandTimeout = 0 };
        await versions.ExecuteNonQueryAsync(ct);
    }

    /// <summary>A day table's row: its field count, then tool and day, which every day table starts with.</summary>
    private static void StartDayRow(BinaryCopyWriter w, short fields, string tool, DateOnly day)
    {
        w.StartRow(fields);
        w.Write(tool);
        w.Write(day);
    }

    /// <summary>A month table's row: its field count, then tool, month and installation key, which every month table starts with.</summary>
    private static void StartMonthRow(BinaryCopyWriter w, short fields, string tool, DateOnly month, int installation)
    {
        StartDayRow(w, fields, tool, month);
        w.Write(installation);
    }

    private static void StartCommandDay(BinaryCopyWriter w, short fields, CommandDayKey k)
    {
        StartDayRow(w, fields, k.Tool, k.Day);
        w.Write(k.Command);
        k.Env.Write(w);
    }

    /// <summary>An error-day row: the command (or, for plugin errors, the plugin name) in <see cref="ErrorDayKey.Subject"/>.</summary>
    private static void WriteErrorDay(BinaryCopyWriter w, ErrorDayKey k, (int Runs, DateTime LastAt) v)
    {
        StartDayRow(w, 12, k.Tool, k.Day);
        w.Write(k.Subject);
        w.Write(k.ErrorType);
        k.Env.Write(w);
        w.Write(v.Runs);
        w.Write(v.LastAt);
    }

    private static void WriteErrorMonth(BinaryCopyWriter w, ErrorMonthKey k, int days)
    {
        StartMonthRow(w, 12, k.Tool, k.Month, k.Installation);
        w.Write(k.Subject);
        w.Write(k.ErrorType);
        k.Env.Write(w);
        w.Write(days);
    }

    private static async Task CopyAsync<TKey, TValue>(Npgsql.NpgsqlConnection conn, string table, string columns, Dictionary<TKey, TValue> rows,
        Action<BinaryCopyWriter, TKey, TValue> write, CancellationToken ct) where TKey : notnull
    {
        await using var w = await BinaryCopyWriter.BeginAsync(conn, $"{table} ({columns})", ct);
        foreach (var (key, value) in rows)
        {
            write(w, key, value);
            await w.EndRowAsync(ct);
        }
        await w.CompleteAsync(ct);
    }

    private static void Count<TKey>(Dictionary<TKey, Outcomes> table, TKey key, string status) where TKey : notnull =>
        table[key] = table.GetValueOrDefault(key).Add(status);

    /// <summary>count(*) and max(occurred_at) of an error-day row.</summary>
    private static void CountLatest(Dictionary<ErrorDayKey, (int Runs, DateTime LastAt)> table, ErrorDayKey key, DateTime at)
    {
        var seen = table.GetValueOrDefault(key);
        table[key] = (seen.Runs + 1, seen.Runs == 0 || at > seen.LastAt ? at : seen.LastAt);
    }

    private static void SetBit<TKey>(Dictionary<TKey, int> table, TKey key, int bit) where TKey : notnull =>
        table[key] = table.GetValueOrDefault(key) | bit;

    /// <summary>runs, succeeded, failed, aborted: <c>RollupSql</c>'s outcome counts.</summary>
    private readonly record struct Outcomes(int Runs, int Succeeded, int Failed, int Aborted)
    {
        public Outcomes Add(string status) => new(Runs + 1,
            Succeeded + (status == RunStatus.Succeeded ? 1 : 0),
            Failed + (status == RunStatus.Failed ? 1 : 0),
            Aborted + (status == RunStatus.Aborted ? 1 : 0));

        public void Write(BinaryCopyWriter w)
        {
            w.Write(Runs);
            w.Write(Succeeded);
            w.Write(Failed);
            w.Write(Aborted);
        }
    }

    /// <summary>The columns the run-day and installation-month rollups group by besides time and installation.</summary>
    private readonly record struct Platform(
        bool IsCi, string? OsName, string? OsVersion, string? RuntimeName, string? RuntimeVersion, string? ToolVersion, string? Environment)
    {
        public void Write(BinaryCopyWriter w)
        {
            w.Write(IsCi);
            w.Write(OsName);
            w.Write(OsVersion);
            w.Write(RuntimeName);
            w.Write(RuntimeVersion);
            w.Write(ToolVersion);
            w.Write(Environment);
        }
    }

    private readonly record struct RunDayKey(string Tool, DateOnly Day, Platform Platform);

    private readonly record struct InstallationMonthKey(string Tool, DateOnly Month, int Installation, Platform Platform);

    /// <summary>
    /// The environment columns most rollups group by: is_ci, os_name, tool_version, then runtime_name, runtime_version
    /// and the tool's build environment.
    /// </summary>
    private readonly record struct Env(bool IsCi, string? OsName, string? ToolVersion, string? RuntimeName, string? RuntimeVersion, string? Environment)
    {
        public void Write(BinaryCopyWriter w)
        {
            w.Write(IsCi);
            w.Write(OsName);
            w.Write(ToolVersion);
            w.Write(RuntimeName);
            w.Write(RuntimeVersion);
            w.Write(Environment);
        }
    }

    /// <summary>A plugin as run_plugins stores it: name, type ('' for none), version ('' for none).</summary>
    private readonly record struct Plugin(string Name, string Type, string Version)
    {
        public void Write(BinaryCopyWriter w)
        {
            w.Write(Name);
            w.Write(Type);
            w.Write(Version);
        }
    }

    private readonly record struct CommandDayKey(string Tool, DateOnly Day, string Command, Env Env);

    private readonly record struct CommandMonthKey(string Tool, DateOnly Month, int Installation, string Command, Env Env);

    private readonly record struct PluginDayKey(string Tool, DateOnly Day, Plugin Plugin, Env Env);

    private readonly record struct PluginMonthKey(string Tool, DateOnly Month, int Installation, Plugin Plugin, Env Env);

    /// <summary>An error-day row's key; <see cref="Subject"/> is the command (run errors) or the plugin name (plugin errors).</summary>
    private readonly record struct ErrorDayKey(string Tool, DateOnly Day, string Subject, string ErrorType, Env Env);

    private readonly record struct FeatureDayKey(string Tool, DateOnly Day, string Key, string Value, Env Env);

    private readonly record struct FeatureMonthKey(string Tool, DateOnly Month, int Installation, string Key, string Value, string? Project, Env Env);

    private readonly record struct ErrorMonthKey(string Tool, DateOnly Month, int Installation, string Subject, string ErrorType, Env Env);
}
