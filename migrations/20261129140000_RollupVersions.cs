using Microsoft.EntityFrameworkCore.Infrastructure;
using Microsoft.EntityFrameworkCore.Migrations;
using UsageDashboard.Store;

#nullable disable

namespace UsageDashboard.Migrations
{
    /// <summary>
    /// A version per rollup table, month and tool, bumped in the same transaction as every change to those
    /// rows. The app keeps the rollup rows in memory (<c>RollupCache</c>) and reloads exactly the
    /// (table, month, tool) segments whose version moved, so distinct-installation counts no longer hash
    /// every month row in PostgreSQL on each request, and sums no longer scan the day tables. The versions come from one sequence, so a
    /// segment that is emptied and rebuilt never comes back with a version a reader has already seen.
    /// </summary>
    [DbContext(typeof(UsageDbContext))]
    [Migration("20261129140000_RollupVersions")]
    public partial class RollupVersions : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.Sql("""
                CREATE SEQUENCE rollup_version_seq;
                CREATE TABLE rollup_month_versions (
                    table_name text NOT NULL,
                    month date NOT NULL,
                    tool text NOT NULL,
                    version bigint NOT NULL,
                    PRIMARY KEY (table_name, month, tool)
                );
                INSERT INTO rollup_month_versions
                SELECT 'rollup_installation_months', month, tool, nextval('rollup_version_seq') FROM (SELECT DISTINCT month, tool FROM rollup_installation_months) s;
                INSERT INTO rollup_month_versions
                SELECT 'rollup_command_months', month, tool, nextval('rollup_version_seq') FROM (SELECT DISTINCT month, tool FROM rollup_command_months) s;
                INSERT INTO rollup_month_versions
                SELECT 'rollup_plugin_months', month, tool, nextval('rollup_version_seq') FROM (SELECT DISTINCT month, tool FROM rollup_plugin_months) s;
                INSERT INTO rollup_month_versions
                SELECT 'rollup_run_days', month, tool, nextval('rollup_version_seq') FROM (SELECT DISTINCT date_trunc('month', day::timestamp)::date AS month, tool FROM rollup_run_days) s;
                INSERT INTO rollup_month_versions
                SELECT 'rollup_command_days', month, tool, nextval('rollup_version_seq') FROM (SELECT DISTINCT date_trunc('month', day::timestamp)::date AS month, tool FROM rollup_command_days) s;
                INSERT INTO rollup_month_versions
                SELECT 'rollup_plugin_days', month, tool, nextval('rollup_version_seq') FROM (SELECT DISTINCT date_trunc('month', day::timestamp)::date AS month, tool FROM rollup_plugin_days) s;
                INSERT INTO rollup_month_versions
                SELECT 'rollup_command_durations', month, tool, nextval('rollup_version_seq') FROM (SELECT DISTINCT date_trunc('month', day::timestamp)::date AS month, tool FROM rollup_command_durations) s;

                CREATE OR REPLACE FUNCTION rollup_truncate() RETURNS trigger LANGUAGE plpgsql AS $fn$
                BEGIN
                    TRUNCATE rollup_dirty, rollup_run_days, rollup_installation_months, rollup_command_days,
                        rollup_command_months, rollup_command_durations, rollup_plugin_days, rollup_plugin_months,
                        rollup_month_versions;
                    RETURN NULL;
                END
                $fn$;
                """);
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.Sql("""
                CREATE OR REPLACE FUNCTION rollup_truncate() RETURNS trigger LANGUAGE plpgsql AS $fn$
                BEGIN
                    TRUNCATE rollup_dirty, rollup_run_days, rollup_installation_months, rollup_command_days,
                        rollup_command_months, rollup_command_durations, rollup_plugin_days, rollup_plugin_months;
                    RETURN NULL;
                END
                $fn$;
                DROP TABLE rollup_month_versions;
                DROP SEQUENCE rollup_version_seq;
                """);
        }
    }
}
