using Npgsql;

namespace UsageDashboard.Health;

/// <summary>
/// The counts detection needs, for every plugin version and CLI release with runs in the windows: one
/// aggregate pass and one hourly pass per source table, then peers derived in memory (a plugin's
/// other versions = the plugin's totals minus this version).
/// </summary>
public sealed class HealthQueries(NpgsqlDataSource dataSource)
{
    /// <summary>Plugins come from run_plugins (their own outcome); CLI releases from runs.</summary>
    private const string PluginSource = "SELECT tool, name, version, occurred_at, installation_id, status, is_ci FROM run_plugins";
    private const string ToolSource = "SELECT tool, tool AS name, coalesce(tool_version, '') AS version, occurred_at, installation_id, status, is_ci FROM runs";

    public async Task<IReadOnlyList<SubjectCounts>> LoadAsync(DateTime now, HealthOptions o, CancellationToken ct)
    {
        await using var conn = await dataSource.OpenConnectionAsync(ct);
        var result = new List<SubjectCounts>();
        result.AddRange(await LoadAsync(conn, PluginSource, HealthSubject.PluginKind, "run_plugins", now, o, ct));
        result.AddRange(await LoadAsync(conn, ToolSource, HealthSubject.ToolKind, "runs", now, o, ct));
        return result;
    }

    /// <summary>Hourly judged and failed runs of one subject, for the evidence chart.</summary>
    public async Task<IReadOnlyList<HourCount>> HourlyAsync(string tool, string kind, string name, string version, DateTime from, DateTime to, bool excludeCi, CancellationToken ct)
    {
        var source = kind == HealthSubject.ToolKind ? ToolSource : PluginSource;
        await using var cmd = dataSource.CreateCommand($"""
            SELECT date_trunc('hour', s.occurred_at), count(*), count(*) FILTER (WHERE s.status <> 'succeeded')
            FROM ({source} WHERE tool = @tool AND occurred_at >= @from AND occurred_at < @to) s
            WHERE s.name = @name AND s.version = @version AND s.status IN ('succeeded', 'failed', 'aborted') AND (NOT @exclude_ci OR NOT s.is_ci)
            GROUP BY 1 ORDER BY 1
            """);
        cmd.Parameters.AddWithValue("tool", tool);
        cmd.Parameters.AddWithValue("name", name);
        cmd.Parameters.AddWithValue("version", version);
        cmd.Parameters.AddWithValue("from", from);
        cmd.Parameters.AddWithValue("to", to);
        cmd.Parameters.AddWithValue("exclude_ci", excludeCi);
        var hours = new List<HourCount>();
        await using var reader = await cmd.ExecuteReaderAsync(ct);
        while (await reader.ReadAsync(ct))
        {
            hours.Add(new HourCount(reader.GetDateTime(0), reader.GetInt64(1), reader.GetInt64(2)));
        }
        return hours;
    }

    private static async Task<List<SubjectCounts>> LoadAsync(NpgsqlConnection conn, string source, string kind, string table, DateTime now, HealthOptions o, CancellationToken ct)
    {
        var recent = now - o.RecentWindow;
        var history = recent - o.HistoryWindow;
        var longStart = now - o.LongWindow;
        var from = history < longStart ? history : longStart;

        await using var batch = conn.CreateBatch();
        var filter = "occurred_at >= @from AND occurred_at < @now AND status IN ('succeeded', 'failed', 'aborted') AND (NOT @exclude_ci OR NOT is_ci)";
        batch.BatchCommands.Add(new NpgsqlBatchCommand($"""
            WITH s AS (SELECT tool, name, version, occurred_at, installation_id, status <> 'succeeded' AS failed FROM ({source} WHERE {filter}) x)
            SELECT tool, name, version,
                   count(*) FILTER (WHERE occurred_at >= @recent),
                   count(*) FILTER (WHERE occurred_at >= @recent AND failed),
                   count(DISTINCT installation_id) FILTER (WHERE occurred_at >= @recent),
                   count(DISTINCT installation_id) FILTER (WHERE occurred_at >= @recent AND failed),
                   count(*) FILTER (WHERE occurred_at >= @long),
                   count(*) FILTER (WHERE occurred_at >= @long AND failed),
                   count(DISTINCT installation_id) FILTER (WHERE occurred_at >= @long),
                   count(DISTINCT installation_id) FILTER (WHERE occurred_at >= @long AND failed),
                   count(*) FILTER (WHERE occurred_at >= @history AND occurred_at < @recent),
                   count(*) FILTER (WHERE occurred_at >= @history AND occurred_at < @recent AND failed)
            FROM s GROUP BY 1, 2, 3
            """));
        batch.BatchCommands.Add(new NpgsqlBatchCommand($"""
            SELECT tool, name, version, date_trunc('hour', occurred_at), count(*), count(*) FILTER (WHERE status <> 'succeeded')
            FROM ({source} WHERE {filter} AND occurred_at >= @history) x
            GROUP BY 1, 2, 3, 4 ORDER BY 1, 2, 3, 4
            """));
        foreach (NpgsqlBatchCommand command in batch.BatchCommands)
        {
            command.Parameters.AddWithValue("from", from);
            command.Parameters.AddWithValue("now", now);
            command.Parameters.AddWithValue("recent", recent);
            command.Parameters.AddWithValue("long", longStart);
            command.Parameters.AddWithValue("history", history);
            command.Parameters.AddWithValue("exclude_ci", o.ExcludeCi);
        }

        var rows = new List<(HealthSubject Subject, WindowCounts Recent, WindowCounts Long, WindowCounts History)>();
        var hourly = new Dictionary<HealthSubject, List<HourCount>>();
        await using (var reader = await batch.ExecuteReaderAsync(ct))
        {
            while (await reader.ReadAsync(ct))
            {
                var subject = new HealthSubject(reader.GetString(0), kind, reader.GetString(1), reader.GetString(2));
                rows.Add((subject,
                    new WindowCounts(reader.GetInt64(3), reader.GetInt64(4), reader.GetInt64(5), reader.GetInt64(6)),
                    new WindowCounts(reader.GetInt64(7), reader.GetInt64(8), reader.GetInt64(9), reader.GetInt64(10)),
                    new WindowCounts(reader.GetInt64(11), reader.GetInt64(12))));
            }
            await reader.NextResultAsync(ct);
            while (await reader.ReadAsync(ct))
            {
                var subject = new HealthSubject(reader.GetString(0), kind, reader.GetString(1), reader.GetString(2));
                if (!hourly.TryGetValue(subject, out var list))
                {
                    hourly[subject] = list = [];
                }
                list.Add(new HourCount(reader.GetDateTime(3), reader.GetInt64(4), reader.GetInt64(5)));
            }
        }
        if (rows.Count == 0)
        {
            return [];
        }

        var firstSeen = await FirstSeenAsync(conn, table, kind, rows.Select(r => r.Subject).ToList(), from, now, ct);
        var totals = rows.GroupBy(r => (r.Subject.Tool, r.Subject.Name))
            .ToDictionary(g => g.Key, g => (Recent: g.Aggregate(new WindowCounts(), (a, r) => a + r.Recent), Long: g.Aggregate(new WindowCounts(), (a, r) => a + r.Long)));
        return rows.Select(r =>
        {
            var t = totals[(r.Subject.Tool, r.Subject.Name)];
            return new SubjectCounts
            {
                Subject = r.Subject,
                FirstSeen = firstSeen.GetValueOrDefault(r.Subject, now),
                Recent = r.Recent,
                Long = r.Long,
                PeersRecent = t.Recent - r.Recent,
                PeersLong = t.Long - r.Long,
                History = r.History,
                Hourly = hourly.GetValueOrDefault(r.Subject) ?? [],
            };
        }).ToList();
    }

