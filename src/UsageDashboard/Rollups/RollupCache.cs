using System.Collections.Concurrent;
using System.Data;
using Npgsql;

namespace UsageDashboard.Rollups;

/// <summary>
/// The rollups held in memory, one segment per table, month and tool. Distinct installation counts must
/// look at one row per installation, month and dimension values, which is too slow to do in PostgreSQL on
/// every request (figures in docs/benchmarks.md); over these arrays it stays in memory. A segment is reloaded
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
}
