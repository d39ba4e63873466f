using Microsoft.EntityFrameworkCore.Infrastructure;
using Microsoft.EntityFrameworkCore.Migrations;
using UsageDashboard.Store;

#nullable disable

namespace UsageDashboard.Migrations
{
    /// <summary>
    /// Bounded quarantine. Rejected events used to be stored whole, one row each, and never deleted, so
    /// anyone on the internet could fill the table (an unknown Snowplow app id needs no key). Now every
    /// rejection is counted in <c>quarantine_counts</c> (one row per UTC day, configured tool or none, and
    /// reason) and <c>quarantine</c> keeps only the first few payloads of each of those per day as samples;
    /// the retention pass deletes old samples and counters. Rows already in <c>quarantine</c> are counted
    /// into the counters once and stay, as samples, until their age removes them.
    /// </summary>
    [DbContext(typeof(UsageDbContext))]
    [Migration("20261208010000_QuarantineBounded")]
    public partial class QuarantineBounded : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder) =>
            migrationBuilder.Sql("""
                CREATE TABLE quarantine_counts (
                    day date NOT NULL,
                    tool text NOT NULL,
                    reason text NOT NULL,
                    count bigint NOT NULL,
                    CONSTRAINT "PK_quarantine_counts" PRIMARY KEY (day, tool, reason)
                );
                INSERT INTO quarantine_counts (day, tool, reason, count)
                SELECT (received_at AT TIME ZONE 'UTC')::date, coalesce(tool, ''), reason, count(*)
                FROM quarantine GROUP BY 1, 2, 3;
                """);

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder) =>
            migrationBuilder.Sql("""
                DROP TABLE quarantine_counts;
                """);
    }
}
