using System;
using System.Text.Json;
using Microsoft.EntityFrameworkCore.Migrations;
using Npgsql.EntityFrameworkCore.PostgreSQL.Metadata;

#nullable disable

namespace UsageDashboard.Migrations
{
    /// <inheritdoc />
    public partial class InitialSchema : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.CreateTable(
                name: "events",
                columns: table => new
                {
                    id = table.Column<long>(type: "bigint", nullable: false)
                        .Annotation("Npgsql:ValueGenerationStrategy", NpgsqlValueGenerationStrategy.IdentityAlwaysColumn),
                    event_id = table.Column<Guid>(type: "uuid", nullable: false),
                    tool = table.Column<string>(type: "text", nullable: false),
                    source = table.Column<string>(type: "text", nullable: false),
                    installation_id = table.Column<string>(type: "text", nullable: false),
                    user_id = table.Column<string>(type: "text", nullable: true),
                    occurred_at = table.Column<DateTime>(type: "timestamp with time zone", nullable: false),
                    received_at = table.Column<DateTime>(type: "timestamp with time zone", nullable: false),
                    clock_adjusted = table.Column<bool>(type: "boolean", nullable: false),
                    event_name = table.Column<string>(type: "text", nullable: false),
                    run_key = table.Column<string>(type: "text", nullable: false),
                    command = table.Column<string>(type: "text", nullable: true),
                    status = table.Column<string>(type: "text", nullable: false, defaultValue: "unknown"),
                    duration_ms = table.Column<long>(type: "bigint", nullable: true),
                    tool_version = table.Column<string>(type: "text", nullable: true),
                    os_name = table.Column<string>(type: "text", nullable: true),
                    os_version = table.Column<string>(type: "text", nullable: true),
                    runtime_name = table.Column<string>(type: "text", nullable: true),
                    runtime_version = table.Column<string>(type: "text", nullable: true),
                    environment = table.Column<string>(type: "text", nullable: true),
                    is_ci = table.Column<bool>(type: "boolean", nullable: false),
                    error_type = table.Column<string>(type: "text", nullable: true),
                    properties = table.Column<JsonDocument>(type: "jsonb", nullable: true),
                    plugins = table.Column<string>(type: "jsonb", nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("PK_events", x => x.id);
                });

            migrationBuilder.CreateTable(
                name: "installations",
                columns: table => new
                {
                    tool = table.Column<string>(type: "text", nullable: false),
                    installation_id = table.Column<string>(type: "text", nullable: false),
                    first_seen = table.Column<DateTime>(type: "timestamp with time zone", nullable: false),
                    last_seen = table.Column<DateTime>(type: "timestamp with time zone", nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("PK_installations", x => new { x.tool, x.installation_id });
                });

            migrationBuilder.CreateTable(
                name: "quarantine",
                columns: table => new
                {
                    id = table.Column<long>(type: "bigint", nullable: false)
                        .Annotation("Npgsql:ValueGenerationStrategy", NpgsqlValueGenerationStrategy.IdentityAlwaysColumn),
                    received_at = table.Column<DateTime>(type: "timestamp with time zone", nullable: false),
                    tool = table.Column<string>(type: "text", nullable: true),
                    source = table.Column<string>(type: "text", nullable: false),
                    endpoint = table.Column<string>(type: "text", nullable: false),
                    reason = table.Column<string>(type: "text", nullable: false),
                    detail = table.Column<string>(type: "text", nullable: true),
                    payload = table.Column<string>(type: "text", nullable: false),
                    payload_truncated = table.Column<bool>(type: "boolean", nullable: false),
                    payload_bytes = table.Column<int>(type: "integer", nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("PK_quarantine", x => x.id);
                });

            migrationBuilder.CreateTable(
                name: "runs",
                columns: table => new
                {
                    id = table.Column<long>(type: "bigint", nullable: false)
                        .Annotation("Npgsql:ValueGenerationStrategy", NpgsqlValueGenerationStrategy.IdentityAlwaysColumn),
                    tool = table.Column<string>(type: "text", nullable: false),
                    run_key = table.Column<string>(type: "text", nullable: false),
                    installation_id = table.Column<string>(type: "text", nullable: false),
                    user_id = table.Column<string>(type: "text", nullable: true),
                    occurred_at = table.Column<DateTime>(type: "timestamp with time zone", nullable: false),
                    started_at = table.Column<DateTime>(type: "timestamp with time zone", nullable: true),
                    ended_at = table.Column<DateTime>(type: "timestamp with time zone", nullable: true),
                    command = table.Column<string>(type: "text", nullable: true),
                    status = table.Column<string>(type: "text", nullable: false, defaultValue: "unknown"),
                    duration_ms = table.Column<long>(type: "bigint", nullable: true),
                    tool_version = table.Column<string>(type: "text", nullable: true),
                    os_name = table.Column<string>(type: "text", nullable: true),
                    os_version = table.Column<string>(type: "text", nullable: true),
                    runtime_name = table.Column<string>(type: "text", nullable: true),
                    runtime_version = table.Column<string>(type: "text", nullable: true),
                    environment = table.Column<string>(type: "text", nullable: true),
                    is_ci = table.Column<bool>(type: "boolean", nullable: false),
                    error_type = table.Column<string>(type: "text", nullable: true),
                    event_count = table.Column<int>(type: "integer", nullable: false),
                    updated_at = table.Column<DateTime>(type: "timestamp with time zone", nullable: false),
                    plugins = table.Column<string>(type: "jsonb", nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("PK_runs", x => x.id);
                });

            migrationBuilder.CreateTable(
                name: "run_plugins",
                columns: table => new
                {
                    run_id = table.Column<long>(type: "bigint", nullable: false),
                    name = table.Column<string>(type: "text", nullable: false),
                    type = table.Column<string>(type: "text", nullable: false),
                    tool = table.Column<string>(type: "text", nullable: false),
                    version = table.Column<string>(type: "text", nullable: false),
                    status = table.Column<string>(type: "text", nullable: false),
                    occurred_at = table.Column<DateTime>(type: "timestamp with time zone", nullable: false),
                    installation_id = table.Column<string>(type: "text", nullable: false),
                    is_ci = table.Column<bool>(type: "boolean", nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("PK_run_plugins", x => new { x.run_id, x.name, x.type });
                    table.ForeignKey(
                        name: "FK_run_plugins_runs_run_id",
                        column: x => x.run_id,
                        principalTable: "runs",
                        principalColumn: "id",
                        onDelete: ReferentialAction.Cascade);
                });

            migrationBuilder.CreateIndex(
                name: "IX_events_occurred_at",
                table: "events",
                column: "occurred_at");

            migrationBuilder.CreateIndex(
                name: "IX_events_tool_event_id",
                table: "events",
                columns: new[] { "tool", "event_id" },
                unique: true);

            migrationBuilder.CreateIndex(
                name: "IX_events_tool_run_key",
                table: "events",
                columns: new[] { "tool", "run_key" });

            migrationBuilder.CreateIndex(
                name: "IX_installations_first_seen",
                table: "installations",
                column: "first_seen");

            migrationBuilder.CreateIndex(
                name: "IX_quarantine_reason",
                table: "quarantine",
                column: "reason");

            migrationBuilder.CreateIndex(
                name: "IX_quarantine_received_at",
                table: "quarantine",
                column: "received_at");

            migrationBuilder.CreateIndex(
                name: "IX_run_plugins_tool_name_occurred_at",
                table: "run_plugins",
                columns: new[] { "tool", "name", "occurred_at" })
                .Annotation("Npgsql:IndexInclude", new[] { "version", "status", "installation_id", "is_ci" });

            migrationBuilder.CreateIndex(
                name: "IX_runs_occurred_at",
                table: "runs",
                column: "occurred_at")
                .Annotation("Npgsql:IndexInclude", new[] { "tool", "installation_id", "status", "command", "is_ci" });

            migrationBuilder.CreateIndex(
                name: "ix_runs_open",
                table: "runs",
                column: "started_at",
                filter: "status = 'running'");

            migrationBuilder.CreateIndex(
                name: "IX_runs_tool_occurred_at",
                table: "runs",
                columns: new[] { "tool", "occurred_at" })
                .Annotation("Npgsql:IndexInclude", new[] { "installation_id", "status", "command", "is_ci" });

            migrationBuilder.CreateIndex(
                name: "IX_runs_tool_run_key",
                table: "runs",
                columns: new[] { "tool", "run_key" },
                unique: true);
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropTable(
                name: "events");

            migrationBuilder.DropTable(
                name: "installations");

            migrationBuilder.DropTable(
                name: "quarantine");

            migrationBuilder.DropTable(
                name: "run_plugins");

            migrationBuilder.DropTable(
                name: "runs");
        }
    }
}
