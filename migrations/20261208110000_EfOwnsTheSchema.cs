using Microsoft.EntityFrameworkCore.Infrastructure;
using Microsoft.EntityFrameworkCore.Migrations;
using UsageDashboard.Store;

#nullable disable

namespace UsageDashboard.Migrations
{
    /// <summary>
    /// The EF model takes in the tables that SQL migrations created and EF did not know: the rollup tables,
    /// <c>event_keys</c>, <c>identifier_keys</c>, <c>data_protection_keys</c>, <c>installations.id</c>, and the
    /// shape of the partitioned <c>events</c> (its (id, occurred_at) key and its id sequence). Every one of
    /// them exists already with exactly this shape, so the migration changes nothing in the database: it
    /// only moves the snapshot, and from here on a change to these tables is an EF migration generated from
    /// the model. What EF cannot express stays in the SQL migrations that made it: the partitioning of
    /// <c>events</c> and its functions, the triggers that mark <c>rollup_dirty</c>, and the expression index
    /// <c>identifier_keys_one_active</c>. The test SchemaModelTests compares the model with a migrated database.
    /// </summary>
    [DbContext(typeof(UsageDbContext))]
    [Migration("20261208110000_EfOwnsTheSchema")]
    public partial class EfOwnsTheSchema : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            // Nothing to do: the tables, columns, keys and indexes are there (see the summary).
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            // Nothing was changed, so nothing is undone: the earlier SQL migrations' Down methods drop these tables.
        }
    }
}
