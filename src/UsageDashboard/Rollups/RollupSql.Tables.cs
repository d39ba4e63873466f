namespace UsageDashboard.Rollups;

/// <summary>The statements over every rollup table: the full rebuild, the fold of new runs, the work tables and the version marks.</summary>
internal static partial class RollupSql
{
    /// <summary>
    /// Rebuilds the slices listed in the temp table <c>rollup_slices(tool, day)</c> from the runs of those
    /// days, and writes only what changed. <c>rollup_marks</c> holds the <c>rollup_dirty</c> marks the pass
    /// consumes: their installations are the only ones whose month rows may need a day cleared. Recomputing whole days (rather than adding deltas) makes a
    /// refresh idempotent: late, re-sent or re-derived events can never be counted twice.
    /// </summary>
    /// <remarks>
    /// <para>
    /// The runs (and run plugins) of the slices are copied once into <c>refresh_runs</c> and
    /// <c>refresh_plugins</c>, one index range scan per slice, and every table is aggregated from the
    /// copies into its own work table. Each table's statement used to find its runs itself, with a
    /// condition (tool equal, time within a slice's day) that the planner can only run as a hash join on
    /// the tool and a range check per pair: 2.2 s for 30 days of dbt on the 1M store, a sequential scan
    /// of every run per table on the 10M store. Copied once, the same 30 days cost 0.3 s, and the
    /// <c>rollup_run_days</c> aggregate over the copy 0.13 s.
    /// </para>
    /// <para>
    /// The new rows are then compared with the stored ones and only differences are written. Ingest
    /// spread over many days (a history import, a client catching up) dirties those days again on every
    /// pass while every row the new runs do not touch stays the same; rewriting them all (delete and insert, or clear and
    /// re-merge a month's day bits) cost a new row version and index entries per row: over 1 s per month
    /// table for one month of dbt on the 1M store. A day table's changed rows are deleted and inserted.
    /// A month row's bits outside the slice days are kept, its slice-day bits replaced by the new ones;
    /// rows left with no day are deleted.
    /// </para>
    /// <para>
    /// Both month-table steps cost what the slices hold, not what the month holds: new rows are upserted
    /// by key, and a slice day's bit is cleared only from rows of installations whose runs on that day
    /// were updated or deleted (new runs can only set bits). Before, each step read the tool's whole month
    /// (or the whole table), so a pass over today's slice alone took 0.9 s on the 1M store, most of it in
    /// the month tables, and grew with the store.
    /// </para>
    /// </remarks>
    public static string RebuildSlices()
    {
        var refresh = new RollupInput("refresh_runs", "refresh_plugins");
        var sql = new System.Text.StringBuilder($"""
            -- The work tables are analyzed as they are filled, for row counts: without them a month table's
            -- 300k new rows were planned as 6 and probed one by one (6.9 s on the 10M store). A small sample
            -- is plenty for that. The aggregates and hash joins of 30 days of dbt there spilled to disk at
            -- the default work_mem; one refresh runs at a time.
            SET LOCAL default_statistics_target = 10;
            SET LOCAL work_mem = '128MB';
            {CreateOnce([
                // Keyed: a month row's upsert looks up its month's mask by (tool, month).
                "rollup_tool_months (tool text NOT NULL, month date NOT NULL, mask integer NOT NULL, PRIMARY KEY (tool, month)) ON COMMIT DELETE ROWS",
                "rollup_clear_keys (tool text NOT NULL, month date NOT NULL, installation_key integer NOT NULL) ON COMMIT DELETE ROWS",
                ChangedTable,
                $"refresh_runs ON COMMIT DELETE ROWS AS SELECT {RefreshRunColumns} FROM runs WITH NO DATA",
                $"refresh_plugins ON COMMIT DELETE ROWS AS SELECT {RefreshPluginColumns} FROM run_plugins WITH NO DATA",
                .. WorkTables("refresh_")])}
            INSERT INTO rollup_tool_months
            SELECT tool, date_trunc('month', day::timestamp)::date, bit_or(1 << (extract(day FROM day)::integer - 1))
            FROM rollup_slices GROUP BY 1, 2;
            ANALYZE rollup_tool_months;
            -- The only installations whose month rows can lose a slice day's bit: a run or run plugin of theirs
            -- on that day was updated or deleted (the trigger logs the old row's installation; an insert can
            -- only add bits). Clearing looks at their rows alone instead of every row of the tool's month.
            INSERT INTO rollup_clear_keys
            SELECT DISTINCT d.tool, date_trunc('month', d.day::timestamp)::date, i.id
            FROM rollup_marks d
            JOIN rollup_slices s ON s.tool = d.tool AND s.day = d.day
            JOIN installations i ON i.tool = d.tool AND i.installation_id = d.installation_id
            WHERE d.installation_id IS NOT NULL;
            ANALYZE rollup_clear_keys;
            INSERT INTO refresh_runs
            SELECT {Prefixed("r", RefreshRunColumns)}
            FROM rollup_slices s
            JOIN runs r ON r.tool = s.tool AND r.occurred_at >= s.day::timestamp AT TIME ZONE 'UTC'
                       AND r.occurred_at < (s.day + 1)::timestamp AT TIME ZONE 'UTC';
            {CopyPlugins(refresh)}

            """);
        foreach (var table in Tables)
        {
            var (name, columns) = (table.Table, table.Columns);
            var work = $"refresh_{name["rollup_".Length..]}";
            sql.Append($"""
                INSERT INTO {work} ({columns})
                {table.Select("true", refresh)};
                ANALYZE {work};

                """);
            if (table.MonthKey is null)
            {
                sql.Append(WriteDayDifferences(name, columns, work, "rollup_slices"));
                continue;
            }
            var key = table.MonthKey.Split(", ");
            // month, tool and installation_key are never NULL: equality there lets the planner hash the join.
            var sameKey = string.Join(" AND ", key.Select(c => c is "month" or "tool" or "installation_key"
                ? $"o.{c} = n.{c}" : $"o.{c} IS NOT DISTINCT FROM n.{c}"));
            // The month's mask, looked up by key per conflicting row: joining the stored rows to the new ones
            // instead made the planner hash the whole table (208k rows of rollup_command_months on the 1M
            // store, ~200 ms a pass for a few thousand new rows of today's slice).
            const string mask = "(SELECT m.mask FROM rollup_tool_months m WHERE m.tool = o.tool AND m.month = o.month)";
            var update = string.Join(", ", table.Masks.Select(c => $"{c} = (o.{c} & ~{mask}) | excluded.{c}"));
            var changed = string.Join(" OR ", table.Masks.Select(c => $"o.{c} <> ((o.{c} & ~{mask}) | excluded.{c})"));
            var clear = string.Join(", ", table.Masks.Select(c => $"{c} = o.{c} & ~m.mask"));
            sql.Append($"""
                WITH written AS (
                    INSERT INTO {name} AS o ({columns})
                    SELECT {columns} FROM {work}
                    ON CONFLICT ({table.MonthKey}) DO UPDATE SET {update}
                    WHERE {changed}
                    RETURNING o.tool, o.month
                )
                INSERT INTO rollup_changed SELECT DISTINCT '{name}', month, tool FROM written;
                WITH cleared AS (
                    UPDATE {name} o SET {clear}
                    FROM rollup_clear_keys c JOIN rollup_tool_months m ON m.tool = c.tool AND m.month = c.month
                    WHERE o.month = c.month AND o.tool = c.tool AND o.installation_key = c.installation_key
                      AND (o.days & m.mask) <> 0
                      AND NOT EXISTS (SELECT 1 FROM {work} n WHERE {sameKey})
                    RETURNING o.tool, o.month
                )
                INSERT INTO rollup_changed SELECT DISTINCT '{name}', month, tool FROM cleared;
                -- Only rows the update above just cleared can have no day left: they are logged already.
                DELETE FROM {name} o USING rollup_tool_months m WHERE o.month = m.month AND o.tool = m.tool AND o.days = 0;

                """);
        }
        sql.Append(BumpChangedVersions);
        return sql.ToString();
    }

