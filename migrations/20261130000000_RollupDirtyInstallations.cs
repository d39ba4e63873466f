using Microsoft.EntityFrameworkCore.Infrastructure;
using Microsoft.EntityFrameworkCore.Migrations;
using UsageDashboard.Store;

#nullable disable

namespace UsageDashboard.Migrations
{
    /// <summary>
    /// A slice refresh clears a refreshed day's bit from the month rows that no longer have runs on that
    /// day. Only an update or delete of a run (or run plugin) can take a day away from an installation, so
    /// the triggers now also log the installation of every old row; the refresh clears those
    /// installations' rows only, instead of reading every row of the tool's month (see
    /// <c>RollupSql.RebuildSlices</c>). Marks pending at upgrade carry no installations: each gets every
    /// installation whose first and last sighting span its day, a superset of those that ran on it.
    /// </summary>
    [DbContext(typeof(UsageDbContext))]
    [Migration("20261130000000_RollupDirtyInstallations")]
    public partial class RollupDirtyInstallations : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.Sql("""
                ALTER TABLE rollup_dirty ADD COLUMN installation_id text;

                INSERT INTO rollup_dirty (tool, day, installation_id)
                SELECT d.tool, d.day, i.installation_id
                FROM (SELECT DISTINCT tool, day FROM rollup_dirty) d
                JOIN installations i ON i.tool = d.tool
                 AND i.first_seen < (d.day + 1)::timestamp AT TIME ZONE 'UTC'
                 AND i.last_seen >= d.day::timestamp AT TIME ZONE 'UTC';

                CREATE OR REPLACE FUNCTION rollup_mark_dirty() RETURNS trigger LANGUAGE plpgsql AS $fn$
                BEGIN
                    IF TG_OP = 'INSERT' THEN
                        INSERT INTO rollup_dirty (tool, day)
                        SELECT DISTINCT tool, (occurred_at AT TIME ZONE 'UTC')::date FROM new_rows;
                    ELSIF TG_OP = 'UPDATE' THEN
                        INSERT INTO rollup_dirty (tool, day, installation_id)
                        SELECT DISTINCT tool, (occurred_at AT TIME ZONE 'UTC')::date, installation_id FROM old_rows;
                        INSERT INTO rollup_dirty (tool, day)
                        SELECT tool, (occurred_at AT TIME ZONE 'UTC')::date FROM new_rows
                        EXCEPT
                        SELECT tool, (occurred_at AT TIME ZONE 'UTC')::date FROM old_rows;
                    ELSE
                        INSERT INTO rollup_dirty (tool, day, installation_id)
                        SELECT DISTINCT tool, (occurred_at AT TIME ZONE 'UTC')::date, installation_id FROM old_rows;
                    END IF;
                    RETURN NULL;
                END
                $fn$;
                """);
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.Sql("""
                CREATE OR REPLACE FUNCTION rollup_mark_dirty() RETURNS trigger LANGUAGE plpgsql AS $fn$
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
                ALTER TABLE rollup_dirty DROP COLUMN installation_id;
                """);
        }
    }
}
