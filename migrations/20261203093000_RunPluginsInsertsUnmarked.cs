using Microsoft.EntityFrameworkCore.Infrastructure;
using Microsoft.EntityFrameworkCore.Migrations;
using UsageDashboard.Store;

#nullable disable

namespace UsageDashboard.Migrations
{
    /// <summary>
    /// Inserts into <c>run_plugins</c> no longer mark rollups dirty. Every such insert comes with a mark of its
    /// run in the same transaction: a new run's insert marks the run (its plugins are inserted with it, and the
    /// refresher's fold reads a marked run's plugins by its id), and the plugins a re-derived run gets follow
    /// the run's update, which marks its day for a rebuild. So the plugin mark, one more <c>rollup_dirty</c> row
    /// per run and one more trigger call per write, only ever repeated the run's (and doubled the marks each
    /// refresher pass reads). Updates and deletes of plugin rows still mark, as before.
    /// </summary>
    [DbContext(typeof(UsageDbContext))]
    [Migration("20261203093000_RunPluginsInsertsUnmarked")]
    public partial class RunPluginsInsertsUnmarked : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder) =>
            migrationBuilder.Sql("DROP TRIGGER run_plugins_rollup_insert ON run_plugins;");

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder) =>
            migrationBuilder.Sql("""
                CREATE TRIGGER run_plugins_rollup_insert AFTER INSERT ON run_plugins
                    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION rollup_mark_dirty();
                """);
    }
}
