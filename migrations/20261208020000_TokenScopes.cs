using Microsoft.EntityFrameworkCore.Infrastructure;
using Microsoft.EntityFrameworkCore.Migrations;
using UsageDashboard.Store;

#nullable disable

namespace UsageDashboard.Migrations
{
    /// <summary>
    /// Personal API tokens get a scope: <c>read</c> (the read APIs only) or <c>admin</c> (pages, forms and admin
    /// endpoints as their owner's role allows). Tokens that exist become <c>read</c>: scripts call the APIs, and
    /// a token that also opened every page and form was more than any of them needed.
    /// </summary>
    [DbContext(typeof(UsageDbContext))]
    [Migration("20261208020000_TokenScopes")]
    public partial class TokenScopes : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder) =>
            migrationBuilder.Sql("""
                ALTER TABLE api_tokens ADD COLUMN scope text NOT NULL DEFAULT 'read'
                    CONSTRAINT api_tokens_scope_known CHECK (scope IN ('read', 'admin'));
                """);

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder) =>
            migrationBuilder.Sql("ALTER TABLE api_tokens DROP COLUMN scope;");
    }
}
