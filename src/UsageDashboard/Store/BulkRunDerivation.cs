using System.Buffers;
using System.Runtime.InteropServices;
using System.Text;
using System.Text.Json;
using Npgsql;

namespace UsageDashboard.Store;

/// <summary>
/// Runs, run plugins and installations of a bulk load, derived in memory while the events stream into
/// COPY, then written with binary COPY themselves. The rules are those of <see cref="RunDerivationSql"/>,
/// which stays the reference (a test loads the same events both ways and compares every row): deriving
/// here spares the load a second pass over every event in the database, a sort by run and the expansion
/// of every plugins document, which were most of its time.
/// </summary>
/// <remarks>
/// Text aggregates (min/max of dimensions, the order of a run's plugins) compare by code point, which is
/// what PostgreSQL does under the C and C.UTF-8 collations only; <see cref="AppliesToAsync"/> tells the
/// loader whether the database is one of those, and it derives in SQL otherwise. Events must be added in
/// the order they are COPYed, because the SQL rules break ties on occurred_at by the events' identity.
/// </remarks>
internal sealed class BulkRunDerivation
{
    public const string RunColumns =
        "tool, run_key, installation_id, user_id, occurred_at, started_at, ended_at, command, status, duration_ms, tool_version, " +
        "os_name, os_version, runtime_name, runtime_version, environment, is_ci, error_type, event_count, plugins, updated_at";

    public const string PluginColumns = "run_id, tool, name, type, version, status, occurred_at, installation_id, is_ci";

    /// <summary>
    /// PostgreSQL keeps microseconds and Npgsql truncates ticks towards zero relative to 2000-01-01, so
    /// the in-memory comparisons use the timestamps exactly as the database will hold them.
    /// </summary>
    private const long PostgresEpochTicks = 630_822_816_000_000_000;

    private readonly Dictionary<(string Tool, string RunKey), RunState> _runs = [];
    private readonly Dictionary<(string Tool, string InstallationId), (DateTime First, DateTime Last)> _installations = [];

    private List<RunState>? _completed;
    private Dictionary<(string Tool, string InstallationId), int>? _installationIds;
    private long _firstRunId;

    public int RunCount => _runs.Count;

    public int InstallationCount => _installations.Count;

    /// <summary>Each installation's first and last event time among the events added, as stored.</summary>
    public IReadOnlyDictionary<(string Tool, string InstallationId), (DateTime First, DateTime Last)> Installations => _installations;

    /// <summary>The runs in time order, once <see cref="Complete"/> has run; the i-th gets id firstRunId + i (Complete's argument).</summary>
    public IReadOnlyList<RunState> Completed => _completed ?? throw new InvalidOperationException("Complete the runs first.");

    /// <summary>The <c>installations.id</c> the load gives (tool, installation id), once <see cref="Complete"/> has run.</summary>
    public int InstallationKey(string tool, string installationId) =>
        (_installationIds ?? throw new InvalidOperationException("Complete the runs first."))[(tool, installationId)];

    /// <summary>
    /// True when text in this database sorts by code point: the database collation is C, POSIX or
    /// C.UTF-8 (libc) and no column of the derived tables overrides it.
    /// </summary>
    public static async Task<bool> AppliesToAsync(NpgsqlConnection conn, CancellationToken ct)
    {
        await using var cmd = new NpgsqlCommand("""
            SELECT d.datlocprovider = 'c' AND d.datcollate IN ('C', 'POSIX', 'C.UTF-8', 'C.utf8')
               AND NOT EXISTS (
                   SELECT 1 FROM pg_attribute a
                   WHERE a.attrelid IN ('events'::regclass, 'runs'::regclass, 'run_plugins'::regclass, 'installations'::regclass)
                     AND a.attnum > 0 AND a.attcollation NOT IN (0, 100, 950, 951))
            FROM pg_database d WHERE d.datname = current_database()
            """, conn);
        return (bool)(await cmd.ExecuteScalarAsync(ct))!;
    }

    /// <summary>Takes in the next event, in COPY order.</summary>
    public void Add(TelemetryEvent e)
    {
        var at = AsStored(e.OccurredAt);
        ref var run = ref CollectionsMarshal.GetValueRefOrAddDefault(_runs, (e.Tool, e.RunKey), out _);
        run ??= new RunState { Tool = e.Tool, RunKey = e.RunKey, InstallationId = e.InstallationId, FirstAt = at };
        run.Add(e, at);

        ref var seen = ref CollectionsMarshal.GetValueRefOrAddDefault(_installations, (e.Tool, e.InstallationId), out var known);
        seen = known ? (at < seen.First ? at : seen.First, at > seen.Last ? at : seen.Last) : (at, at);
    }