    /// <summary>
    /// Copies the plugins of the runs copied into <paramref name="copies"/>' runs table, then analyzes both
    /// copies. By the run ids, probing the key: a join hashed the copied runs and read all of run_plugins,
    /// a cost that grows with the store rather than the slices (30 days of dbt on the 10M store: 4.9 s
    /// hashing just after a restart, then 3.5 s probing, which found part of it cached).
    /// </summary>
    private static string CopyPlugins(RollupInput copies) => $"""
        INSERT INTO {copies.Plugins}
        SELECT {Prefixed("rp", RefreshPluginColumns)} FROM run_plugins rp WHERE rp.run_id = ANY (ARRAY(SELECT id FROM {copies.Runs}));
        ANALYZE {copies.Runs};
        ANALYZE {copies.Plugins};
        """;

    private const string ChangedTable = "rollup_changed (table_name text NOT NULL, month date NOT NULL, tool text NOT NULL) ON COMMIT DELETE ROWS";

    /// <summary>
    /// A work table per rollup table (or per day table, with <paramref name="dayTablesOnly"/>), named with
    /// <paramref name="prefix"/>, with the rollup's columns.
    /// </summary>
    private static IEnumerable<string> WorkTables(string prefix, bool dayTablesOnly = false) =>
        Tables.Where(t => !dayTablesOnly || t.MonthKey is null).Select(t =>
            $"{prefix}{t.Table["rollup_".Length..]} ON COMMIT DELETE ROWS AS SELECT {t.Columns} FROM {t.Table} WITH NO DATA");

