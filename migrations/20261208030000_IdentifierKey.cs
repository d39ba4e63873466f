using Microsoft.EntityFrameworkCore.Infrastructure;
using Microsoft.EntityFrameworkCore.Migrations;
using UsageDashboard.Store;

#nullable disable

namespace UsageDashboard.Migrations
{
    /// <summary>
    /// The secret of the keyed hashes of personal identifiers (docs/privacy.md): one active row (the one
    /// without <c>retired_at</c>), older rows are the record of rotations. A generated key keeps its secret
    /// here so every instance and restart hashes alike; a configured one (<c>Privacy:IdentifierKey</c>) is
    /// stored only as a fingerprint. Kept out of the EF model: only <c>IdentifierKeys</c> reads it, in SQL.
    /// </summary>
    [DbContext(typeof(UsageDbContext))]
    [Migration("20261208030000_IdentifierKey")]
    public partial class IdentifierKey : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder) =>
            migrationBuilder.Sql("""
                CREATE TABLE identifier_keys (
                    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
                    fingerprint text NOT NULL,
                    secret bytea,
                    origin text NOT NULL CHECK (origin IN ('generated', 'configured')),
                    activated_at timestamptz NOT NULL DEFAULT now(),
                    retired_at timestamptz,
                    CHECK (origin = 'configured' OR secret IS NOT NULL)
                );
                CREATE UNIQUE INDEX identifier_keys_one_active ON identifier_keys ((true)) WHERE retired_at IS NULL;
                """);

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder) =>
            migrationBuilder.Sql("DROP TABLE identifier_keys;");
    }
}