    /// <summary>
    /// The first run of each subject ever stored: the release moment on charts and in reasons. The day
    /// comes from the day rollup (its earliest row for the subject), the moment from the subject's runs
    /// of that day. Asked of the runs alone, an index scan in time order had to pass every older run of
    /// the tool (or plugin) before reaching a recent version: 31.4 s for the CLI releases and 3.6 s for
    /// the plugin versions on the 10M store, past the default 30 s command timeout. A subject the
    /// rollups do not hold yet (its first runs came after the last refresh) is looked up within the
    /// detection windows, which hold all its runs.
    /// </summary>
    private static async Task<Dictionary<HealthSubject, DateTime>> FirstSeenAsync(NpgsqlConnection conn, string table, string kind, List<HealthSubject> subjects,
        DateTime from, DateTime now, CancellationToken ct)
    {
        var tool = kind == HealthSubject.ToolKind;
        var (nameColumn, versionColumn) = tool ? ("tool", "coalesce(t.tool_version, '')") : ("name", "t.version");
        var (rollup, rollupName, rollupVersion) = tool
            ? ("rollup_run_days", "d.tool", "coalesce(d.tool_version, '')")
            : ("rollup_plugin_days", "d.name", "d.version");
        var runsOf = $"FROM {table} t WHERE t.tool = s.tool AND t.{nameColumn} = s.name AND {versionColumn} = s.version";
        await using var cmd = new NpgsqlCommand($"""
            WITH s AS (SELECT * FROM unnest(@tools, @names, @versions) AS s(tool, name, version)),
            f AS (
                SELECT s.tool, s.name, s.version, min(d.day) AS day
                FROM {rollup} d JOIN s ON d.tool = s.tool AND {rollupName} = s.name AND {rollupVersion} = s.version
                GROUP BY 1, 2, 3
            )
            SELECT s.tool, s.name, s.version, coalesce(
                (SELECT min(t.occurred_at) {runsOf}
                 AND t.occurred_at >= f.day::timestamp AT TIME ZONE 'UTC' AND t.occurred_at < (f.day + 1)::timestamp AT TIME ZONE 'UTC'),
                (SELECT min(t.occurred_at) {runsOf} AND t.occurred_at >= @from AND t.occurred_at < @now))
            FROM s LEFT JOIN f ON f.tool = s.tool AND f.name = s.name AND f.version = s.version
            """, conn);
        cmd.Parameters.AddWithValue("from", from);
        cmd.Parameters.AddWithValue("now", now);
        cmd.Parameters.AddWithValue("tools", subjects.Select(s => s.Tool).ToArray());
        cmd.Parameters.AddWithValue("names", subjects.Select(s => s.Name).ToArray());
        cmd.Parameters.AddWithValue("versions", subjects.Select(s => s.Version).ToArray());
        var result = new Dictionary<HealthSubject, DateTime>();
        await using var reader = await cmd.ExecuteReaderAsync(ct);
        while (await reader.ReadAsync(ct))
        {
            if (!reader.IsDBNull(3))
            {
                result[new HealthSubject(reader.GetString(0), kind, reader.GetString(1), reader.GetString(2))] = reader.GetDateTime(3);
            }
        }
        return result;
    }
}
