using System.Text;
using System.Text.Json;
using Npgsql;
using UsageDashboard.Rollups;
using UsageDashboard.Store;
using UsageDashboard.Tests.Infrastructure;
using static UsageDashboard.Tests.Infrastructure.TestEvents;

namespace UsageDashboard.Tests.Rollups;

/// <summary>
/// The plans of the headline statements, on a store of a year of runs with current statistics: the run
/// derivation, the rollup refresher's batch (new runs folded in, a changed day rebuilt) and the rollup
/// cache's month loads. Each statement runs under <c>EXPLAIN (ANALYZE, FORMAT JSON)</c> in a transaction that
/// is rolled back, in the order the app runs them, so each is planned for the work tables the earlier ones
/// filled. A slice (a run's events, a day of runs, a month of a rollup) must be read through an index: a
/// plan that falls back to a sequential scan of <c>runs</c>, <c>run_plugins</c> or an <c>events</c> partition
/// is a regression that timings on a small test store would never show.
/// </summary>
public sealed class PlanShapeTests : IClassFixture<PlanShapeTests.Db>
{
    public sealed class Db : DatabaseFixture
    {
        public static readonly DateTime Last = new(2026, 11, 30, 12, 0, 0, DateTimeKind.Utc);

        private static readonly string[] s_oses = ["linux", "darwin", "windows"];

        public override async Task InitializeAsync()
        {
            await base.InitializeAsync();
            var months = Enumerable.Range(0, 13).Select(i => new DateTime(2025, 11, 1, 0, 0, 0, DateTimeKind.Utc).AddMonths(i)).ToList();
            // BulkLoadAsync ends with VACUUM (ANALYZE) of every table it filled, rollups included.
            await CreateWriter(this).BulkLoadAsync(Chunks(), null, default, months);
        }

        /// <summary>A year of single-event runs of two tools, 3,000 installations, three OSes and versions, some with a plugin.</summary>
        private static async IAsyncEnumerable<IReadOnlyList<TelemetryEvent>> Chunks()
        {
            var random = new Random(31);
            var installations = Enumerable.Range(0, 3000).Select(_ => Guid.NewGuid().ToString()).ToArray();
            for (var chunk = 0; chunk < 8; chunk++)
            {
                var events = new List<TelemetryEvent>(5000);
                for (var i = 0; i < 5000; i++)
                {
                    var at = Last.AddDays(-random.Next(365)).AddMinutes(-random.Next(600));
                    events.Add(CreateEvent(
                        tool: random.Next(2) == 0 ? "dbt" : "meltano", installationId: installations[random.Next(installations.Length)], at: at,
                        status: random.Next(10) == 0 ? RunStatus.Failed : RunStatus.Succeeded, command: random.Next(3) == 0 ? "build" : "run",
                        osName: s_oses[random.Next(s_oses.Length)], toolVersion: $"1.{random.Next(3)}.0",
                        durationMs: random.Next(100, 600_000), errorType: random.Next(20) == 0 ? "RuntimeError" : null,
                        plugins: random.Next(4) == 0 ? [new PluginRef { Name = "tap-github", Type = "extractors", Version = "1.0" }] : null));
                }
                yield return events;
                await Task.Yield();
            }
        }
    }

    private readonly Db _db;

    public PlanShapeTests(Db db) => _db = db;

    [Fact]
    public async Task RunDerivation_EventsOfStoredRuns_ReadByIndexNoSeqScan()
    {
        await using var conn = await _db.DataSource.OpenConnectionAsync();
        await using var tx = await conn.BeginTransactionAsync();
        await EventWriter.CreateWorkTablesAsync(conn, default);
        await ExecuteAsync(conn, "INSERT INTO affected_runs SELECT tool, run_key FROM runs ORDER BY id DESC LIMIT 20; ANALYZE affected_runs;");

        var plans = await ExplainAsync(conn, RunDerivationSql.LockAffected + RunDerivationSql.DeriveAffected
            + RunDerivationSql.UpsertDerivedRuns + RunDerivationSql.SyncRunPlugins,
            ("now", Db.Last), ("abort_before", Db.Last.AddHours(-12)));

        AssertNoSeqScan(plans, IsSliceRead, await SmallTablesAsync(conn));
        // A run's events by (tool, run_key), in every partition (the key does not name the month); its row likewise.
        Assert.Contains(Scans(plans), s => IsEvents(s.Relation) && s.ByIndex && s.Cond!.Contains("run_key", StringComparison.Ordinal));
        Assert.Contains(Scans(plans), s => s.Relation == "runs" && s.ByIndex && s.Cond!.Contains("run_key", StringComparison.Ordinal));
    }

