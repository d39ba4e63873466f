using Microsoft.EntityFrameworkCore.Infrastructure;
using Microsoft.EntityFrameworkCore.Migrations;
using UsageDashboard.Store;

#nullable disable

namespace UsageDashboard.Migrations
{
    /// <summary>
    /// The tool's own build environment (<c>runs.environment</c>: Jetty's <c>prod</c>/<c>dev</c>/<c>test</c>) becomes a
    /// dimension of the run-day and installation-month rollups, beside the runtime they already hold, so pages filter
    /// by runtime, runtime version and build environment from memory and leave Jetty's dev builds out of active
    /// installations. Both tables are recomputed from <c>runs</c> here (the same aggregates as <c>RollupSql</c>) and
    /// their versions bumped, so every cache reloads them.
    /// </summary>
    [DbContext(typeof(UsageDbContext))]
    [Migration("20261208060000_RuntimeDimension")]
    public partial class RuntimeDimension : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder) =>
            migrationBuilder.Sql("""
                ALTER TABLE rollup_run_days ADD COLUMN environment text;
                ALTER TABLE rollup_installation_months ADD COLUMN environment text;
                DROP INDEX ux_rollup_installation_months;
                TRUNCATE rollup_run_days, rollup_installation_months;
                INSERT INTO rollup_run_days (tool, day, is_ci, os_name, os_version, runtime_name, runtime_version, tool_version, environment,
                                             runs, succeeded, failed, aborted)
                SELECT r.tool, (r.occurred_at AT TIME ZONE 'UTC')::date, r.is_ci, r.os_name, r.os_version, r.runtime_name, r.runtime_version,
                       r.tool_version, r.environment, count(*)::int, count(*) FILTER (WHERE r.status = 'succeeded')::int,
                       count(*) FILTER (WHERE r.status = 'failed')::int, count(*) FILTER (WHERE r.status = 'aborted')::int
                FROM runs r
                GROUP BY r.tool, 2, r.is_ci, r.os_name, r.os_version, r.runtime_name, r.runtime_version, r.tool_version, r.environment;
                INSERT INTO rollup_installation_months (tool, month, installation_key, is_ci, os_name, os_version, runtime_name, runtime_version,
                                                        tool_version, environment, days, ok_days)
                SELECT r.tool, date_trunc('month', r.occurred_at AT TIME ZONE 'UTC')::date, i.id, r.is_ci, r.os_name, r.os_version,
                       r.runtime_name, r.runtime_version, r.tool_version, r.environment,
                       bit_or(1 << (extract(day FROM r.occurred_at AT TIME ZONE 'UTC')::integer - 1)),
                       coalesce(bit_or(1 << (extract(day FROM r.occurred_at AT TIME ZONE 'UTC')::integer - 1)) FILTER (WHERE r.status = 'succeeded'), 0)
                FROM runs r
                JOIN installations i ON i.tool = r.tool AND i.installation_id = r.installation_id
                GROUP BY r.tool, 2, i.id, r.is_ci, r.os_name, r.os_version, r.runtime_name, r.runtime_version, r.tool_version, r.environment;
                CREATE UNIQUE INDEX ux_rollup_installation_months ON rollup_installation_months
                    (month, tool, installation_key, is_ci, os_name, os_version, runtime_name, runtime_version, tool_version, environment) NULLS NOT DISTINCT;
                DELETE FROM rollup_month_versions WHERE table_name IN ('rollup_run_days', 'rollup_installation_months');
                INSERT INTO rollup_month_versions (table_name, month, tool, version)
                SELECT 'rollup_run_days', s.month, s.tool, nextval('rollup_version_seq')
                FROM (SELECT DISTINCT date_trunc('month', day::timestamp)::date AS month, tool FROM rollup_run_days) s;
                INSERT INTO rollup_month_versions (table_name, month, tool, version)
                SELECT 'rollup_installation_months', s.month, s.tool, nextval('rollup_version_seq')
                FROM (SELECT DISTINCT month, tool FROM rollup_installation_months) s;
                """);

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder) =>
            // Rows that differ only by environment would collide on the old key: the next refresh finds the tables
            // empty and rebuilds them (RollupRefresher).
            migrationBuilder.Sql("""
                TRUNCATE rollup_run_days, rollup_installation_months;
                DELETE FROM rollup_month_versions WHERE table_name IN ('rollup_run_days', 'rollup_installation_months');
                DROP INDEX ux_rollup_installation_months;
                ALTER TABLE rollup_run_days DROP COLUMN environment;
                ALTER TABLE rollup_installation_months DROP COLUMN environment;
                CREATE UNIQUE INDEX ux_rollup_installation_months ON rollup_installation_months
                    (month, tool, installation_key, is_ci, os_name, os_version, runtime_name, runtime_version, tool_version) NULLS NOT DISTINCT;
                """);
    }
}
