using System.Collections.Concurrent;
using System.Data;
using Microsoft.Extensions.Options;
using Npgsql;
using UsageDashboard.Hosting;
using UsageDashboard.Insights;

namespace UsageDashboard.Rollups;

/// <summary>What every in-memory month row has: the installation (<c>installations.id</c>) and its active days of the month.</summary>
public interface IMonthRow
{
    int Key { get; }
    int Days { get; }
    bool IsCi { get; }
    int OsName { get; }
    int ToolVersion { get; }
    int RuntimeName { get; }
    int RuntimeVersion { get; }
    /// <summary>The tool's own build environment (Jetty's <c>prod</c>/<c>dev</c>/<c>test</c>).</summary>
    int Environment { get; }
}

/// <summary>One installation-month rollup row in memory; text columns are <see cref="StringCodes"/> codes (0 = NULL).</summary>
public readonly record struct InstallationMonthRow(
    int Key, bool IsCi, int OsName, int OsVersion, int RuntimeName, int RuntimeVersion, int ToolVersion, int Days, int OkDays, int Environment = 0) : IMonthRow;

/// <summary>One command-month rollup row in memory.</summary>
public readonly record struct CommandMonthRow(int Key, int Command, bool IsCi, int OsName, int ToolVersion, int Days, int RuntimeName = 0, int RuntimeVersion = 0, int Environment = 0) : IMonthRow;

/// <summary>One plugin-month rollup row in memory.</summary>
public readonly record struct PluginMonthRow(int Key, int Name, int Type, int Version, bool IsCi, int OsName, int ToolVersion, int Days, int RuntimeName = 0, int RuntimeVersion = 0, int Environment = 0) : IMonthRow;

/// <summary>One run-day rollup row in memory; <see cref="Day"/> is the day of the month, 0-based.</summary>
public readonly record struct RunDayRow(
    int Day, bool IsCi, int OsName, int OsVersion, int RuntimeName, int RuntimeVersion, int ToolVersion, int Runs, int Succeeded, int Failed, int Aborted,
    int Environment = 0);

/// <summary>One command-day rollup row in memory.</summary>
public readonly record struct CommandDayRow(int Day, int Command, bool IsCi, int OsName, int ToolVersion, int Runs, int Succeeded, int Failed, int Aborted, int RuntimeName = 0, int RuntimeVersion = 0, int Environment = 0);

/// <summary>One plugin-day rollup row in memory.</summary>
public readonly record struct PluginDayRow(
    int Day, int Name, int Type, int Version, bool IsCi, int OsName, int ToolVersion, int Runs, int Succeeded, int Failed, int Aborted, int RuntimeName = 0, int RuntimeVersion = 0, int Environment = 0,
    DateTime FirstAt = default);

/// <summary>
/// One error-day rollup row in memory: failed and aborted runs of one subject (a command, or a plugin name for the
/// plugin error table) with one error type, and the latest of them.
/// </summary>
public readonly record struct ErrorDayRow(int Day, int Subject, int ErrorType, bool IsCi, int OsName, int ToolVersion, int Runs, DateTime LastAt, int RuntimeName = 0, int RuntimeVersion = 0, int Environment = 0);

/// <summary>One error-month rollup row in memory: the days an installation hit the error type with the subject.</summary>
public readonly record struct ErrorMonthRow(int Key, int Subject, int ErrorType, bool IsCi, int OsName, int ToolVersion, int Days, int RuntimeName = 0, int RuntimeVersion = 0, int Environment = 0) : IMonthRow;

/// <summary>One duration-histogram rollup row in memory (bucket numbers as <see cref="DurationHistogram"/> reads them).</summary>
public readonly record struct CommandDurationRow(int Day, int Command, bool IsCi, int OsName, int ToolVersion, short[] Buckets, int[] Counts, int RuntimeName = 0, int RuntimeVersion = 0, int Environment = 0);

/// <summary>
/// An installation's first and last UTC day (<see cref="DateOnly.DayNumber"/>; both 0 for an id with no row), and
/// whether every run it ever sent ran in CI (<paramref name="CiOnly"/>: no installation-month row outside CI, on any
/// OS, version or day). Both are facts about the installation's whole history, as Meltano's own "only ever ran in
/// CI" flag is, so neither depends on the range a page shows. <paramref name="Tool"/>: the tool's <see cref="StringCodes"/> code.
/// </summary>
public readonly record struct InstallationDays(int First, int Last, bool CiOnly = false, int Tool = 0)
{
    public bool Known => First != 0;
}

/// <summary>The rows of one rollup table for one tool and month (bit 0 of a mask = the month's 1st; day 0 = the 1st).</summary>
public sealed record MonthSegment<T>(string Tool, DateOnly Month, T[] Rows) where T : struct;

/// <summary>
/// Interned text for the in-memory rollup rows: a dimension value is stored once and rows carry an int.
/// Codes are never reused or dropped (the set of values is that of the rollups: commands, versions,
/// OS and plugin names, which grows slowly), so a code read by one request stays valid for all.
/// </summary>
public sealed class StringCodes
{
    private readonly ConcurrentDictionary<string, int> _codes = new(StringComparer.Ordinal);
    private readonly Lock _gate = new();
    private string?[] _texts = new string?[256];
    private int _count = 1;

    /// <summary>The code of <paramref name="text"/>, adding it if new; NULL is 0.</summary>
    public int Code(string? text)
    {
        if (text is null)
        {
            return 0;
        }
        if (_codes.TryGetValue(text, out var code))
        {
            return code;
        }
        lock (_gate)
        {
            if (_codes.TryGetValue(text, out code))
            {
                return code;
            }
            code = _count++;
            var texts = _texts;
            if (code == texts.Length)
            {
                Array.Resize(ref texts, texts.Length * 2);
            }
            texts[code] = text;
            // The text is in place before the code can be found: a reader holding a code can always read it.
            Volatile.Write(ref _texts, texts);
            _codes[text] = code;
            return code;
        }
    }

    /// <summary>The code of <paramref name="text"/> without adding it: -1 when no row has that value (NULL is 0).</summary>
    public int Find(string? text) => text is null ? 0 : _codes.TryGetValue(text, out var code) ? code : -1;

    public string? Text(int code) => Volatile.Read(ref _texts)[code];
}

