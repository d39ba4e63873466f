using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Design;
using UsageDashboard.Store;

namespace UsageDashboard.Migrations;

/// <summary>Lets `dotnet ef` build the context without starting the web app.</summary>
public sealed class DesignTimeFactory : IDesignTimeDbContextFactory<UsageDbContext>
{
    public UsageDbContext CreateDbContext(string[] args)
    {
        // Generating a migration needs no server; the connection string only names the provider.
        var cs = Environment.GetEnvironmentVariable("ConnectionStrings__Events") ?? "Host=localhost;Database=usage";
        var builder = new DbContextOptionsBuilder<UsageDbContext>();
        UsageDbContext.Configure(builder, cs);
        return new UsageDbContext(builder.Options);
    }
}