    /// <summary>
    /// Finishes every run (status, duration, plugin order and document), puts the runs in time order and
    /// numbers runs and installations from <paramref name="firstRunId"/> and <paramref name="firstInstallationId"/>
    /// (ids the loader reserved from the tables' identities, so rows can refer to each other before
    /// they are stored). CPU only, so the loader runs it on another core while the database builds the
    /// events' indexes.
    /// </summary>
    public void Complete(DateTime abortBefore, long firstRunId = 1, int firstInstallationId = 1)
    {
        _firstRunId = firstRunId;
        var ids = new Dictionary<(string Tool, string InstallationId), int>(_installations.Count);
        foreach (var key in _installations.Keys)
        {
            ids[key] = firstInstallationId + ids.Count;
        }
        _installationIds = ids;
        abortBefore = AsStored(abortBefore);
        var json = new ArrayBufferWriter<byte>();
        var runs = new List<RunState>(_runs.Count);
        foreach (var run in _runs.Values)
        {
            run.Complete(abortBefore, json);
            runs.Add(run);
        }
        // In time order, so the table is stored the way dashboards read it and its occurred_at indexes
        // are built from nearly sorted input.
        runs.Sort(static (a, b) =>
        {
            var c = a.OccurredAt.CompareTo(b.OccurredAt);
            if (c == 0)
            {
                c = string.CompareOrdinal(a.Tool, b.Tool);
            }
            return c != 0 ? c : string.CompareOrdinal(a.RunKey, b.RunKey);
        });
        _completed = runs;
    }

    /// <summary>
    /// COPYs the runs finished by <see cref="Complete"/>, their plugins and the installations into the empty
    /// <c>runs</c>, <c>run_plugins</c> and <c>installations</c> (inside the load's transaction, which
    /// holds them locked); returns the number of runs.
    /// </summary>
    public async Task<long> WriteAsync(NpgsqlConnection conn, DateTime now, CancellationToken ct)
    {
        var runs = _completed ?? throw new InvalidOperationException("Complete the runs before writing them.");
        now = AsStored(now);
        await using (var w = await BinaryCopyWriter.BeginAsync(conn, $"runs (id, {RunColumns})", ct))
        {
            for (var i = 0; i < runs.Count; i++)
            {
                w.StartRow(22);
                w.Write(_firstRunId + i);
                WriteRunValues(w, runs[i], now);
                await w.EndRowAsync(ct);
            }
            await w.CompleteAsync(ct);
        }

        await using (var w = await BinaryCopyWriter.BeginAsync(conn, $"run_plugins ({PluginColumns})", ct))
        {
            for (var i = 0; i < runs.Count; i++)
            {
                var r = runs[i];
                foreach (var p in r.Plugins ?? [])
                {
                    w.StartRow(9);
                    w.Write(_firstRunId + i);
                    w.Write(r.Tool);
                    w.Write(p.Name);
                    w.Write(p.Type);
                    w.Write(p.Version ?? "");
                    w.Write(p.Outcome(r.Status));
                    w.Write(r.OccurredAt);
                    w.Write(r.InstallationId);
                    w.Write(r.IsCi);
                    await w.EndRowAsync(ct);
                }
            }
            await w.CompleteAsync(ct);
        }

        await using (var w = await BinaryCopyWriter.BeginAsync(conn, "installations (id, tool, installation_id, first_seen, last_seen)", ct))
        {
            foreach (var ((tool, installationId), (first, last)) in _installations)
            {
                w.StartRow(5);
                w.Write(_installationIds![(tool, installationId)]);
                w.Write(tool);
                w.Write(installationId);
                w.Write(first);
                w.Write(last);
                await w.EndRowAsync(ct);
            }
            await w.CompleteAsync(ct);
        }
        return runs.Count;
    }

    /// <summary>
    /// COPYs the runs finished by <see cref="Complete"/> into the write path's work table <c>new_runs</c>
    /// (no ids: <c>runs</c> gives them when <see cref="RunDerivationSql.InsertNewRuns"/> stores them) and their
    /// plugins, outcomes decided, into <c>derived_plugins</c>.
    /// </summary>
    public async Task WriteNewAsync(NpgsqlConnection conn, DateTime now, CancellationToken ct)
    {
        var runs = _completed ?? throw new InvalidOperationException("Complete the runs before writing them.");
        now = AsStored(now);
        await using (var w = await BinaryCopyWriter.BeginAsync(conn, $"new_runs ({RunColumns})", ct))
        {
            foreach (var r in runs)
            {
                w.StartRow(21);
                WriteRunValues(w, r, now);
                await w.EndRowAsync(ct);
            }
            await w.CompleteAsync(ct);
        }
        if (!runs.Any(r => r.Plugins is not null))
        {
            return;
        }
        await using (var w = await BinaryCopyWriter.BeginAsync(conn, "derived_plugins (tool, run_key, name, type, version, status)", ct))
        {
            foreach (var r in runs)
            {
                foreach (var p in r.Plugins ?? [])
                {
                    w.StartRow(6);
                    w.Write(r.Tool);
                    w.Write(r.RunKey);
                    w.Write(p.Name);
                    w.Write(p.Type);
                    w.Write(p.Version ?? "");
                    w.Write(p.Outcome(r.Status));
                    await w.EndRowAsync(ct);
                }
            }
            await w.CompleteAsync(ct);
        }
    }