    [Fact]
    public async Task RollupRefresh_NewRunsFoldedChangedDayRebuilt_RunsReadByIndexNoSeqScan()
    {
        await using var conn = await _db.DataSource.OpenConnectionAsync();
        await using var tx = await conn.BeginTransactionAsync();
        // New runs on one day (marks that name their run: the fold) and a changed run on another (a mark
        // without a run: that day is rebuilt from its runs).
        var day = Db.Last.Date.AddDays(-3).AddHours(9);
        await CreateWriter(_db).WriteAsync(conn,
            [.. Enumerable.Range(0, 5).Select(i => CreateEvent(installationId: Guid.NewGuid().ToString(), at: day.AddMinutes(i)))], default);
        await ExecuteAsync(conn, "UPDATE runs SET status = 'failed' WHERE id = (SELECT min(id) FROM runs)");
        long lastMark;
        await using (var cmd = new NpgsqlCommand("SELECT max(seq) FROM rollup_dirty", conn, tx))
        {
            lastMark = (long)(await cmd.ExecuteScalarAsync())!;
        }
        var batch = await ExplainAsync(conn, RollupRefresher.SelectBatch, ("max", 500), ("last_mark", lastMark), ("fold", true));
        long rebuilt, folded;
        await using (var cmd = new NpgsqlCommand("SELECT (SELECT count(*) FROM rollup_slices), (SELECT count(*) FROM rollup_fold_slices)", conn, tx))
        await using (var reader = await cmd.ExecuteReaderAsync())
        {
            await reader.ReadAsync();
            (rebuilt, folded) = (reader.GetInt64(0), reader.GetInt64(1));
        }

        var plans = await ExplainAsync(conn, RollupSql.RebuildSlices() + RollupSql.FoldSlices());

        Assert.Equal((1, 1), (rebuilt, folded));
        // The rebuild reads its days' runs by time range, the fold each new run by its id.
        var rebuild = Scans(plans).Where(s => s.Relation == "runs" && s.Query.Contains("INSERT INTO refresh_runs", StringComparison.Ordinal)).ToList();
        var fold = Scans(plans).Where(s => s.Relation == "runs" && s.Query.Contains("INSERT INTO fold_runs", StringComparison.Ordinal)).ToList();
        Assert.NotEmpty(rebuild);
        Assert.All(rebuild, s => Assert.True(s.ByIndex && s.Cond!.Contains("occurred_at", StringComparison.Ordinal), $"{s.Node} {s.Index} {s.Cond}"));
        Assert.NotEmpty(fold);
        Assert.All(fold, s => Assert.True(s.ByIndex && s.Cond!.Contains("id =", StringComparison.Ordinal), $"{s.Node} {s.Index} {s.Cond}"));
        AssertNoSeqScan([.. batch, .. plans], IsSliceRead, await SmallTablesAsync(conn));
    }

    [Fact]
    public async Task RollupCacheLoad_OneToolOneMonth_ReadsItsRollupTableByIndex()
    {
        await using var conn = await _db.DataSource.OpenConnectionAsync();
        await using var tx = await conn.BeginTransactionAsync();
        var month = new DateOnly(2026, 6, 1);
        var problems = new List<string>();
        var small = await SmallTablesAsync(conn);

        foreach (var table in RollupSql.Tables)
        {
            var plans = await ExplainAsync(conn, RollupCache.SegmentLoad(table.Table, table.MonthKey is null, table.Columns),
                ("month", month), ("next_month", month.AddMonths(1)), ("tool", "dbt"));
            var scans = Scans(plans).ToList();
            if (scans.Any(s => s.Relation != table.Table))
            {
                problems.Add($"{table.Table}: reads {string.Join(", ", scans.Select(s => s.Relation).Distinct())}");
            }
            if (!small.Contains(table.Table) && !scans.Any(s => s.Relation == table.Table && s.ByIndex))
            {
                problems.Add($"{table.Table}: {string.Join(", ", scans.Select(s => s.Node))}, no index");
            }
        }

        Assert.True(problems.Count == 0, string.Join('\n', problems));
    }

    private static bool IsEvents(string relation) => relation == "events" || (relation.StartsWith("events_", StringComparison.Ordinal));

    /// <summary>The permanent tables that hold every run or event: read whole, they cost a scan of the store.</summary>
    private static bool IsSliceRead(string relation) => relation is "runs" or "run_plugins" or "installations" || IsEvents(relation);

    /// <summary>
    /// Tables of a few pages, by their statistics: reading one whole is the planner's right choice (an empty
    /// DEFAULT partition, next month's partition), and no regression.
    /// </summary>
    private static async Task<HashSet<string>> SmallTablesAsync(NpgsqlConnection conn)
    {
        await using var cmd = new NpgsqlCommand(
            "SELECT relname FROM pg_class WHERE relnamespace = 'public'::regnamespace AND relkind = 'r' AND relpages < 10", conn);
        await using var reader = await cmd.ExecuteReaderAsync();
        var small = new HashSet<string>();
        while (await reader.ReadAsync())
        {
            small.Add(reader.GetString(0));
        }
        return small;
    }

    private static void AssertNoSeqScan(IReadOnlyList<JsonElement> plans, Func<string, bool> table, HashSet<string> small)
    {
        var seq = Scans(plans).Where(s => s.Node == "Seq Scan" && table(s.Relation) && !small.Contains(s.Relation)).Select(s => s.Relation + " in\n" + s.Query).ToList();
        Assert.True(seq.Count == 0, "sequential scans:\n" + string.Join("\n\n", seq));
    }

