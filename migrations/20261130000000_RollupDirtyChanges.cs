using Microsoft.EntityFrameworkCore.Infrastructure;
using Microsoft.EntityFrameworkCore.Migrations;
using UsageDashboard.Store;

#nullable disable

namespace UsageDashboard.Migrations
{
    /// <summary>
    /// Marks that say what changed, so a refresh costs what changed rather than what the day holds
    /// (see <c>RollupSql.RebuildSlices</c> and <c>RollupSql.FoldSlices</c>):
    /// <list type="bullet">
    /// <item>An insert of up to 10,000 rows marks each new run by id (<c>run_id</c>). A slice whose marks are
    /// all such gets only those runs added to it, instead of being recomputed from all of the day's runs.
    /// Larger inserts (bulk loads, imports) mark the day only: recomputing it is cheaper then.</item>
    /// <item>An update or delete marks the old row's installation (<c>installation_id</c>). Only these can take
    /// a day away from an installation, so a rebuild clears day bits from those installations' month rows
    /// only, instead of reading every row of the tool's month.</item>
    /// </list>
    /// Marks pending at upgrade carry neither: their slices are rebuilt, and each gets every installation
    /// whose first and last sighting span its day, a superset of those that ran on it.
    /// </summary>
    [DbContext(typeof(UsageDbContext))]
    [Migration("20261130000000_RollupDirtyChanges")]
    public partial class RollupDirtyChanges : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.Sql("""
                ALTER TABLE rollup_dirty ADD COLUMN installation_id text, ADD COLUMN run_id bigint;

                INSERT INTO rollup_dirty (tool, day, installation_id)
                SELECT d.tool, d.day, i.installation_id
                FROM (SELECT DISTINCT tool, day FROM rollup_dirty) d
                JOIN installations i ON i.tool = d.tool
                 AND i.first_seen < (d.day + 1)::timestamp AT TIME ZONE 'UTC'
                 AND i.last_seen >= d.day::timestamp AT TIME ZONE 'UTC';

                CREATE OR REPLACE FUNCTION rollup_mark_dirty() RETURNS trigger LANGUAGE plpgsql AS $fn$
                BEGIN
                    -- Transition tables exist only for the operations that have them: nested IFs, since
                    -- PL/pgSQL does not promise to skip the right side of an AND.
                    IF TG_OP = 'INSERT' THEN
                        IF (SELECT count(*) FROM new_rows) > 10000 THEN
                            INSERT INTO rollup_dirty (tool, day)
                            SELECT DISTINCT tool, (occurred_at AT TIME ZONE 'UTC')::date FROM new_rows;
                        ELSIF TG_TABLE_NAME = 'runs' THEN
                            INSERT INTO rollup_dirty (tool, day, run_id)
                            SELECT tool, (occurred_at AT TIME ZONE 'UTC')::date, id FROM new_rows;
                        ELSE
                            INSERT INTO rollup_dirty (tool, day, run_id)
                            SELECT DISTINCT tool, (occurred_at AT TIME ZONE 'UTC')::date, run_id FROM new_rows;
                        END IF;
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
                ALTER TABLE rollup_dirty DROP COLUMN installation_id, DROP COLUMN run_id;
                """);
        }
    }
}
