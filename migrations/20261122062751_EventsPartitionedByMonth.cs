using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace UsageDashboard.Migrations
{
    /// <summary>
    /// Partitions the raw <c>events</c> table by month (RANGE on occurred_at) so retention can drop whole
    /// months, and moves idempotency into the narrow <c>event_keys</c> table: a unique index on a
    /// partitioned table must include the partition key, and a re-sent event may carry another occurred_at
    /// (clock-adjusted events get the receipt time), so (tool, event_id) has to be unique outside events.
    /// EF does not model partitions; this is raw SQL, and it converts a populated table in place.
    /// </summary>
    public partial class EventsPartitionedByMonth : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.Sql("""
                CREATE TABLE event_keys (
                    tool text NOT NULL,
                    event_id uuid NOT NULL,
                    CONSTRAINT "PK_event_keys" PRIMARY KEY (tool, event_id));

                -- Creates the monthly partition holding month_start (UTC months), moving that month's rows
                -- out of the DEFAULT partition first (ATTACH refuses while the default holds rows of the
                -- range). Returns the new partition's name, or null when it already exists. The EXCLUSIVE
                -- lock on the default partition holds concurrent inserts into it back for the move; readers
                -- and inserts into other partitions carry on.
                CREATE FUNCTION events_ensure_partition(month_start timestamptz) RETURNS text
                LANGUAGE plpgsql AS $fn$
                DECLARE
                    lo timestamp := date_trunc('month', month_start AT TIME ZONE 'UTC');
                    hi timestamp := date_trunc('month', month_start AT TIME ZONE 'UTC') + interval '1 month';
                    part text := 'events_y' || to_char(lo, 'YYYY') || 'm' || to_char(lo, 'MM');
                BEGIN
                    IF to_regclass(quote_ident(part)) IS NOT NULL THEN
                        RETURN NULL;
                    END IF;
                    LOCK TABLE events_default IN EXCLUSIVE MODE;
                    EXECUTE format('CREATE TABLE %I (LIKE events INCLUDING DEFAULTS)', part);
                    EXECUTE format(
                        'WITH moved AS (DELETE FROM events_default WHERE occurred_at >= %L AND occurred_at < %L RETURNING *) INSERT INTO %I SELECT * FROM moved',
                        lo AT TIME ZONE 'UTC', hi AT TIME ZONE 'UTC', part);
                    EXECUTE format('ALTER TABLE events ATTACH PARTITION %I FOR VALUES FROM (%L) TO (%L)',
                        part, lo AT TIME ZONE 'UTC', hi AT TIME ZONE 'UTC');
                    RETURN part;
                END
                $fn$;

                LOCK TABLE events IN ACCESS EXCLUSIVE MODE;
                ALTER TABLE events RENAME TO events_unpartitioned;
                ALTER TABLE events_unpartitioned RENAME CONSTRAINT "PK_events" TO "PK_events_unpartitioned";
                DROP INDEX "IX_events_occurred_at", "IX_events_tool_event_id", "IX_events_tool_run_key";
                -- An identity column cannot live on a partitioned table before PostgreSQL 17: a plain sequence
                -- continues the ids (only tie-breaks between simultaneous events read them).
                CREATE SEQUENCE events_id_sequence AS bigint;
                SELECT setval('events_id_sequence', coalesce((SELECT max(id) FROM events_unpartitioned), 0) + 1, false);
                ALTER TABLE events_unpartitioned ALTER COLUMN id DROP IDENTITY;

                CREATE TABLE events (LIKE events_unpartitioned INCLUDING DEFAULTS) PARTITION BY RANGE (occurred_at);
                ALTER TABLE events ALTER COLUMN id SET DEFAULT nextval('events_id_sequence');
                ALTER SEQUENCE events_id_sequence OWNED BY events.id;
                CREATE TABLE events_default PARTITION OF events DEFAULT;

                -- One partition per month that has data, plus this month and the next two; later months
                -- come from EventPartitionMaintenance, and anything else lands in the default partition.
                SELECT events_ensure_partition(m)
                FROM (
                    SELECT DISTINCT date_trunc('month', occurred_at AT TIME ZONE 'UTC') AT TIME ZONE 'UTC' AS m FROM events_unpartitioned
                    UNION
                    SELECT (date_trunc('month', now() AT TIME ZONE 'UTC') + make_interval(months => k)) AT TIME ZONE 'UTC'
                    FROM generate_series(0, 2) k
                ) months
                ORDER BY m;

                INSERT INTO events SELECT * FROM events_unpartitioned;
                INSERT INTO event_keys (tool, event_id) SELECT tool, event_id FROM events_unpartitioned ORDER BY tool, event_id;
                DROP TABLE events_unpartitioned;

                -- Built after the move, once per partition, instead of maintained row by row.
                ALTER TABLE events ADD CONSTRAINT "PK_events" PRIMARY KEY (id, occurred_at);
                CREATE INDEX "IX_events_tool_run_key" ON events (tool, run_key);
                """);
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.Sql("""
                LOCK TABLE events IN ACCESS EXCLUSIVE MODE;
                ALTER TABLE events RENAME TO events_partitioned;
                ALTER TABLE events_partitioned RENAME CONSTRAINT "PK_events" TO "PK_events_partitioned";
                DROP INDEX "IX_events_tool_run_key";
                CREATE TABLE events (LIKE events_partitioned);
                ALTER TABLE events ALTER COLUMN status SET DEFAULT 'unknown';
                ALTER TABLE events ALTER COLUMN id ADD GENERATED ALWAYS AS IDENTITY;
                INSERT INTO events OVERRIDING SYSTEM VALUE SELECT * FROM events_partitioned;
                SELECT setval(pg_get_serial_sequence('events', 'id'), coalesce((SELECT max(id) FROM events), 0) + 1, false);
                DROP TABLE events_partitioned;
                DROP FUNCTION events_ensure_partition(timestamptz);
                DROP TABLE event_keys;
                ALTER TABLE events ADD CONSTRAINT "PK_events" PRIMARY KEY (id);
                CREATE INDEX "IX_events_occurred_at" ON events (occurred_at);
                CREATE UNIQUE INDEX "IX_events_tool_event_id" ON events (tool, event_id);
                CREATE INDEX "IX_events_tool_run_key" ON events (tool, run_key);
                """);
        }
    }
}