    /// <summary>
    /// Creates a script's temp tables (<c>name definition</c> each) the first time it runs on a connection.
    /// One <c>CREATE TEMP TABLE IF NOT EXISTS</c> per table cost 3-4 ms even when the table existed (about
    /// 100 ms of every pass for the thirty tables of a pass); one check of the last table replaces them.
    /// </summary>
    public static string CreateOnce(IReadOnlyList<string> tables)
    {
        var last = tables[^1].Split(' ', 2)[0];
        var creates = string.Join("\n", tables.Select(t => $"        CREATE TEMP TABLE IF NOT EXISTS {t};"));
        return $"""
            DO $create$ BEGIN
                IF to_regclass('pg_temp.{last}') IS NULL THEN
            {creates}
                END IF;
            END $create$;
            """;
    }

    /// <summary>How a day table's measures combine when two rows of the same key are added together.</summary>
    private static readonly Dictionary<string, string> s_measures = new()
    {
        ["runs"] = "sum({0})::int", ["succeeded"] = "sum({0})::int", ["failed"] = "sum({0})::int", ["aborted"] = "sum({0})::int",
        ["first_at"] = "min({0})", ["last_at"] = "max({0})",
    };

    /// <summary>
    /// Adds the runs that are new since the last pass to the slices listed in <c>rollup_fold_slices(tool, day)</c>:
    /// slices whose consumed marks (<c>rollup_marks</c>) all come from inserts, so each mark names a run
    /// that no pass has counted yet (the marks and the runs are read in one snapshot, see
    /// <see cref="RollupRefresher"/>). The cost follows the new runs, not the day: live traffic lands in
    /// today's slice, which <see cref="RebuildSlices"/> recomputed whole on every pass (all of today's runs,
    /// growing through the day). Day tables get the new runs' aggregates added to their rows (counts summed,
    /// first and last times kept, histograms merged bucket by bucket) and written as differences; month
    /// tables get the new days' bits OR-ed in. Slices with any update or delete are rebuilt instead.
    /// </summary>
    public static string FoldSlices()
    {
        var fold = new RollupInput("fold_runs", "fold_plugins");
        var sql = new System.Text.StringBuilder($"""
            SET LOCAL default_statistics_target = 10;
            SET LOCAL work_mem = '128MB';
            {CreateOnce([
                ChangedTable,
                $"fold_runs ON COMMIT DELETE ROWS AS SELECT {RefreshRunColumns} FROM runs WITH NO DATA",
                $"fold_plugins ON COMMIT DELETE ROWS AS SELECT {RefreshPluginColumns} FROM run_plugins WITH NO DATA",
                .. WorkTables("fold_", dayTablesOnly: true)])}
            -- The marks' runs, each looked up by key (OFFSET 0 keeps the lookup a per-mark index probe,
            -- whatever the planner guesses about the number of marks). A run is only taken on the
            -- day it is marked for (it is: any later update would have marked the slice for a rebuild, and
            -- marks and runs share one snapshot).
            INSERT INTO fold_runs
            SELECT r.* FROM (
                SELECT DISTINCT m.run_id FROM rollup_marks m JOIN rollup_fold_slices s ON s.tool = m.tool AND s.day = m.day
            ) n
            CROSS JOIN LATERAL (SELECT {Prefixed("r", RefreshRunColumns)} FROM runs r WHERE r.id = n.run_id OFFSET 0) r
            WHERE EXISTS (SELECT 1 FROM rollup_fold_slices s WHERE s.tool = r.tool AND s.day = (r.occurred_at AT TIME ZONE 'UTC')::date);
            {CopyPlugins(fold)}

            """);
        foreach (var table in Tables)
        {
            var (name, columns) = (table.Table, table.Columns);
            var work = $"fold_{name["rollup_".Length..]}";
            var added = $"SELECT * FROM ({table.Select("true", fold)}) a ({columns})";
            if (table.MonthKey is not null)
            {
                // Merged straight from the aggregate, whose GROUP BY makes each key unique (NULLs grouped as
                // the NULLS NOT DISTINCT key compares them), as ON CONFLICT DO UPDATE requires. Written to a
                // work table first, the new runs' month rows cost a temp-table write and scan for nothing:
                // 168-302 ms per large month table of a 5.2 s pass for 50,000 live runs; merged straight, the
                // pass took 3.8-4.4 s (docs/benchmarks.md).
                var update = string.Join(", ", table.Masks.Select(c => $"{c} = o.{c} | excluded.{c}"));
                var changed = string.Join(" OR ", table.Masks.Select(c => $"o.{c} <> (o.{c} | excluded.{c})"));
                sql.Append($"""
                    WITH written AS (
                        INSERT INTO {name} AS o ({columns})
                        {added}
                        ON CONFLICT ({table.MonthKey}) DO UPDATE SET {update}
                        WHERE {changed}
                        RETURNING o.tool, o.month
                    )
                    INSERT INTO rollup_changed SELECT DISTINCT '{name}', month, tool FROM written;

                    """);
                continue;
            }
            // Only the stored rows the new runs add to: a row's key (its columns but the counts) as text, so
            // NULLs compare equal and the semi-join can hash. Reading and rewriting every row of the slice
            // made each pass cost what the day held (17k histogram rows merged for 500 new runs on the 1M
            // store after a warm-up, 801 ms of statements against 399 ms; docs/benchmarks.md), not what arrived.
            var all = columns.Split(", ");
            var keyColumns = string.Join(", ", all.Where(c => !s_measures.ContainsKey(c) && c is not ("buckets" or "counts")));
            string KeyText(string alias) => $"ROW({Prefixed(alias, keyColumns)})::text";
            // The new runs' rows are aggregated once (the CTE "a") and read twice: merged, and to pick the stored rows.
            var touched = $"{KeyText("t")} IN (SELECT {KeyText("a")} FROM a)";
            var stored = $"SELECT {Prefixed("t", columns)} FROM {name} t JOIN rollup_fold_slices s ON t.tool = s.tool AND t.day = s.day WHERE {touched}";
            if (name == "rollup_command_durations")
            {
                // Histograms add bucket by bucket.
                sql.Append($"""
                    WITH a AS MATERIALIZED ({added})
                    INSERT INTO {work} ({columns})
                    SELECT tool, day, command, is_ci, os_name, tool_version, runtime_name, runtime_version, environment,
                           array_agg(bucket ORDER BY bucket), array_agg(n ORDER BY bucket)
                    FROM (
                        SELECT x.tool, x.day, x.command, x.is_ci, x.os_name, x.tool_version, x.runtime_name, x.runtime_version, x.environment,
                               u.bucket, sum(u.n)::int AS n
                        FROM (SELECT * FROM a UNION ALL {stored}) x
                        CROSS JOIN LATERAL unnest(x.buckets, x.counts) AS u (bucket, n)
                        GROUP BY 1, 2, 3, 4, 5, 6, 7, 8, 9, 10
                    ) h
                    GROUP BY 1, 2, 3, 4, 5, 6, 7, 8, 9;

                    """);
            }
            else
            {
                var merged = string.Join(", ", all.Select(c => s_measures.TryGetValue(c, out var f) ? string.Format(System.Globalization.CultureInfo.InvariantCulture, f, c) : c));
                sql.Append($"""
                    WITH a AS MATERIALIZED ({added})
                    INSERT INTO {work} ({columns})
                    SELECT {merged} FROM (SELECT * FROM a UNION ALL {stored}) x
                    GROUP BY {keyColumns};

                    """);
            }
            // The work table holds just the touched keys, so only those stored rows are compared with it.
            sql.Append(WriteDayDifferences(name, columns, work, "rollup_fold_slices", $"{KeyText("t")} IN (SELECT {KeyText("w")} FROM {work} w)"));
        }
        sql.Append(BumpChangedVersions);
        return sql.ToString();
    }