/// <summary>
/// The rollups held in memory, one segment per table, month and tool. Distinct installation counts must
/// look at one row per installation, month and dimension values; hashing them in PostgreSQL on every
/// request cost ~0.8 µs a row (0.5–1.1 s a page on the 10M store), and even the day tables' sums took
/// 40–90 ms a statement there; over these arrays the same pages take 0.04–0.7 s (docs/benchmarks.md). A segment is reloaded
/// when its version in <c>rollup_month_versions</c> moves: the refresher bumps it in the same
/// transaction that changes the rows, and every read checks the versions first (one small indexed
/// query), so a page never shows other numbers than the rollup tables hold, or, with
/// <paramref name="maxStaleness"/>, numbers at most that much older: under continuous ingest the current
/// month changes at every refresh, and reloading it at most that often bounds the CPU the cache takes.
/// With rollups off, the same rows are computed from runs for each request (the raw baseline).
/// </summary>
public sealed partial class RollupCache(NpgsqlDataSource dataSource, RollupSource rollups, TimeSpan maxStaleness = default, TimeProvider? time = null)
{
    private readonly TimeProvider _time = time ?? TimeProvider.System;

    public const string InstallationTable = "rollup_installation_months";
    public const string CommandTable = "rollup_command_months";
    public const string PluginTable = "rollup_plugin_months";
    public const string RunDayTable = "rollup_run_days";
    public const string CommandDayTable = "rollup_command_days";
    public const string PluginDayTable = "rollup_plugin_days";
    public const string DurationTable = "rollup_command_durations";
    public const string ErrorDayTable = "rollup_error_days";
    public const string ErrorMonthTable = "rollup_error_months";
    public const string PluginErrorDayTable = "rollup_plugin_error_days";
    public const string PluginErrorMonthTable = "rollup_plugin_error_months";

    private readonly ConcurrentDictionary<(string Table, DateOnly Month, string Tool), Loaded> _segments = new();
    private readonly ConcurrentDictionary<(string Table, DateOnly Month, string Tool), SemaphoreSlim> _gates = new();
    private readonly SemaphoreSlim _installationDaysGate = new(1, 1);
    private volatile LoadedDays? _installationDays;
    private long _indexBuilds;
    private long _indexBuildTicks;
    private readonly ConcurrentDictionary<(string Name, string Tool, DateOnly From), IndexEntry> _indexes = new();
    private readonly ConcurrentDictionary<(string Name, string Tool, DateOnly From), Lock> _indexGates = new();

    public StringCodes Codes { get; } = new();


    /// <summary>Reach indexes built since start, and the time spent building them (for logs and the benchmark).</summary>
    public (long Builds, TimeSpan Time, long Entries) IndexStats =>
        (Interlocked.Read(ref _indexBuilds), TimeSpan.FromTicks(Interlocked.Read(ref _indexBuildTicks)), _indexes.Values.Sum(e => e.Index.Entries));

    /// <summary>Rows held in memory across all segments (for logs and the benchmark).</summary>
    public long RowCount => _segments.Values.Sum(s => (long)s.Count);

    public Task<IReadOnlyList<MonthSegment<InstallationMonthRow>>> InstallationMonthsAsync(string? tool, DateOnly from, DateOnly to, CancellationToken ct) =>
        GetAsync(InstallationTable, false, "installation_key, is_ci, os_name, os_version, runtime_name, runtime_version, tool_version, days, ok_days, environment",
            (r, c) => new InstallationMonthRow(r.GetInt32(2), r.GetBoolean(3), c.Code(Text(r, 4)), c.Code(Text(r, 5)), c.Code(Text(r, 6)),
                c.Code(Text(r, 7)), c.Code(Text(r, 8)), r.GetInt32(9), r.GetInt32(10), c.Code(Text(r, 11))),
            (cmd, f, t) => rollups.InstallationMonths(cmd, f, t), tool, from, to, ct, static r => r.Key);

    public Task<IReadOnlyList<MonthSegment<CommandMonthRow>>> CommandMonthsAsync(string? tool, DateOnly from, DateOnly to, CancellationToken ct) =>
        GetAsync(CommandTable, false, "installation_key, command, is_ci, os_name, tool_version, days" + PlatformColumns,
            (r, c) => new CommandMonthRow(r.GetInt32(2), c.Code(r.GetString(3)), r.GetBoolean(4), c.Code(Text(r, 5)), c.Code(Text(r, 6)), r.GetInt32(7),
                c.Code(Text(r, 8)), c.Code(Text(r, 9)), c.Code(Text(r, 10))),
            (cmd, f, t) => rollups.CommandMonths(cmd, f, t), tool, from, to, ct, static r => r.Key);

    public Task<IReadOnlyList<MonthSegment<PluginMonthRow>>> PluginMonthsAsync(string? tool, DateOnly from, DateOnly to, CancellationToken ct) =>
        GetAsync(PluginTable, false, "installation_key, name, type, version, is_ci, os_name, tool_version, days" + PlatformColumns,
            (r, c) => new PluginMonthRow(r.GetInt32(2), c.Code(r.GetString(3)), c.Code(Text(r, 4)), c.Code(Text(r, 5)), r.GetBoolean(6),
                c.Code(Text(r, 7)), c.Code(Text(r, 8)), r.GetInt32(9), c.Code(Text(r, 10)), c.Code(Text(r, 11)), c.Code(Text(r, 12))),
            (cmd, f, t) => rollups.PluginMonths(cmd, f, t), tool, from, to, ct, static r => r.Key);

