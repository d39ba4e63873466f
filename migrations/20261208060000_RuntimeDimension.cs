using Microsoft.EntityFrameworkCore.Infrastructure;
using Microsoft.EntityFrameworkCore.Migrations;
using UsageDashboard.Store;

#nullable disable

namespace UsageDashboard.Migrations
{
    /// <summary>
    /// Runtime, runtime version and the tool's own build environment (<c>runs.environment</c>: Jetty's
    /// <c>prod</c>/<c>dev</c>/<c>test</c>) become dimensions of every rollup, so every page filters by them from memory
    /// as by OS (the run-day and installation-month tables held the runtime already). An installation's runtime rarely
    /// changes within a month: on the 1M demo store the month tables grow by under 1 % (docs/benchmarks.md).
    /// The rollups are emptied here, with one mark left when there are runs: the refresher's next pass finds them empty
    /// and rebuilds them all from <c>runs</c> (RollupRefresher.RebuildAllAsync), in seconds on the 1M store; pages read
    /// empty rollups until then.
    /// </summary>
    [DbContext(typeof(UsageDbContext))]
    [Migration("20261208060000_RuntimeDimension")]
    public partial class RuntimeDimension : Migration
    {
        private static readonly string[] s_platformTables =
        [
            "rollup_command_days", "rollup_command_months", "rollup_command_durations", "rollup_plugin_days", "rollup_plugin_months",
            "rollup_error_days", "rollup_error_months", "rollup_plugin_error_days", "rollup_plugin_error_months",
        ];

        /// <summary>The month tables' unique keys (what slice refreshes merge into), without the new columns.</summary>
        private static readonly (string Table, string Key)[] s_monthKeys =
        [
            ("rollup_installation_months", "month, tool, installation_key, is_ci, os_name, os_version, runtime_name, runtime_version, tool_version"),
            ("rollup_command_months", "month, tool, installation_key, command, is_ci, os_name, tool_version"),
            ("rollup_plugin_months", "month, tool, installation_key, name, type, version, is_ci, os_name, tool_version"),
            ("rollup_error_months", "month, tool, installation_key, command, error_type, is_ci, os_name, tool_version"),
            ("rollup_plugin_error_months", "month, tool, installation_key, name, error_type, is_ci, os_name, tool_version"),
        ];

        private const string AllRollups =
            "rollup_run_days, rollup_installation_months, rollup_command_days, rollup_command_months, rollup_command_durations, " +
            "rollup_plugin_days, rollup_plugin_months, rollup_error_days, rollup_error_months, rollup_plugin_error_days, rollup_plugin_error_months";

        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.Sql($"""
                TRUNCATE {AllRollups}, rollup_month_versions, rollup_dirty;
                ALTER TABLE rollup_run_days ADD COLUMN environment text;
                ALTER TABLE rollup_installation_months ADD COLUMN environment text;
                """);
            foreach (var table in s_platformTables)
            {
                migrationBuilder.Sql($"ALTER TABLE {table} ADD COLUMN runtime_name text, ADD COLUMN runtime_version text, ADD COLUMN environment text;");
            }
            foreach (var (table, key) in s_monthKeys)
            {
                var added = table == "rollup_installation_months" ? "environment" : "runtime_name, runtime_version, environment";
                migrationBuilder.Sql($"""
                    DROP INDEX ux_{table};
                    CREATE UNIQUE INDEX ux_{table} ON {table} ({key}, {added}) NULLS NOT DISTINCT;
                    """);
            }
            // One mark, so the refresher's next pass runs and, finding the rollups empty, rebuilds them all.
            migrationBuilder.Sql("INSERT INTO rollup_dirty (tool, day) SELECT tool, (occurred_at AT TIME ZONE 'UTC')::date FROM runs LIMIT 1;");
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.Sql($"TRUNCATE {AllRollups}, rollup_month_versions, rollup_dirty;");
            foreach (var (table, key) in s_monthKeys)
            {
                migrationBuilder.Sql($"""
                    DROP INDEX ux_{table};
                    CREATE UNIQUE INDEX ux_{table} ON {table} ({key}) NULLS NOT DISTINCT;
                    """);
            }
            foreach (var table in s_platformTables)
            {
                migrationBuilder.Sql($"ALTER TABLE {table} DROP COLUMN runtime_name, DROP COLUMN runtime_version, DROP COLUMN environment;");
            }
            migrationBuilder.Sql("""
                ALTER TABLE rollup_run_days DROP COLUMN environment;
                ALTER TABLE rollup_installation_months DROP COLUMN environment;
                INSERT INTO rollup_dirty (tool, day) SELECT tool, (occurred_at AT TIME ZONE 'UTC')::date FROM runs LIMIT 1;
                """);
        }
    }
}
