using Microsoft.EntityFrameworkCore.Infrastructure;
using Microsoft.EntityFrameworkCore.Migrations;
using UsageDashboard.Store;

#nullable disable

namespace UsageDashboard.Migrations
{
    /// <summary>
    /// A slice refresh of a month table clears the refreshed days' bits, merges the days back in, then
    /// deletes the rows left with no day (<c>days = 0</c>). Without an index that last step read every row
    /// of the tool's month: 388 ms for <c>rollup_command_months</c> on the 10M bench store, on every
    /// refresh with work to do. These partial indexes hold only such rows (none between refreshes), so the
    /// delete reads nothing else (0.06 ms there). Rows are rarely updated in place anyway (the tables are
    /// filled to 100 %), so the index costs the updates next to nothing.
    /// </summary>
    [DbContext(typeof(UsageDbContext))]
    [Migration("20261129180000_RollupClearedIndexes")]
    public partial class RollupClearedIndexes : Migration
    {
        private static readonly string[] s_tables =
        [
            "rollup_installation_months", "rollup_command_months", "rollup_plugin_months", "rollup_error_months", "rollup_plugin_error_months",
        ];

        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            foreach (var table in s_tables)
            {
                migrationBuilder.Sql($"CREATE INDEX \"IX_{table}_cleared\" ON {table} (tool, month) WHERE days = 0;");
            }
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            foreach (var table in s_tables)
            {
                migrationBuilder.Sql($"DROP INDEX \"IX_{table}_cleared\";");
            }
        }
    }
}