    /// <summary>
    /// First and last UTC day (day numbers) of every installation, indexed by <c>installations.id</c>
    /// (default where there is no such id). Read whole and kept while the installation-month versions
    /// stand still: every change to <c>installations</c> comes with runs, whose refresh bumps those
    /// versions, so the days are never older than the month rows they are read with. Reading the
    /// ~100k rows of the 10M store took ~190 ms a request, more than counting the page itself.
    /// </summary>
    public async Task<InstallationDays[]> InstallationDaysAsync(CancellationToken ct)
    {
        if (!rollups.Enabled)
        {
            await using var conn = await dataSource.OpenConnectionAsync(ct);
            return await ReadInstallationDaysAsync(conn, null, fromRollups: false, ct);
        }
        var stamp = await InstallationStampAsync(null, ct);
        var loaded = _installationDays;
        if (loaded is not null && (loaded.Stamp == stamp || _time.GetElapsedTime(loaded.LoadedAt) < maxStaleness))
        {
            return loaded.Days;
        }
        await _installationDaysGate.WaitAsync(ct);
        try
        {
            loaded = _installationDays;
            if (loaded is not null && loaded.Stamp == stamp)
            {
                return loaded.Days;
            }
            await using var conn = await dataSource.OpenConnectionAsync(ct);
            await using var tx = await conn.BeginTransactionAsync(IsolationLevel.RepeatableRead, ct);
            // Stamp and rows from one snapshot, as for the segments.
            stamp = await InstallationStampAsync(conn, ct);
            var days = await ReadInstallationDaysAsync(conn, tx, fromRollups: true, ct);
            await tx.CommitAsync(ct);
            _installationDays = new LoadedDays(days, stamp, _time.GetTimestamp());
            return days;
        }
        finally
        {
            _installationDaysGate.Release();
        }
    }

    private async Task<(long Max, long Count)> InstallationStampAsync(NpgsqlConnection? conn, CancellationToken ct)
    {
        const string sql = "SELECT coalesce(max(version), 0), count(*) FROM rollup_month_versions WHERE table_name = @table";
        await using var cmd = conn is null ? dataSource.CreateCommand(sql) : new NpgsqlCommand(sql, conn);
        cmd.Parameters.AddWithValue("table", InstallationTable);
        await using var reader = await cmd.ExecuteReaderAsync(ct);
        await reader.ReadAsync(ct);
        return (reader.GetInt64(0), reader.GetInt64(1));
    }

    private async Task<InstallationDays[]> ReadInstallationDaysAsync(NpgsqlConnection conn, NpgsqlTransaction? tx, bool fromRollups, CancellationToken ct)
    {
        // Timestamps, not dates: converting in SQL (AT TIME ZONE per row) cost more than sending them. The
        // installations that ran outside CI come from the month rows the pages count (with rollups off, from
        // the runs they are derived from), in the same snapshot, so the flag never disagrees with the rows. On the
        // 10M bench store (216k month rows, 59k installations) this adds 40-50 ms of server time to a reload.
        var outsideCi = fromRollups
            ? $"SELECT DISTINCT installation_key AS id FROM {InstallationTable} WHERE NOT is_ci"
            : "SELECT DISTINCT i.id FROM runs r JOIN installations i ON i.tool = r.tool AND i.installation_id = r.installation_id WHERE NOT r.is_ci";
        await using var cmd = new NpgsqlCommand($"""
            SELECT i.id, i.first_seen, i.last_seen, o.id IS NULL AS ci_only, i.tool
            FROM installations i LEFT JOIN ({outsideCi}) o ON o.id = i.id
            ORDER BY i.id DESC
            """, conn, tx);
        await using var reader = await cmd.ExecuteReaderAsync(ct);
        InstallationDays[] days = [];
        var (tool, toolCode) = ("", 0);
        while (await reader.ReadAsync(ct))
        {
            var id = reader.GetInt32(0);
            if (days.Length == 0)
            {
                days = new InstallationDays[id + 1];
            }
            var text = reader.GetString(4);
            if (text != tool)
            {
                (tool, toolCode) = (text, Codes.Code(text));
            }
            days[id] = new InstallationDays(
                DateOnly.FromDateTime(reader.GetFieldValue<DateTime>(1)).DayNumber, DateOnly.FromDateTime(reader.GetFieldValue<DateTime>(2)).DayNumber,
                reader.GetBoolean(3), toolCode);
        }
        return days;
    }

    public Task<IReadOnlyList<MonthSegment<RunDayRow>>> RunDaysAsync(string? tool, DateOnly from, DateOnly to, CancellationToken ct) =>
        GetAsync(RunDayTable, true, "day, is_ci, os_name, os_version, runtime_name, runtime_version, tool_version, runs, succeeded, failed, aborted, environment",
            (r, c) => new RunDayRow(r.GetFieldValue<DateOnly>(2).Day - 1, r.GetBoolean(3), c.Code(Text(r, 4)), c.Code(Text(r, 5)), c.Code(Text(r, 6)),
                c.Code(Text(r, 7)), c.Code(Text(r, 8)), r.GetInt32(9), r.GetInt32(10), r.GetInt32(11), r.GetInt32(12), c.Code(Text(r, 13))),
            (cmd, f, t) => rollups.RunDays(cmd, f, t), tool, from, to, ct);

    public Task<IReadOnlyList<MonthSegment<CommandDayRow>>> CommandDaysAsync(string? tool, DateOnly from, DateOnly to, CancellationToken ct) =>
        GetAsync(CommandDayTable, true, "day, command, is_ci, os_name, tool_version, runs, succeeded, failed, aborted" + PlatformColumns,
            (r, c) => new CommandDayRow(r.GetFieldValue<DateOnly>(2).Day - 1, c.Code(r.GetString(3)), r.GetBoolean(4), c.Code(Text(r, 5)),
                c.Code(Text(r, 6)), r.GetInt32(7), r.GetInt32(8), r.GetInt32(9), r.GetInt32(10), c.Code(Text(r, 11)), c.Code(Text(r, 12)), c.Code(Text(r, 13))),
            (cmd, f, t) => rollups.CommandDays(cmd, f, t), tool, from, to, ct);

    public Task<IReadOnlyList<MonthSegment<PluginDayRow>>> PluginDaysAsync(string? tool, DateOnly from, DateOnly to, CancellationToken ct) =>
        GetAsync(PluginDayTable, true, "day, name, type, version, is_ci, os_name, tool_version, runs, succeeded, failed, aborted" + PlatformColumns + ", first_at",
            (r, c) => new PluginDayRow(r.GetFieldValue<DateOnly>(2).Day - 1, c.Code(r.GetString(3)), c.Code(Text(r, 4)), c.Code(Text(r, 5)),
                r.GetBoolean(6), c.Code(Text(r, 7)), c.Code(Text(r, 8)), r.GetInt32(9), r.GetInt32(10), r.GetInt32(11), r.GetInt32(12),
                c.Code(Text(r, 13)), c.Code(Text(r, 14)), c.Code(Text(r, 15)), r.GetFieldValue<DateTime>(16)),
            (cmd, f, t) => rollups.PluginDays(cmd, f, t), tool, from, to, ct);