    /// <summary>
    /// New versions for the segments a pass changed, in the pass's transaction: a reader that sees the new
    /// version also sees the new rows. Only segments whose rows changed get one, so every app instance
    /// reloads just those: a pass that only adds runs of installations already active that day leaves the
    /// month tables (the largest segments) as they were. The log is emptied for a second script in the
    /// same transaction.
    /// </summary>
    private const string BumpChangedVersions = """
        INSERT INTO rollup_month_versions (table_name, month, tool, version)
        SELECT c.table_name, c.month, c.tool, nextval('rollup_version_seq')
        FROM (SELECT DISTINCT table_name, month, tool FROM rollup_changed) c
        ON CONFLICT (table_name, month, tool) DO UPDATE SET version = excluded.version;
        DELETE FROM rollup_changed;

        """;

    /// <summary>
    /// Replaces a day table's rows of the days in <paramref name="slices"/> by the rows of <paramref name="work"/>,
    /// writing only the differences. A row is compared whole by its text form (NULL and '' stay distinct
    /// there): a text the planner can hash, where a NULL-safe comparison column by column could only be
    /// checked pair by pair. With <paramref name="only"/> (a condition on the stored row <c>t</c>), just the
    /// slices' rows it accepts are replaced: a fold's work table holds only the keys its new runs touch.
    /// </summary>
    private static string WriteDayDifferences(string name, string columns, string work, string slices, string? only = null) => $"""
        WITH old AS MATERIALIZED (
            SELECT t.ctid AS tid, ROW({Prefixed("t", columns)})::text AS r
            FROM {name} t JOIN {slices} s ON t.tool = s.tool AND t.day = s.day{(only is null ? "" : $" WHERE {only}")}
        ), new AS MATERIALIZED (
            SELECT n.*, ROW({Prefixed("n", columns)})::text AS r FROM {work} n
        ), gone AS (
            DELETE FROM {name} t
            WHERE t.ctid = ANY (ARRAY(SELECT tid FROM old WHERE NOT EXISTS (SELECT 1 FROM new WHERE new.r = old.r)))
            RETURNING t.tool, t.day
        ), added AS (
            INSERT INTO {name} ({columns})
            SELECT {columns} FROM new WHERE NOT EXISTS (SELECT 1 FROM old WHERE old.r = new.r)
            RETURNING tool, day
        )
        INSERT INTO rollup_changed
        SELECT DISTINCT '{name}', date_trunc('month', c.day::timestamp)::date, c.tool
        FROM (SELECT tool, day FROM gone UNION ALL SELECT tool, day FROM added) c;

        """;


    /// <summary>
    /// New versions for every (month, tool) of a table just rebuilt whole (run in its transaction);
    /// segments that no longer have rows lose their version, which tells caches to drop them.
    /// </summary>
    public static string ResetVersions(RollupTable table)
    {
        var month = table.MonthKey is null ? "date_trunc('month', day::timestamp)::date" : "month";
        return $"""
            DELETE FROM rollup_month_versions WHERE table_name = '{table.Table}';
            INSERT INTO rollup_month_versions (table_name, month, tool, version)
            SELECT '{table.Table}', s.month, s.tool, nextval('rollup_version_seq') FROM (SELECT DISTINCT {month} AS month, tool FROM {table.Table}) s;
            """;
    }
}
