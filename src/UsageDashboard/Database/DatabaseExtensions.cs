using Microsoft.EntityFrameworkCore;
using Npgsql;
using UsageDashboard.Operations;
using UsageDashboard.Store;

namespace UsageDashboard.Database;

public static class DatabaseExtensions
{
    /// <summary>The event store: database location, EF context, raw-SQL data source and migrations.</summary>
    public static IServiceCollection AddEventStore(this IServiceCollection services, IConfiguration configuration)
    {
        services.Configure<DatabaseOptions>(configuration.GetSection("Database"));
        services.AddSingleton<EventsDatabaseHolder>();
        services.AddSingleton(sp => sp.GetRequiredService<EventsDatabaseHolder>().Database);
        services.AddSingleton<NpgsqlDataSource>(sp => sp.GetRequiredService<EventsDatabase>().DataSource);
        services.AddDbContext<UsageDbContext>((sp, o) => UsageDbContext.Configure(o, sp.GetRequiredService<EventsDatabase>().ConnectionString));
        services.AddSingleton(TimeProvider.System);
        return services;
    }

    /// <summary>
    /// Opens the database (starting the local cluster if needed) and applies pending migrations, under an
    /// advisory lock: instances started together against one database migrate one after the other, and the
    /// second finds nothing left to apply.
    /// </summary>
    public static async Task<EventsDatabase> PrepareDatabaseAsync(this IServiceProvider services, CancellationToken ct)
    {
        var database = await services.GetRequiredService<EventsDatabaseHolder>().OpenAsync(ct);
        var configuration = services.GetRequiredService<IConfiguration>();
        if (configuration.GetValue("Database:MigrateOnStartup", true))
        {
            var logger = services.GetRequiredService<ILoggerFactory>().CreateLogger(typeof(DatabaseExtensions).FullName!);
            await using var migrationLock = await AdvisoryLock.AcquireAsync(database.ConnectionString, AdvisoryLock.MigrationKey, ct,
                () => logger.LogInformation("Another instance is applying migrations; waiting for it to finish"));
            await using var scope = services.CreateAsyncScope();
            var db = scope.ServiceProvider.GetRequiredService<UsageDbContext>();
            var pending = (await db.Database.GetPendingMigrationsAsync(ct)).ToList();
            if (pending.Count > 0)
            {
                logger.LogInformation("Applying {Count} migrations, up to {Last}", pending.Count, pending[^1]);
                await db.Database.MigrateAsync(ct);
            }
        }
        return database;
    }
}