    public Task<IReadOnlyList<MonthSegment<CommandDurationRow>>> CommandDurationsAsync(string? tool, DateOnly from, DateOnly to, CancellationToken ct) =>
        GetAsync(DurationTable, true, "day, command, is_ci, os_name, tool_version, buckets, counts" + PlatformColumns,
            (r, c) => new CommandDurationRow(r.GetFieldValue<DateOnly>(2).Day - 1, c.Code(r.GetString(3)), r.GetBoolean(4), c.Code(Text(r, 5)),
                c.Code(Text(r, 6)), r.GetFieldValue<short[]>(7), r.GetFieldValue<int[]>(8), c.Code(Text(r, 9)), c.Code(Text(r, 10)), c.Code(Text(r, 11))),
            (cmd, f, t) => rollups.CommandDurations(cmd, f, t), tool, from, to, ct);

    /// <summary>A command's failed and aborted runs per error type and day (<c>rollup_error_days</c>).</summary>
    public Task<IReadOnlyList<MonthSegment<ErrorDayRow>>> ErrorDaysAsync(string? tool, DateOnly from, DateOnly to, CancellationToken ct) =>
        ErrorDaysAsync(ErrorDayTable, "command", rollups.ErrorDays, tool, from, to, ct);

    /// <summary>Which installations hit a command's error types, on which days (<c>rollup_error_months</c>).</summary>
    public Task<IReadOnlyList<MonthSegment<ErrorMonthRow>>> ErrorMonthsAsync(string? tool, DateOnly from, DateOnly to, CancellationToken ct) =>
        ErrorMonthsAsync(ErrorMonthTable, "command", rollups.ErrorMonths, tool, from, to, ct);

    /// <summary><see cref="ErrorDaysAsync(string?, DateOnly, DateOnly, CancellationToken)"/> for plugins: the subject is the plugin name (<c>rollup_plugin_error_days</c>).</summary>
    public Task<IReadOnlyList<MonthSegment<ErrorDayRow>>> PluginErrorDaysAsync(string? tool, DateOnly from, DateOnly to, CancellationToken ct) =>
        ErrorDaysAsync(PluginErrorDayTable, "name", rollups.PluginErrorDays, tool, from, to, ct);

    /// <summary><see cref="ErrorMonthsAsync(string?, DateOnly, DateOnly, CancellationToken)"/> for plugins (<c>rollup_plugin_error_months</c>).</summary>
    public Task<IReadOnlyList<MonthSegment<ErrorMonthRow>>> PluginErrorMonthsAsync(string? tool, DateOnly from, DateOnly to, CancellationToken ct) =>
        ErrorMonthsAsync(PluginErrorMonthTable, "name", rollups.PluginErrorMonths, tool, from, to, ct);

    // The command and plugin error tables differ only in their subject column.
    private Task<IReadOnlyList<MonthSegment<ErrorDayRow>>> ErrorDaysAsync(string table, string subject,
        Func<NpgsqlCommand, DateOnly, DateOnly, string> relation, string? tool, DateOnly from, DateOnly to, CancellationToken ct) =>
        GetAsync(table, true, $"day, {subject}, error_type, is_ci, os_name, tool_version, runs, last_at{PlatformColumns}", ReadErrorDay, relation, tool, from, to, ct);

    private Task<IReadOnlyList<MonthSegment<ErrorMonthRow>>> ErrorMonthsAsync(string table, string subject,
        Func<NpgsqlCommand, DateOnly, DateOnly, string> relation, string? tool, DateOnly from, DateOnly to, CancellationToken ct) =>
        GetAsync(table, false, $"installation_key, {subject}, error_type, is_ci, os_name, tool_version, days{PlatformColumns}", ReadErrorMonth, relation, tool, from, to, ct,
            static r => r.Key);

    private static ErrorDayRow ReadErrorDay(NpgsqlDataReader r, StringCodes c) =>
        new(r.GetFieldValue<DateOnly>(2).Day - 1, c.Code(r.GetString(3)), c.Code(r.GetString(4)), r.GetBoolean(5), c.Code(Text(r, 6)),
            c.Code(Text(r, 7)), r.GetInt32(8), r.GetDateTime(9), c.Code(Text(r, 10)), c.Code(Text(r, 11)), c.Code(Text(r, 12)));

    private static ErrorMonthRow ReadErrorMonth(NpgsqlDataReader r, StringCodes c) =>
        new(r.GetInt32(2), c.Code(r.GetString(3)), c.Code(r.GetString(4)), r.GetBoolean(5), c.Code(Text(r, 6)), c.Code(Text(r, 7)), r.GetInt32(8),
            c.Code(Text(r, 9)), c.Code(Text(r, 10)), c.Code(Text(r, 11)));

    /// <summary>
    /// Brings every segment of the last <paramref name="months"/> months up to date (at start-up and then
    /// periodically, so requests rarely pay for a reload) and forgets segments whose rows are gone.
    /// </summary>
    public async Task<int> SyncAsync(int months, DateOnly today, CancellationToken ct)
    {
        if (!rollups.Enabled)
        {
            return 0;
        }
        var from = new DateOnly(today.Year, today.Month, 1).AddMonths(-(months - 1));
        var reloaded = 0;
        reloaded += await SyncTableAsync(InstallationTable, () => InstallationMonthsAsync(null, from, today, ct), ct);
        reloaded += await SyncTableAsync(CommandTable, () => CommandMonthsAsync(null, from, today, ct), ct);
        reloaded += await SyncTableAsync(PluginTable, () => PluginMonthsAsync(null, from, today, ct), ct);
        reloaded += await SyncTableAsync(RunDayTable, () => RunDaysAsync(null, from, today, ct), ct);
        reloaded += await SyncTableAsync(CommandDayTable, () => CommandDaysAsync(null, from, today, ct), ct);
        reloaded += await SyncTableAsync(PluginDayTable, () => PluginDaysAsync(null, from, today, ct), ct);
        reloaded += await SyncTableAsync(DurationTable, () => CommandDurationsAsync(null, from, today, ct), ct);
        reloaded += await SyncTableAsync(ErrorDayTable, () => ErrorDaysAsync(null, from, today, ct), ct);
        reloaded += await SyncTableAsync(ErrorMonthTable, () => ErrorMonthsAsync(null, from, today, ct), ct);
        reloaded += await SyncTableAsync(PluginErrorDayTable, () => PluginErrorDaysAsync(null, from, today, ct), ct);
        reloaded += await SyncTableAsync(PluginErrorMonthTable, () => PluginErrorMonthsAsync(null, from, today, ct), ct);
        await InstallationDaysAsync(ct);
        return reloaded;
    }