    /// <summary>A run's values in the order of <see cref="RunColumns"/>.</summary>
    private static void WriteRunValues(BinaryCopyWriter w, RunState r, DateTime now)
    {
        w.Write(r.Tool);
        w.Write(r.RunKey);
        w.Write(r.InstallationId);
        w.Write(r.UserId);
        w.Write(r.OccurredAt);
        w.Write(r.StartedAt);
        w.Write(r.EndedAt);
        w.Write(r.Command);
        w.Write(r.Status);
        w.Write(r.DurationMs);
        w.Write(r.ToolVersion);
        w.Write(r.OsName);
        w.Write(r.OsVersion);
        w.Write(r.RuntimeName);
        w.Write(r.RuntimeVersion);
        w.Write(r.Environment);
        w.Write(r.IsCi);
        w.Write(r.ErrorType);
        w.Write(r.EventCount);
        w.WriteJsonb(r.PluginsText);
        w.Write(now);
    }

    private static DateTime AsStored(DateTime t) =>
        new(PostgresEpochTicks + (BinaryCopyWriter.ToPostgresMicroseconds(t) * 10), DateTimeKind.Utc);

    /// <summary>Orders as PostgreSQL does under the C collations: by code point, i.e. UTF-8 byte order.</summary>
    internal static int CompareCodePoints(string a, string b)
    {
        var i = a.AsSpan().CommonPrefixLength(b);
        return i == a.Length || i == b.Length ? a.Length - b.Length : CodePointRank(a[i]) - CodePointRank(b[i]);
    }

    /// <summary>UTF-16 sorts surrogates (code points above U+FFFF) before U+E000..U+FFFF; code point order puts them after.</summary>
    private static int CodePointRank(char c) => c >= 0xD800 ? (c >= 0xE000 ? c - 0x800 : c + 0x2000) : c;

    internal static string? Max(string? current, string? value) =>
        value is not null && (current is null || (!ReferenceEquals(value, current) && CompareCodePoints(value, current) > 0)) ? value : current;

    /// <summary>The aggregates of one run's events, as <c>RunDerivationSql.RunSource</c> computes them.</summary>
    internal sealed class RunState
    {
        public required string Tool { get; init; }
        public required string RunKey { get; init; }
        public required string InstallationId { get; set; }
        public required DateTime FirstAt { get; set; }
        public string? UserId { get; private set; }
        public DateTime? StartedAt { get; private set; }
        public DateTime? EndedAt { get; private set; }
        public string? Command { get; private set; }
        public long? DurationMs { get; private set; }
        public string? ToolVersion { get; private set; }
        public string? OsName { get; private set; }
        public string? OsVersion { get; private set; }
        public string? RuntimeName { get; private set; }
        public string? RuntimeVersion { get; private set; }
        public string? Environment { get; private set; }
        public bool IsCi { get; private set; }
        public int EventCount { get; private set; }
        public string? ErrorType { get; private set; }
        public List<PluginState>? Plugins { get; private set; }
        /// <summary>The feature values of the run's events that carry properties; null when none does.</summary>
        public RunFeatures? Features { get; private set; }
        public DateTime OccurredAt { get; private set; }
        public string Status { get; private set; } = RunStatus.Unknown;

        private string? _finalStatus;
        private DateTime _finalAt;
        private DateTime _errorAt;

