using Npgsql;

namespace UsageDashboard.Database;

public sealed class DatabaseOptions
{
    /// <summary>Apply pending EF migrations when the app or a CLI verb starts.</summary>
    public bool MigrateOnStartup { get; set; } = true;
    /// <summary>Folder of the project-local cluster used when <c>ConnectionStrings:Events</c> is empty.</summary>
    public string LocalFolder { get; set; } = ".data/postgres";
    /// <summary>Database name inside the local cluster.</summary>
    public string LocalDatabase { get; set; } = "usage";
    /// <summary>
    /// Statement timeout of the shared pool, in seconds (Npgsql's default, 30, when unset). The benchmark's
    /// raw baseline (rollups off) needs longer than that for 90-day views over millions of runs.
    /// </summary>
    public int? CommandTimeoutSeconds { get; set; }
}

/// <summary>
/// Where the events live: the configured server, or else a project-local cluster started on first use.
/// Resolved once per process; the data source is the single pool every feature shares.
/// </summary>
public sealed class EventsDatabase : IAsyncDisposable
{
    private readonly LocalPostgres? _local;

    private EventsDatabase(string connectionString, LocalPostgres? local)
    {
        ConnectionString = connectionString;
        _local = local;
        DataSource = new NpgsqlDataSourceBuilder(connectionString).Build();
    }

    public string ConnectionString { get; }

    /// <summary>True when this process started (or reused) the project-local cluster.</summary>
    public bool IsLocal => _local is not null;

    public NpgsqlDataSource DataSource { get; }

    public static async Task<EventsDatabase> OpenAsync(IConfiguration configuration, string contentRoot, CancellationToken ct = default)
    {
        var options = configuration.GetSection("Database").Get<DatabaseOptions>() ?? new DatabaseOptions();
        var configured = configuration.GetConnectionString("Events");
        if (!string.IsNullOrWhiteSpace(configured))
        {
            return new EventsDatabase(WithTimeout(configured, options), null);
        }
        var folder = Path.IsPathRooted(options.LocalFolder) ? options.LocalFolder : Path.Combine(contentRoot, options.LocalFolder);
        var local = await LocalPostgres.StartAsync(folder, ct);
        await CreateDatabaseIfMissingAsync(local.ConnectionString(), options.LocalDatabase, ct);
        return new EventsDatabase(WithTimeout(local.ConnectionString(options.LocalDatabase), options), local);
    }

    private static string WithTimeout(string connectionString, DatabaseOptions options) => options.CommandTimeoutSeconds is { } seconds
        ? new NpgsqlConnectionStringBuilder(connectionString) { CommandTimeout = seconds }.ConnectionString
        : connectionString;

    public static async Task CreateDatabaseIfMissingAsync(string adminConnectionString, string database, CancellationToken ct)
    {
        await using var conn = new NpgsqlConnection(adminConnectionString);
        await conn.OpenAsync(ct);
        await using var exists = new NpgsqlCommand("SELECT 1 FROM pg_database WHERE datname = $1", conn) { Parameters = { new() { Value = database } } };
        if (await exists.ExecuteScalarAsync(ct) is null)
        {
            // Identifiers cannot be parameters; the name is quoted as an identifier, never interpolated raw.
            await using var create = new NpgsqlCommand($"CREATE DATABASE {QuoteIdentifier(database)}", conn);
            await create.ExecuteNonQueryAsync(ct);
        }
    }

    public static string QuoteIdentifier(string name) => "\"" + name.Replace("\"", "\"\"", StringComparison.Ordinal) + "\"";

    public async ValueTask DisposeAsync()
    {
        await DataSource.DisposeAsync();
        if (_local is not null)
        {
            await _local.DisposeAsync();
        }
    }
}

/// <summary>Holds the opened database for DI; opened by <see cref="DatabaseStartup"/> before anything queries.</summary>
public sealed class EventsDatabaseHolder(IConfiguration configuration, IHostEnvironment environment) : IAsyncDisposable
{
    private readonly SemaphoreSlim _gate = new(1, 1);
    private EventsDatabase? _database;

    public EventsDatabase Database => _database ?? OpenAsync(CancellationToken.None).GetAwaiter().GetResult();

    public async Task<EventsDatabase> OpenAsync(CancellationToken ct)
    {
        if (_database is not null)
        {
            return _database;
        }
        await _gate.WaitAsync(ct);
        try
        {
            return _database ??= await EventsDatabase.OpenAsync(configuration, environment.ContentRootPath, ct);
        }
        finally
        {
            _gate.Release();
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (_database is not null)
        {
            await _database.DisposeAsync();
        }
        _gate.Dispose();
    }
}