    private async Task<int> SyncTableAsync<T>(string table, Func<Task<IReadOnlyList<MonthSegment<T>>>> load, CancellationToken ct) where T : struct
    {
        var before = _segments.Where(s => s.Key.Table == table).ToDictionary(s => s.Key, s => s.Value.Version);
        await load();
        var versions = await VersionsAsync(table, null, DateOnly.MinValue, DateOnly.MaxValue, ct);
        foreach (var key in _segments.Keys.Where(k => k.Table == table && !versions.ContainsKey((k.Month, k.Tool))))
        {
            _segments.TryRemove(key, out _);
        }
        return _segments.Count(s => s.Key.Table == table && (!before.TryGetValue(s.Key, out var v) || v != s.Value.Version));
    }

    private static string MonthOf(bool dayTable) => dayTable ? "date_trunc('month', day::timestamp)::date AS month" : "month";

    /// <summary>The platform columns every rollup but the run-day and installation-month tables reads last.</summary>
    private const string PlatformColumns = ", runtime_name, runtime_version, environment";

    private static string? Text(NpgsqlDataReader reader, int ordinal) => reader.IsDBNull(ordinal) ? null : reader.GetString(ordinal);

    private async Task<IReadOnlyList<MonthSegment<T>>> GetAsync<T>(
        string table, bool dayTable, string columns, Func<NpgsqlDataReader, StringCodes, T> read, Func<NpgsqlCommand, DateOnly, DateOnly, string> relation,
        string? tool, DateOnly from, DateOnly to, CancellationToken ct, Func<T, int>? sortKey = null) where T : struct
    {
        if (!rollups.Enabled)
        {
            return await ReadRawAsync(dayTable, columns, read, relation, tool, from, to, sortKey, ct);
        }
        var versions = await VersionsAsync(table, tool, from, to, ct);
        var result = new List<MonthSegment<T>>(versions.Count);
        foreach (var ((month, segmentTool), version) in versions.OrderBy(v => v.Key.Month).ThenBy(v => v.Key.Tool, StringComparer.Ordinal))
        {
            var key = (table, month, segmentTool);
            if (!_segments.TryGetValue(key, out var loaded)
                || (loaded.Version < version && _time.GetElapsedTime(loaded.LoadedAt) >= maxStaleness))
            {
                loaded = await ReloadAsync(key, dayTable, version, columns, read, sortKey, ct);
            }
            result.Add((MonthSegment<T>)loaded.Segment);
        }
        return result;
    }

    private async Task<Dictionary<(DateOnly Month, string Tool), long>> VersionsAsync(string table, string? tool, DateOnly from, DateOnly to, CancellationToken ct)
    {
        await using var cmd = dataSource.CreateCommand($"""
            SELECT month, tool, version FROM rollup_month_versions
            WHERE table_name = @table AND month >= @from_month AND month <= @to{(tool is null ? "" : " AND tool = @tool")}
            """);
        cmd.Parameters.AddWithValue("table", table);
        cmd.Parameters.AddWithValue("from_month", from == DateOnly.MinValue ? from : new DateOnly(from.Year, from.Month, 1));
        cmd.Parameters.AddWithValue("to", to);
        if (tool is not null)
        {
            cmd.Parameters.AddWithValue("tool", tool);
        }
        var versions = new Dictionary<(DateOnly, string), long>();
        await using var reader = await cmd.ExecuteReaderAsync(ct);
        while (await reader.ReadAsync(ct))
        {
            versions[(reader.GetFieldValue<DateOnly>(0), reader.GetString(1))] = reader.GetInt64(2);
        }
        return versions;
    }

    /// <summary>
    /// Loads one segment, once even when several requests find it stale together. The rows and their
    /// version are read in one snapshot, so the version stored is exactly that of the rows.
    /// </summary>
    private async Task<Loaded> ReloadAsync<T>((string Table, DateOnly Month, string Tool) key, bool dayTable, long seen, string columns,
        Func<NpgsqlDataReader, StringCodes, T> read, Func<T, int>? sortKey, CancellationToken ct) where T : struct
    {
        var gate = _gates.GetOrAdd(key, _ => new SemaphoreSlim(1, 1));
        await gate.WaitAsync(ct);
        try
        {
            if (_segments.TryGetValue(key, out var current) && current.Version >= seen)
            {
                return current;
            }
            await using var conn = await dataSource.OpenConnectionAsync(ct);
            await using var tx = await conn.BeginTransactionAsync(IsolationLevel.RepeatableRead, ct);
            long version;
            await using (var cmd = new NpgsqlCommand(
                "SELECT coalesce(max(version), 0) FROM rollup_month_versions WHERE table_name = @table AND month = @month AND tool = @tool", conn, tx))
            {
                cmd.Parameters.AddWithValue("table", key.Table);
                cmd.Parameters.AddWithValue("month", key.Month);
                cmd.Parameters.AddWithValue("tool", key.Tool);
                version = (long)(await cmd.ExecuteScalarAsync(ct))!;
            }
            // Sized by the segment's last load, so a reload of the current month does not regrow the list
            // (each growth step copies it and leaves the old array to the GC).
            var rows = new List<T>(current is null ? 1024 : current.Count + (current.Count / 16) + 16);
            await using (var cmd = new NpgsqlCommand(SegmentLoad(key.Table, dayTable, columns), conn, tx))
            {
                cmd.Parameters.AddWithValue("month", key.Month);
                cmd.Parameters.AddWithValue("next_month", key.Month.AddMonths(1));
                cmd.Parameters.AddWithValue("tool", key.Tool);
                await using var reader = await cmd.ExecuteReaderAsync(ct);
                while (await reader.ReadAsync(ct))
                {
                    rows.Add(read(reader, Codes));
                }
            }
            await tx.CommitAsync(ct);
            var loaded = new Loaded(new MonthSegment<T>(key.Tool, key.Month, Sorted(rows, sortKey)), version, rows.Count, _time.GetTimestamp());
            _segments[key] = loaded;
            return loaded;
        }
        finally
        {
            gate.Release();
        }
    }