    private sealed record Scan(string Node, string Relation, string? Index, string? Cond, string Query)
    {
        /// <summary>An index scan, or a bitmap heap scan (its index is in the Bitmap Index Scan below it).</summary>
        public bool ByIndex => Index is not null || Node == "Bitmap Heap Scan";
    }

    /// <summary>Every scan node of every plan, with the relation it reads and the index, if any.</summary>
    private static IEnumerable<Scan> Scans(IEnumerable<JsonElement> plans)
    {
        foreach (var plan in plans)
        {
            var query = plan.TryGetProperty("Query Text", out var q) ? q.GetString() ?? "" : "";
            var stack = new Stack<JsonElement>([plan.GetProperty("Plan")]);
            while (stack.TryPop(out var node))
            {
                if (node.TryGetProperty("Relation Name", out var relation) && node.GetProperty("Node Type").GetString() is { } type && type != "ModifyTable")
                {
                    var cond = node.TryGetProperty("Index Cond", out var c) || node.TryGetProperty("Recheck Cond", out c) ? c.GetString() : null;
                    yield return new Scan(type, relation.GetString()!, node.TryGetProperty("Index Name", out var index) ? index.GetString() : null, cond, query);
                }
                if (node.TryGetProperty("Plans", out var children))
                {
                    foreach (var child in children.EnumerateArray())
                    {
                        stack.Push(child);
                    }
                }
            }
        }
    }

    /// <summary>
    /// Runs <paramref name="script"/> statement by statement: what EXPLAIN takes under EXPLAIN (ANALYZE, FORMAT JSON),
    /// the rest (SET, DO, ANALYZE, CREATE) as is. Returns the plans, each with its statement as "Query Text".
    /// </summary>
    private static async Task<List<JsonElement>> ExplainAsync(NpgsqlConnection conn, string script, params (string Name, object Value)[] parameters)
    {
        var plans = new List<JsonElement>();
        foreach (var statement in Statements(script))
        {
            var verb = statement.TrimStart().Split((char[])[' ', '\n', '\r', '\t', '('], 2)[0].ToUpperInvariant();
            var explained = verb is "SELECT" or "INSERT" or "UPDATE" or "DELETE" or "WITH";
            await using var cmd = new NpgsqlCommand(explained ? "EXPLAIN (ANALYZE, FORMAT JSON) " + statement : statement, conn);
            foreach (var (name, value) in parameters.Where(p => statement.Contains("@" + p.Name, StringComparison.Ordinal)))
            {
                cmd.Parameters.AddWithValue(name, value);
            }
            if (!explained)
            {
                await cmd.ExecuteNonQueryAsync();
                continue;
            }
            var json = (string)(await cmd.ExecuteScalarAsync())!;
            var plan = JsonDocument.Parse(json).RootElement[0];
            var withQuery = new Dictionary<string, object> { ["Query Text"] = statement, ["Plan"] = plan.GetProperty("Plan") };
            plans.Add(JsonSerializer.SerializeToElement(withQuery));
        }
        return plans;
    }

    /// <summary>A script split at its top-level semicolons (not inside quotes, dollar quotes or comments).</summary>
    private static IEnumerable<string> Statements(string script)
    {
        var current = new StringBuilder();
        string? dollarTag = null;
        for (var i = 0; i < script.Length; i++)
        {
            var c = script[i];
            if (dollarTag is not null)
            {
                if (c == '$' && string.CompareOrdinal(script, i, dollarTag, 0, dollarTag.Length) == 0)
                {
                    current.Append(dollarTag);
                    i += dollarTag.Length - 1;
                    dollarTag = null;
                    continue;
                }
                current.Append(c);
                continue;
            }
            if (c == '-' && i + 1 < script.Length && script[i + 1] == '-')
            {
                var end = script.IndexOf('\n', i);
                i = end < 0 ? script.Length : end;
                current.Append('\n');
                continue;
            }
            if (c == '\'')
            {
                var end = script.IndexOf('\'', i + 1);
                current.Append(script, i, end - i + 1);
                i = end;
                continue;
            }
            if (c == '$' && script.IndexOf('$', i + 1) is var close and > 0 && IsDollarTag(script.AsSpan(i + 1, close - i - 1)))
            {
                dollarTag = script.Substring(i, close - i + 1);
                current.Append(dollarTag);
                i = close;
                continue;
            }
            if (c == ';')
            {
                if (current.ToString().Trim() is { Length: > 0 } statement)
                {
                    yield return statement;
                }
                current.Clear();
                continue;
            }
            current.Append(c);
        }
        if (current.ToString().Trim() is { Length: > 0 } last)
        {
            yield return last;
        }
    }

    private static bool IsDollarTag(ReadOnlySpan<char> tag)
    {
        foreach (var c in tag)
        {
            if (!char.IsAsciiLetterOrDigit(c) && c != '_')
            {
                return false;
            }
        }
        return true;
    }

    private static async Task ExecuteAsync(NpgsqlConnection conn, string sql)
    {
        await using var cmd = new NpgsqlCommand(sql, conn);
        await cmd.ExecuteNonQueryAsync();
    }
}
