using Microsoft.EntityFrameworkCore.Infrastructure;
using Microsoft.EntityFrameworkCore.Migrations;
using UsageDashboard.Store;

#nullable disable

namespace UsageDashboard.Migrations
{
    /// <summary>
    /// Rollups the dashboards read instead of <c>runs</c> / <c>run_plugins</c>: per installation and UTC
    /// day (distinct installation counts stay exact), per command, and per plugin, plus duration
    /// histograms. They are not EF entities (nothing writes them through EF; the app rebuilds slices
    /// with set-based SQL, see src/UsageDashboard/Rollups). Statement-level triggers on runs and
    /// run_plugins log every (tool, day) a write touched into <c>rollup_dirty</c>, whatever the writer
    /// (collector, import, bulk load, the stale-run sweeper), so no write path can forget to. Also the
    /// data-protection key ring every app instance shares (Access/DataProtectionKeys.cs).
    /// </summary>
    [DbContext(typeof(UsageDbContext))]
    [Migration("20261122064000_Rollups")]
    public partial class Rollups : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.Sql("""
                CREATE TABLE rollup_dirty (
                    seq bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
                    tool text NOT NULL,
                    day date NOT NULL
                );

                CREATE TABLE rollup_installation_days (
                    tool text NOT NULL,
                    day date NOT NULL,
                    installation_id text NOT NULL,
                    is_ci boolean NOT NULL,
                    os_name text,
                    os_version text,
                    runtime_name text,
                    runtime_version text,
                    tool_version text,
                    runs integer NOT NULL,
                    succeeded integer NOT NULL,
                    failed integer NOT NULL,
                    aborted integer NOT NULL
                );
                CREATE INDEX ix_rollup_installation_days_day ON rollup_installation_days (day, tool);
                CREATE INDEX ix_rollup_installation_days_installation ON rollup_installation_days (tool, installation_id, day);

                CREATE TABLE rollup_command_days (
                    tool text NOT NULL,
                    day date NOT NULL,
                    installation_id text NOT NULL,
                    command text NOT NULL,
                    is_ci boolean NOT NULL,
                    os_name text,
                    tool_version text,
                    runs integer NOT NULL,
                    succeeded integer NOT NULL,
                    failed integer NOT NULL,
                    aborted integer NOT NULL
                );
                CREATE INDEX ix_rollup_command_days_day ON rollup_command_days (day, tool);
                CREATE INDEX ix_rollup_command_days_command ON rollup_command_days (command, day);

                -- Sparse log-scale histograms (bucket b holds durations in [2^(b/8) - 1, 2^((b+1)/8) - 1) ms):
                -- percentiles within ~4.5 % without keeping every duration.
                CREATE TABLE rollup_command_durations (
                    tool text NOT NULL,
                    day date NOT NULL,
                    command text NOT NULL,
                    is_ci boolean NOT NULL,
                    os_name text,
                    tool_version text,
                    buckets smallint[] NOT NULL,
                    counts integer[] NOT NULL
                );
                CREATE INDEX ix_rollup_command_durations_day ON rollup_command_durations (day, tool);
                CREATE INDEX ix_rollup_command_durations_command ON rollup_command_durations (command, day);

                CREATE TABLE rollup_plugin_days (
                    tool text NOT NULL,
                    day date NOT NULL,
                    installation_id text NOT NULL,
                    name text NOT NULL,
                    type text NOT NULL,
                    version text NOT NULL,
                    is_ci boolean NOT NULL,
                    os_name text,
                    tool_version text,
                    runs integer NOT NULL,
                    succeeded integer NOT NULL,
                    failed integer NOT NULL,
                    aborted integer NOT NULL
                );
                CREATE INDEX ix_rollup_plugin_days_day ON rollup_plugin_days (day, tool);
                CREATE INDEX ix_rollup_plugin_days_name ON rollup_plugin_days (name, day);

                -- One function for every table and operation: transition tables are only read in the
                -- branches their operation provides.
                CREATE FUNCTION rollup_mark_dirty() RETURNS trigger LANGUAGE plpgsql AS $fn$
                BEGIN
                    IF TG_OP = 'INSERT' THEN
                        INSERT INTO rollup_dirty (tool, day)
                        SELECT DISTINCT tool, (occurred_at AT TIME ZONE 'UTC')::date FROM new_rows;
                    ELSIF TG_OP = 'UPDATE' THEN
                        INSERT INTO rollup_dirty (tool, day)
                        SELECT tool, (occurred_at AT TIME ZONE 'UTC')::date FROM new_rows
                        UNION
                        SELECT tool, (occurred_at AT TIME ZONE 'UTC')::date FROM old_rows;
                    ELSE
                        INSERT INTO rollup_dirty (tool, day)
                        SELECT DISTINCT tool, (occurred_at AT TIME ZONE 'UTC')::date FROM old_rows;
                    END IF;
                    RETURN NULL;
                END
                $fn$;

                CREATE TRIGGER runs_rollup_insert AFTER INSERT ON runs
                    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION rollup_mark_dirty();
                CREATE TRIGGER runs_rollup_update AFTER UPDATE ON runs
                    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION rollup_mark_dirty();
                CREATE TRIGGER runs_rollup_delete AFTER DELETE ON runs
                    REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION rollup_mark_dirty();
                CREATE TRIGGER run_plugins_rollup_insert AFTER INSERT ON run_plugins
                    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION rollup_mark_dirty();
                CREATE TRIGGER run_plugins_rollup_update AFTER UPDATE ON run_plugins
                    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION rollup_mark_dirty();
                CREATE TRIGGER run_plugins_rollup_delete AFTER DELETE ON run_plugins
                    REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION rollup_mark_dirty();

                -- TRUNCATE fires no row or delete triggers: emptying the runs empties the rollups with them.
                CREATE FUNCTION rollup_truncate() RETURNS trigger LANGUAGE plpgsql AS $fn$
                BEGIN
                    TRUNCATE rollup_dirty, rollup_installation_days, rollup_command_days, rollup_command_durations, rollup_plugin_days;
                    RETURN NULL;
                END
                $fn$;
                CREATE TRIGGER runs_rollup_truncate AFTER TRUNCATE ON runs FOR EACH STATEMENT EXECUTE FUNCTION rollup_truncate();

                -- Data-protection keys shared by every app instance (see Access/DataProtectionKeys.cs).
                CREATE TABLE data_protection_keys (
                    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
                    friendly_name text,
                    xml text NOT NULL
                );

                -- A store upgraded with data: every day it has is built by the refresher's first pass.
                INSERT INTO rollup_dirty (tool, day)
                SELECT DISTINCT tool, (occurred_at AT TIME ZONE 'UTC')::date FROM runs;
                """);
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.Sql("""
                DROP TRIGGER runs_rollup_insert ON runs;
                DROP TRIGGER runs_rollup_update ON runs;
                DROP TRIGGER runs_rollup_delete ON runs;
                DROP TRIGGER run_plugins_rollup_insert ON run_plugins;
                DROP TRIGGER run_plugins_rollup_update ON run_plugins;
                DROP TRIGGER run_plugins_rollup_delete ON run_plugins;
                DROP TRIGGER runs_rollup_truncate ON runs;
                DROP FUNCTION rollup_mark_dirty();
                DROP FUNCTION rollup_truncate();
                DROP TABLE data_protection_keys;
                DROP TABLE rollup_plugin_days, rollup_command_durations, rollup_command_days, rollup_installation_days, rollup_dirty;
                """);
        }
    }
}