    /// <summary>
    /// One month of one tool from a rollup table (parameters <c>@month</c>, <c>@next_month</c>, <c>@tool</c>). Day
    /// tables are read by their (day, tool) index, month tables by their unique key's leading columns
    /// (tests/UsageDashboard.Tests/Rollups/PlanShapeTests.cs holds them to it).
    /// </summary>
    internal static string SegmentLoad(string table, bool dayTable, string columns) =>
        $"SELECT tool, {MonthOf(dayTable)}, {columns} FROM {table} WHERE {(dayTable ? "day >= @month AND day < @next_month" : "month = @month")} AND tool = @tool";

    /// <summary>Rollups off: the month rows computed from runs for just this request's days.</summary>
    private async Task<IReadOnlyList<MonthSegment<T>>> ReadRawAsync<T>(bool dayTable, string columns, Func<NpgsqlDataReader, StringCodes, T> read,
        Func<NpgsqlCommand, DateOnly, DateOnly, string> relation, string? tool, DateOnly from, DateOnly to, Func<T, int>? sortKey, CancellationToken ct)
        where T : struct
    {
        await using var conn = await dataSource.OpenConnectionAsync(ct);
        await using var cmd = conn.CreateCommand();
        var source = relation(cmd, from, to);
        cmd.CommandText = $"SELECT m.tool, {MonthOf(dayTable)}, {columns} FROM {source} m{(tool is null ? "" : " WHERE m.tool = @tool")} ORDER BY 2, 1";
        if (tool is not null)
        {
            cmd.Parameters.AddWithValue("tool", tool);
        }
        var result = new List<MonthSegment<T>>();
        var rows = new List<T>();
        (string Tool, DateOnly Month)? current = null;
        await using var reader = await cmd.ExecuteReaderAsync(ct);
        while (await reader.ReadAsync(ct))
        {
            var key = (reader.GetString(0), reader.GetFieldValue<DateOnly>(1));
            if (current != key)
            {
                Flush();
                current = key;
            }
            rows.Add(read(reader, Codes));
        }
        Flush();
        return result;

        void Flush()
        {
            if (current is { } c && rows.Count > 0)
            {
                result.Add(new MonthSegment<T>(c.Tool, c.Month, Sorted(rows, sortKey)));
                rows.Clear();
            }
        }
    }

    /// <summary>
    /// The rows as an array, month rows ordered by installation key: readers walk several months of one
    /// tool in key order (<c>Insights.KeyMerge</c>) and keep per-installation state in a few reused
    /// arrays, where hashing every (installation, value) pair was most of a page's time.
    /// </summary>
    private static T[] Sorted<T>(List<T> rows, Func<T, int>? sortKey)
    {
        var array = rows.ToArray();
        if (sortKey is not null)
        {
            var keys = new int[array.Length];
            for (var i = 0; i < array.Length; i++)
            {
                keys[i] = sortKey(array[i]);
            }
            Array.Sort(keys, array);
        }
        return array;
    }

    /// <summary>Whether rows are held in memory (rollups on): only then are reach indexes built and kept.</summary>
    public bool HoldsRows => rollups.Enabled;

    /// <summary>
    /// The <see cref="ReachIndex"/> over one tool's installation-month segments (one group per tool), with
    /// <paramref name="firstDays"/> (<see cref="InstallationDaysAsync"/>, read once per request), so it also counts
    /// new installations; null with rollups off or when it cannot be built.
    /// </summary>
    public ReachIndex? InstallationReach(IReadOnlyList<MonthSegment<InstallationMonthRow>> toolSegments, DateOnly from, InstallationDays[] firstDays,
        ReachFilter filter) =>
        Reach(InstallationTable, toolSegments, from, static _ => 0L, firstDays, InstallationFetch(toolSegments), filter);

    /// <summary>The <see cref="ReachIndex"/> over one tool's command-month segments, grouped by command code.</summary>
    public ReachIndex? CommandReach(IReadOnlyList<MonthSegment<CommandMonthRow>> toolSegments, DateOnly from, ReachFilter filter) =>
        Reach(CommandTable, toolSegments, from, static r => r.Command, null, CommandMonthsAsync, filter);

    /// <summary>
    /// Over one tool's command-month segments, grouped by (command, tool version or OS) as <see cref="PairGroup"/>
    /// of their codes, a NULL value under the code of "unknown" (the command page merges the two).
    /// </summary>
    public ReachIndex? CommandVersionReach(IReadOnlyList<MonthSegment<CommandMonthRow>> toolSegments, DateOnly from, ReachFilter filter)
    {
        var unknown = Codes.Code("unknown");
        return Reach("command versions", toolSegments, from, r => PairGroup(r.Command, r.ToolVersion == 0 ? unknown : r.ToolVersion), null,
            CommandMonthsAsync, filter);
    }

    /// <inheritdoc cref="CommandVersionReach"/>
    public ReachIndex? CommandOsReach(IReadOnlyList<MonthSegment<CommandMonthRow>> toolSegments, DateOnly from, ReachFilter filter)
    {
        var unknown = Codes.Code("unknown");
        return Reach("command systems", toolSegments, from, r => PairGroup(r.Command, r.OsName == 0 ? unknown : r.OsName), null, CommandMonthsAsync,
            filter);
    }

    /// <summary>Over one tool's plugin-month segments, grouped by plugin name.</summary>
    public ReachIndex? PluginNameReach(IReadOnlyList<MonthSegment<PluginMonthRow>> toolSegments, DateOnly from, ReachFilter filter) =>
        Reach("plugin names", toolSegments, from, static r => r.Name, null, PluginMonthsAsync, filter);

    /// <summary>
    /// Over one tool's plugin-month segments, grouped by (plugin name, version) as <see cref="PairGroup"/>, a
    /// missing or empty version under the code of "unknown" (the plugin page merges the three).
    /// </summary>
    public ReachIndex? PluginVersionReach(IReadOnlyList<MonthSegment<PluginMonthRow>> toolSegments, DateOnly from, ReachFilter filter)
    {
        var unknown = Codes.Code("unknown");
        var empty = Codes.Code("");
        return Reach("plugin versions", toolSegments, from, r => PairGroup(r.Name, r.Version == 0 || r.Version == empty ? unknown : r.Version), null,
            PluginMonthsAsync, filter);
    }

