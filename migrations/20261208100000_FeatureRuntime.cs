using Microsoft.EntityFrameworkCore.Infrastructure;
using Microsoft.EntityFrameworkCore.Migrations;
using UsageDashboard.Store;

#nullable disable

namespace UsageDashboard.Migrations
{
    /// <summary>
    /// Runtime, runtime version and the tool's build environment become dimensions of the feature rollups too, so
    /// <c>/features</c>, the property API and the project and organisation counts honour those filters as every other
    /// page does. As in RuntimeDimension, the rollups are emptied and one mark is left when there are runs: the
    /// refresher's next pass finds them empty and rebuilds them all from <c>runs</c>; pages read empty rollups until then.
    /// </summary>
    [DbContext(typeof(UsageDbContext))]
    [Migration("20261208100000_FeatureRuntime")]
    public partial class FeatureRuntime : Migration
    {
        private const string AllRollups =
            "rollup_run_days, rollup_installation_months, rollup_command_days, rollup_command_months, rollup_command_durations, " +
            "rollup_plugin_days, rollup_plugin_months, rollup_error_days, rollup_error_months, rollup_plugin_error_days, " +
            "rollup_plugin_error_months, rollup_feature_days, rollup_feature_months, rollup_month_versions, rollup_dirty";

        private const string MonthKey = "month, tool, installation_key, key, value, project, is_ci, os_name, tool_version";

        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder) =>
            migrationBuilder.Sql($"""
                TRUNCATE {AllRollups};
                ALTER TABLE rollup_feature_days ADD COLUMN runtime_name text, ADD COLUMN runtime_version text, ADD COLUMN environment text;
                ALTER TABLE rollup_feature_months ADD COLUMN runtime_name text, ADD COLUMN runtime_version text, ADD COLUMN environment text;
                DROP INDEX ux_rollup_feature_months;
                CREATE UNIQUE INDEX ux_rollup_feature_months ON rollup_feature_months
                    ({MonthKey}, runtime_name, runtime_version, environment) NULLS NOT DISTINCT;
                -- One mark, so the refresher's next pass runs and, finding the rollups empty, rebuilds them all.
                INSERT INTO rollup_dirty (tool, day) SELECT tool, (occurred_at AT TIME ZONE 'UTC')::date FROM runs LIMIT 1;
                """);

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder) =>
            migrationBuilder.Sql($"""
                TRUNCATE {AllRollups};
                DROP INDEX ux_rollup_feature_months;
                CREATE UNIQUE INDEX ux_rollup_feature_months ON rollup_feature_months ({MonthKey}) NULLS NOT DISTINCT;
                ALTER TABLE rollup_feature_days DROP COLUMN runtime_name, DROP COLUMN runtime_version, DROP COLUMN environment;
                ALTER TABLE rollup_feature_months DROP COLUMN runtime_name, DROP COLUMN runtime_version, DROP COLUMN environment;
                INSERT INTO rollup_dirty (tool, day) SELECT tool, (occurred_at AT TIME ZONE 'UTC')::date FROM runs LIMIT 1;
                """);
    }
}
