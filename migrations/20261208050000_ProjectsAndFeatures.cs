using Microsoft.EntityFrameworkCore.Infrastructure;
using Microsoft.EntityFrameworkCore.Migrations;
using UsageDashboard.Store;

#nullable disable

namespace UsageDashboard.Migrations
{
    /// <summary>
    /// Projects, organisations and feature values (issue 30): two rollups beside the command and plugin
    /// ones, maintained by the same refresher from the runs and their events' <c>properties</c>.
    /// <c>rollup_feature_days</c> holds runs and outcomes per (tool, day, key, value, environment);
    /// <c>rollup_feature_months</c> which installations and projects had each value on which days, so
    /// distinct installations and projects per value stay exact over any range. A project or organisation
    /// is a value of the keys <c>project</c> and <c>organisation</c>, so the same tables count them.
    /// The two SQL functions are the one definition of what a run's events contribute (docs/ingestion.md).
    /// Existing stores get rebuild marks for every day with runs, so the next refresh passes fill the tables.
    /// Kept out of the EF model, like the other rollups.
    /// </summary>
    [DbContext(typeof(UsageDbContext))]
    [Migration("20261208050000_ProjectsAndFeatures")]
    public partial class ProjectsAndFeatures : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder) =>
            migrationBuilder.Sql("""
                -- The elements of a JSON array that are strings (anything else is not an array: none).
                CREATE FUNCTION feature_strings(a jsonb) RETURNS SETOF text
                LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $fn$
                    SELECT left(x #>> '{}', 200) FROM jsonb_array_elements(CASE WHEN jsonb_typeof(a) = 'array' THEN a ELSE '[]' END) x
                    WHERE jsonb_typeof(x) = 'string' AND x #>> '{}' <> ''
                $fn$;

                -- The project a run's event names: dbt's project_id (MD5 of the project name, kept as sent,
                -- docs/privacy.md) from the invocation context or the project_id event's context, Meltano's
                -- project_uuid unless its source is 'random' (a new UUID per invocation when the project has
                -- none: counting it would count runs), Jetty's top-level project_id.
                CREATE FUNCTION feature_project(tool text, p jsonb) RETURNS text
                LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $fn$
                    SELECT left(coalesce(
                        p->>'projectId',
                        p->'project_id'->>'project_id',
                        CASE WHEN p->>'projectUuidSource' IS DISTINCT FROM 'random' THEN p->>'projectUuid' END,
                        CASE WHEN tool = 'jetty' AND jsonb_typeof(p->'project_id') = 'string' THEN p->>'project_id' END), 200)
                $fn$;

                -- The (key, value) pairs one event contributes to its run's features. Keys are distinct across
                -- the tools' wire shapes, so no tool test is needed but for Jetty's project_id.
                CREATE FUNCTION feature_values(tool text, p jsonb) RETURNS TABLE (key text, value text)
                LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $fn$
                    SELECT k, left(v, 200) FROM (
                        -- dbt: run_model, resource_counts, package_install, deprecation_warn contexts; adapter_info's org id
                        SELECT 'materialization', p->'run_model'->>'model_materialization'
                        UNION ALL SELECT 'model_status', p->>'modelStatus'
                        UNION ALL SELECT 'project_size',
                            CASE WHEN p->'resource_counts'->>'models' ~ '^[0-9]{1,9}$' THEN
                                CASE WHEN (p->'resource_counts'->>'models')::int = 0 THEN '0 models'
                                     WHEN (p->'resource_counts'->>'models')::int <= 10 THEN '1-10 models'
                                     WHEN (p->'resource_counts'->>'models')::int <= 50 THEN '11-50 models'
                                     WHEN (p->'resource_counts'->>'models')::int <= 200 THEN '51-200 models'
                                     WHEN (p->'resource_counts'->>'models')::int <= 1000 THEN '201-1000 models'
                                     ELSE 'over 1000 models' END END
                        -- Hub packages are sent in clear; others are MD5 hashes of private names: shown by source only.
                        UNION ALL SELECT 'package',
                            CASE WHEN p->'package_install'->>'source' = 'hub' THEN p->'package_install'->>'name'
                                 WHEN p->'package_install' IS NOT NULL THEN '(' || coalesce(p->'package_install'->>'source', 'unknown') || ', hashed)' END
                        UNION ALL SELECT 'package_version',
                            CASE WHEN p->'package_install'->>'source' = 'hub' THEN (p->'package_install'->>'name') || ' ' || coalesce(p->'package_install'->>'version', '?') END
                        UNION ALL SELECT 'deprecation', p->'deprecation_warn'->>'deprecation_name'
                        UNION ALL SELECT 'organisation', p->>'adapterUniqueId'
                        -- Evidently 0.1 usage.parts; 0.4+ extra of get_snapshot_data
                        UNION ALL SELECT 'report_part', s FROM feature_strings(p->'parts') s
                        UNION ALL SELECT 'metric', s FROM feature_strings(p->'metrics') s
                        UNION ALL SELECT 'metric_preset', s FROM feature_strings(p->'metric_presets') s
                        UNION ALL SELECT 'test', s FROM feature_strings(p->'tests') s
                        UNION ALL SELECT 'test_preset', s FROM feature_strings(p->'test_presets') s
                        UNION ALL SELECT 'snapshot_type', p->>'snapshot_type'
                        -- Meltano: the environment, by the hash Meltano sends
                        UNION ALL SELECT 'environment', p->>'environmentNameHash'
                        -- Projects, and the runs whose project id is excluded from them
                        UNION ALL SELECT 'project', feature_project(tool, p)
                        UNION ALL SELECT 'project_excluded', CASE WHEN p->>'projectUuidSource' = 'random' THEN 'random' END
                    ) f (k, v)
                    WHERE v IS NOT NULL AND v <> ''
                $fn$;

                CREATE TABLE rollup_feature_days (
                    tool text NOT NULL,
                    day date NOT NULL,
                    key text NOT NULL,
                    value text NOT NULL,
                    is_ci boolean NOT NULL,
                    os_name text,
                    tool_version text,
                    runs integer NOT NULL,
                    succeeded integer NOT NULL,
                    failed integer NOT NULL,
                    aborted integer NOT NULL
                );
                CREATE INDEX ix_rollup_feature_days ON rollup_feature_days (tool, key, day);
                CREATE INDEX ix_rollup_feature_days_day ON rollup_feature_days (tool, day);

                CREATE TABLE rollup_feature_months (
                    tool text NOT NULL,
                    month date NOT NULL,
                    installation_key integer NOT NULL,
                    key text NOT NULL,
                    value text NOT NULL,
                    project text,
                    is_ci boolean NOT NULL,
                    os_name text,
                    tool_version text,
                    days integer NOT NULL
                );
                CREATE UNIQUE INDEX ux_rollup_feature_months ON rollup_feature_months
                    (month, tool, installation_key, key, value, project, is_ci, os_name, tool_version) NULLS NOT DISTINCT;
                CREATE INDEX ix_rollup_feature_months_key ON rollup_feature_months (tool, key, month);
                CREATE INDEX "IX_rollup_feature_months_cleared" ON rollup_feature_months (tool, month) WHERE days = 0;

                CREATE OR REPLACE FUNCTION rollup_truncate() RETURNS trigger LANGUAGE plpgsql AS $fn$
                BEGIN
                    TRUNCATE rollup_dirty, rollup_run_days, rollup_installation_months, rollup_command_days,
                        rollup_command_months, rollup_command_durations, rollup_plugin_days, rollup_plugin_months,
                        rollup_error_days, rollup_error_months, rollup_plugin_error_days, rollup_plugin_error_months,
                        rollup_feature_days, rollup_feature_months, rollup_month_versions;
                    RETURN NULL;
                END
                $fn$;

                INSERT INTO rollup_dirty (tool, day)
                SELECT DISTINCT tool, (occurred_at AT TIME ZONE 'UTC')::date FROM runs;
                """);

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder) =>
            migrationBuilder.Sql("""
                CREATE OR REPLACE FUNCTION rollup_truncate() RETURNS trigger LANGUAGE plpgsql AS $fn$
                BEGIN
                    TRUNCATE rollup_dirty, rollup_run_days, rollup_installation_months, rollup_command_days,
                        rollup_command_months, rollup_command_durations, rollup_plugin_days, rollup_plugin_months,
                        rollup_error_days, rollup_error_months, rollup_plugin_error_days, rollup_plugin_error_months,
                        rollup_month_versions;
                    RETURN NULL;
                END
                $fn$;
                DROP TABLE rollup_feature_months, rollup_feature_days;
                DELETE FROM rollup_month_versions WHERE table_name IN ('rollup_feature_days', 'rollup_feature_months');
                DROP FUNCTION feature_values(text, jsonb);
                DROP FUNCTION feature_project(text, jsonb);
                DROP FUNCTION feature_strings(jsonb);
                """);
    }
}