    /// <summary>
    /// Over one tool's installation-month segments, grouped by <paramref name="group"/>: <paramref name="name"/>
    /// names that grouping, and every caller that uses a name passes the same function.
    /// </summary>
    public ReachIndex? InstallationReach(string name, IReadOnlyList<MonthSegment<InstallationMonthRow>> toolSegments, DateOnly from,
        Func<InstallationMonthRow, long> group, ReachFilter filter) => Reach(name, toolSegments, from, group, null, InstallationFetch(toolSegments), filter);

    /// <summary>
    /// The indexes behind <c>/installations</c> over one tool's installation-month segments (see
    /// <see cref="InstallationIndexes"/>); null when any of them cannot be built.
    /// </summary>
    public InstallationIndexes? InstallationPageReach(IReadOnlyList<MonthSegment<InstallationMonthRow>> toolSegments, DateOnly from,
        InstallationDays[] firstDays, ReachFilter filter, bool successfulDays)
    {
        var rows = filter.IndexRows;
        var over = successfulDays ? " over successful days" : "";
        var span = Reach("installations by span" + rows, toolSegments, from, (s, f, days) => InstallationIndexes.BuildSpan(s, f, days!, filter), firstDays,
            InstallationFetch(toolSegments));
        var ok = Reach("installations by successful day" + rows, toolSegments, from, (s, f, days) => InstallationIndexes.BuildOk(s, f, days!, filter),
            firstDays, InstallationFetch(toolSegments));
        var cohorts = Reach("installations by cohort" + over + rows, toolSegments, from,
            (s, f, days) => InstallationIndexes.BuildCohorts(s, f, days!, filter, successfulDays), firstDays, InstallationFetch(toolSegments));
        var versions = Reach("installations by last version" + over + rows, toolSegments, from,
            (s, f, days) => InstallationIndexes.BuildVersions(s, f, days!, Codes, filter, successfulDays), firstDays, InstallationFetch(toolSegments));
        return span is null || ok is null || cohorts is null || versions is null ? null : new InstallationIndexes(span, ok, cohorts, versions, successfulDays);
    }

    /// <summary>Over one tool's command error-month segments (<see cref="ErrorMonthsAsync(string?, DateOnly, DateOnly, CancellationToken)"/>), grouped by (command, error type) as <see cref="PairGroup"/>.</summary>
    public ReachIndex? CommandErrorReach(IReadOnlyList<MonthSegment<ErrorMonthRow>> toolSegments, DateOnly from, ReachFilter filter) =>
        Reach(ErrorMonthTable, toolSegments, from, static r => PairGroup(r.Subject, r.ErrorType), null, ErrorMonthsAsync, filter);

    /// <summary>Over one tool's plugin error-month segments, grouped by (plugin name, error type) as <see cref="PairGroup"/>.</summary>
    public ReachIndex? PluginErrorReach(IReadOnlyList<MonthSegment<ErrorMonthRow>> toolSegments, DateOnly from, ReachFilter filter) =>
        Reach(PluginErrorMonthTable, toolSegments, from, static r => PairGroup(r.Subject, r.ErrorType), null, PluginErrorMonthsAsync, filter);

    /// <summary>Two codes as one group key (the first in the high half).</summary>
    public static long PairGroup(int first, int second) => ((long)first << 32) | (uint)second;

    /// <summary>The <see cref="ReachIndex"/> over one tool's plugin-month segments, grouped by <see cref="PluginGroup"/>.</summary>
    public ReachIndex? PluginReach(IReadOnlyList<MonthSegment<PluginMonthRow>> toolSegments, DateOnly from, ReachFilter filter) =>
        Reach(PluginTable, toolSegments, from, static r => PluginGroup(r.Name, r.Type), null, PluginMonthsAsync, filter);

    /// <summary>A plugin's (name, type) codes as one group key.</summary>
    public static long PluginGroup(int name, int type) => PairGroup(name, type);

    /// <summary>
    /// The <see cref="ReachIndex"/> named <paramref name="name"/> over one tool's segments: every caller that uses
    /// a name must pass the same <paramref name="group"/> function (the index is built by the first of them).
    /// An index is kept per (name, tool, first month it covers) for as long as the request's segments are the
    /// very ones it was built from (a reload replaces a segment object, so it rebuilds once after a change);
    /// the build is the walk a page did per request before, now once per change instead of per request.
    /// Null with rollups off (the rows are new for every request, so an index would cost more than the walk
    /// it saves) or when the segments span more than <see cref="ReachIndex.MaxDays"/>.
    /// An OS or tool-version <paramref name="filter"/> gets an index of its own over just the rows it keeps
    /// (<see cref="ReachFilter.IndexRows"/>), built on its first request and forgotten like any other when unused.
    /// </summary>
    private ReachIndex? Reach<T>(string name, IReadOnlyList<MonthSegment<T>> toolSegments, DateOnly from, Func<T, long> group,
        InstallationDays[]? firstDays, Func<string?, DateOnly, DateOnly, CancellationToken, Task<IReadOnlyList<MonthSegment<T>>>> fetch,
        ReachFilter filter)
        where T : struct, IMonthRow
    {
        var rowGroup = filter.Narrow(group);
        return Reach(name + filter.IndexRows, toolSegments, from, (segments, coversFrom, days) => ReachIndex.Build(segments, coversFrom, rowGroup, days),
            firstDays, fetch);
    }

