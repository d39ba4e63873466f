using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace UsageDashboard.Migrations
{
    /// <inheritdoc />
    public partial class RunPluginsWithoutForeignKey : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropForeignKey(
                name: "FK_run_plugins_runs_run_id",
                table: "run_plugins");
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.AddForeignKey(
                name: "FK_run_plugins_runs_run_id",
                table: "run_plugins",
                column: "run_id",
                principalTable: "runs",
                principalColumn: "id",
                onDelete: ReferentialAction.Cascade);
        }
    }
}