        public void Add(TelemetryEvent e, DateTime at)
        {
            EventCount++;
            if (!ReferenceEquals(e.InstallationId, InstallationId) && CompareCodePoints(e.InstallationId, InstallationId) < 0)
            {
                InstallationId = e.InstallationId;
            }
            if (at < FirstAt)
            {
                FirstAt = at;
            }
            if (e.Status == RunStatus.Started && (StartedAt is null || at < StartedAt))
            {
                StartedAt = at;
            }
            if (RunStatus.IsTerminal(e.Status))
            {
                if (EndedAt is null || at > EndedAt)
                {
                    EndedAt = at;
                }
                // The latest terminal event decides; on equal times the later one in the stream (higher id).
                if (_finalStatus is null || at >= _finalAt)
                {
                    _finalStatus = e.Status;
                    _finalAt = at;
                }
            }
            if (e.ErrorType is not null && (ErrorType is null || at >= _errorAt))
            {
                ErrorType = e.ErrorType;
                _errorAt = at;
            }
            UserId = Max(UserId, e.UserId);
            Command = Max(Command, e.Command);
            if (e.DurationMs is { } duration && (DurationMs is null || duration > DurationMs))
            {
                DurationMs = duration;
            }
            ToolVersion = Max(ToolVersion, e.ToolVersion);
            OsName = Max(OsName, e.OsName);
            OsVersion = Max(OsVersion, e.OsVersion);
            RuntimeName = Max(RuntimeName, e.RuntimeName);
            RuntimeVersion = Max(RuntimeVersion, e.RuntimeVersion);
            Environment = Max(Environment, e.Environment);
            IsCi |= e.IsCi;
            if (e.Properties is { } properties)
            {
                (Features ??= new RunFeatures()).Add(Tool, properties.RootElement);
            }
            foreach (var p in e.Plugins)
            {
                if (p.Name is null)
                {
                    continue;
                }
                var type = p.Type ?? "";
                Plugins ??= [];
                PluginState? plugin = null;
                foreach (var x in Plugins)
                {
                    if (x.Name == p.Name && x.Type == type)
                    {
                        plugin = x;
                        break;
                    }
                }
                if (plugin is null)
                {
                    plugin = new PluginState { Name = p.Name, Type = type };
                    Plugins.Add(plugin);
                }
                plugin.Add(p);
            }
        }

        /// <summary>runs.plugins as text, set by <see cref="Complete"/>.</summary>
        public string PluginsText { get; private set; } = "[]";

        public void Complete(DateTime abortBefore, ArrayBufferWriter<byte> json)
        {
            OccurredAt = StartedAt ?? FirstAt;
            Status = _finalStatus
                ?? (StartedAt is { } started ? (started < abortBefore ? RunStatus.Aborted : RunStatus.Running) : RunStatus.Unknown);
            if (DurationMs is null && StartedAt is { } from && EndedAt is { } to)
            {
                // (extract(epoch FROM ended - started) * 1000)::bigint: microseconds to milliseconds, half away from zero.
                DurationMs = (long)Math.Round((to - from).Ticks / (decimal)TimeSpan.TicksPerMillisecond, MidpointRounding.AwayFromZero);
            }
            Plugins?.Sort(static (a, b) =>
            {
                var c = CompareCodePoints(a.Name, b.Name);
                return c != 0 ? c : CompareCodePoints(a.Type, b.Type);
            });
            PluginsText = PluginsJson(json);
        }

        /// <summary>runs.plugins: the run's plugins ordered by name and type, empty type and version as null.</summary>
        private string PluginsJson(ArrayBufferWriter<byte> buffer)
        {
            if (Plugins is null)
            {
                return "[]";
            }
            buffer.ResetWrittenCount();
            using (var json = new Utf8JsonWriter(buffer))
            {
                json.WriteStartArray();
                foreach (var p in Plugins)
                {
                    json.WriteStartObject();
                    json.WriteString("name", p.Name);
                    json.WriteString("type", p.Type.Length == 0 ? null : p.Type);
                    json.WriteString("version", string.IsNullOrEmpty(p.Version) ? null : p.Version);
                    json.WriteString("status", p.Outcome(Status));
                    json.WriteEndObject();
                }
                json.WriteEndArray();
            }
            return Encoding.UTF8.GetString(buffer.WrittenSpan);
        }
    }

    /// <summary>One plugin's part in a run, as <c>RunDerivationSql.PluginAggregates</c> computes it.</summary>
    internal sealed class PluginState
    {
        public required string Name { get; init; }
        public required string Type { get; init; }
        public string? Version { get; private set; }
        private bool _failed;
        private bool _aborted;
        private bool _succeeded;
        private bool _skipped;

        public void Add(PluginRef p)
        {
            Version = Max(Version, p.Version);
            _failed |= p.Status == RunStatus.Failed;
            _aborted |= p.Status == RunStatus.Aborted;
            _succeeded |= p.Status == RunStatus.Succeeded;
            _skipped |= p.Status == RunStatus.Skipped;
        }

        /// <summary>The plugin's own outcome where it has one, else its run's.</summary>
        public string Outcome(string runStatus) =>
            _failed ? RunStatus.Failed
            : _aborted ? RunStatus.Aborted
            : _succeeded ? RunStatus.Succeeded
            : _skipped ? RunStatus.Skipped
            : runStatus;
    }
}