    /// <summary>
    /// <see cref="Reach{T}(string, IReadOnlyList{MonthSegment{T}}, DateOnly, Func{T, long}, InstallationDays[], Func{string?, DateOnly, DateOnly, CancellationToken, Task{IReadOnlyList{MonthSegment{T}}}}, ReachFilter)"/>
    /// with the index made by <paramref name="build"/> from the segments, the first month and the first days
    /// (for indexes whose groups depend on the installation as a whole, not on one row).
    /// </summary>
    private ReachIndex? Reach<T>(string name, IReadOnlyList<MonthSegment<T>> toolSegments, DateOnly from,
        Func<IReadOnlyList<MonthSegment<T>>, DateOnly, InstallationDays[]?, ReachIndex> build,
        InstallationDays[]? firstDays, Func<string?, DateOnly, DateOnly, CancellationToken, Task<IReadOnlyList<MonthSegment<T>>>> fetch)
        where T : struct, IMonthRow
    {
        if (!rollups.Enabled || toolSegments.Count == 0)
        {
            return null;
        }
        var coversFrom = new DateOnly(from.Year, from.Month, 1);
        var last = toolSegments.Max(s => s.Month);
        if (!ReachIndex.CanSpan(coversFrom, last))
        {
            return null;
        }
        var tool = toolSegments[0].Tool;
        var key = (name, tool, coversFrom);
        if (_indexes.GetValueOrDefault(key) is { } entry && Matches(entry))
        {
            entry.UsedAt = _time.GetTimestamp();
            return entry.Index;
        }
        lock (_indexGates.GetOrAdd(key, _ => new Lock()))
        {
            if (_indexes.TryGetValue(key, out var built) && Matches(built))
            {
                built.UsedAt = _time.GetTimestamp();
                return built.Index;
            }
            var watch = System.Diagnostics.Stopwatch.StartNew();
            var index = build(toolSegments, coversFrom, firstDays);
            var through = last.AddMonths(1).AddDays(-1);
            var withFirstDays = firstDays is not null;
            _indexes[key] = new IndexEntry([.. toolSegments], firstDays, index, async ct =>
            {
                var segments = await fetch(tool, coversFrom, through, ct);
                Reach(name, segments, coversFrom, build, withFirstDays ? await InstallationDaysAsync(ct) : null, fetch);
            }) { UsedAt = _time.GetTimestamp() };
            Interlocked.Increment(ref _indexBuilds);
            Interlocked.Add(ref _indexBuildTicks, watch.Elapsed.Ticks);
            return index;
        }

        bool Matches(IndexEntry? entry) =>
            entry is not null && ReferenceEquals(entry.FirstDays, firstDays) && entry.Segments.Length == toolSegments.Count
            && entry.Segments.Select((s, i) => ReferenceEquals(s, toolSegments[i])).All(same => same);
    }

    /// <summary>
    /// Rebuilds the reach indexes that requests used in the last <paramref name="usedWithin"/> whose segments have
    /// changed (after a sync, so a request rarely waits for a build), and forgets those unused for longer.
    /// </summary>
    public async Task<int> RefreshIndexesAsync(TimeSpan usedWithin, CancellationToken ct)
    {
        var rebuilt = 0;
        foreach (var (key, entry) in _indexes)
        {
            if (_time.GetElapsedTime(entry.UsedAt) >= usedWithin)
            {
                _indexes.TryRemove(key, out _);
                continue;
            }
            var before = entry.Index;
            await entry.Rebuild(ct);
            rebuilt += _indexes.TryGetValue(key, out var now) && !ReferenceEquals(now.Index, before) ? 1 : 0;
        }
        return rebuilt;
    }

    private sealed record IndexEntry(object[] Segments, object? FirstDays, ReachIndex Index, Func<CancellationToken, Task> Rebuild)
    {
        /// <summary>When a request last read this index (a <see cref="TimeProvider.GetTimestamp"/>).</summary>
        public long UsedAt { get; set; }
    }

    private sealed record Loaded(object Segment, long Version, int Count, long LoadedAt);

    private sealed record LoadedDays(InstallationDays[] Days, (long Max, long Count) Stamp, long LoadedAt);
}

public sealed class RollupCacheOptions
{
    /// <summary>How often each app instance brings its in-memory rollup rows up to date in the background.</summary>
    public TimeSpan SyncEvery { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>Months kept warm (a 12-month view spans 13); older months load when a page asks for them.</summary>
    public int WarmMonths { get; set; } = 13;

    /// <summary>
    /// A changed segment is reloaded at most this often. Under continuous ingest the current month changes
    /// at every refresh; with the 10 s refresh and the 5 s sync a new event still shows within about 40 s.
    /// </summary>
    public TimeSpan MaxStaleness { get; set; } = TimeSpan.FromSeconds(20);

    /// <summary>
    /// A reach index (exact distinct counts for one grouping, tool and span of months) is kept, and rebuilt in
    /// the background when its rows change, while pages have read it within this long; then it is dropped.
    /// </summary>
    public TimeSpan KeepIndexesFor { get; set; } = TimeSpan.FromMinutes(10);
}

/// <summary>Loads the rollup rows at start-up and keeps them current, so a request rarely waits for a reload.</summary>
public sealed class RollupCacheSyncService(RollupCache cache, TimeProvider time, IOptions<RollupCacheOptions> options,
    ILogger<RollupCacheSyncService> logger, StartupReadiness readiness, Operations.AppMetrics metrics) : BackgroundService
{
    /// <summary>The first sync, which loads the warm months (<see cref="StartupReadiness"/>).</summary>
    internal const string StartupWork = "rollup cache";

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(options.Value.SyncEvery, TimeProvider.System);
        var first = true;
        do
        {
            try
            {
                var watch = System.Diagnostics.Stopwatch.StartNew();
                var reloaded = await cache.SyncAsync(options.Value.WarmMonths, DateOnly.FromDateTime(time.GetUtcNow().UtcDateTime), stoppingToken);
                // The indexes pages read, rebuilt here when their segments moved, not by the next request.
                await cache.RefreshIndexesAsync(options.Value.KeepIndexesFor, stoppingToken);
                metrics.CacheSynced(watch.Elapsed, () => cache.RowCount);
                if (first || reloaded > 0)
                {
                    var (builds, buildTime, entries) = cache.IndexStats;
                    logger.Log(first ? LogLevel.Information : LogLevel.Debug,
                        "Rollup cache: {Reloaded} segments reloaded in {Elapsed} ms, {Rows} rows held; reach indexes: {Builds} built in {BuildMs} ms since start, {Entries} entries held",
                        reloaded, (long)watch.Elapsed.TotalMilliseconds, cache.RowCount, builds, (long)buildTime.TotalMilliseconds, entries);
                }
                first = false;
            }
            catch (Exception e) when (e is not OperationCanceledException || !stoppingToken.IsCancellationRequested)
            {
                // The database may be down or not migrated yet; requests load what they need themselves.
                logger.LogWarning(e, "Rollup cache sync failed; retrying at the next tick");
            }
            readiness.Finished(StartupWork);
        }
        while (await timer.WaitForNextTickAsync(stoppingToken));
    }
}
