using Microsoft.EntityFrameworkCore;
using Npgsql;
using UsageDashboard.Database;
using UsageDashboard.Store;

namespace UsageDashboard.Tests.Infrastructure;

/// <summary>
/// One throwaway PostgreSQL cluster for the whole test run (initdb into a temp folder, unix socket
/// only), migrated once into a template database; every test class gets its own database cloned from
/// the template, so no test sees another's data. The tuned cluster has the project-local settings
/// (<see cref="LocalPostgres"/>); the stock one, started only when a test asks for it, has PostgreSQL's
/// defaults (jit on among them), as users' servers do.
/// </summary>
public static class TestCluster
{
    private const string Template = "usage_template";
    private static readonly SemaphoreSlim s_gate = new(1, 1);
    private static LocalPostgres? s_cluster;
    private static LocalPostgres? s_stock;
    private static int s_counter;
    private const string FolderPrefix = "ud-test-";
    private const string StockFolderPrefix = "ud-test-stock-";

    public static Task<LocalPostgres> GetAsync() => GetAsync(stock: false);

    /// <summary>The cluster with PostgreSQL's default settings.</summary>
    public static Task<LocalPostgres> Stock => GetAsync(stock: true);

    public static async Task<LocalPostgres> GetAsync(bool stock)
    {
        if ((stock ? s_stock : s_cluster) is { } started)
        {
            return started;
        }
        await s_gate.WaitAsync();
        try
        {
            if ((stock ? s_stock : s_cluster) is null)
            {
                if (s_cluster is null && s_stock is null)
                {
                    SweepAbandonedClusters();
                }
                var folder = Path.Combine(Path.GetTempPath(), (stock ? StockFolderPrefix : FolderPrefix) + Environment.ProcessId.ToString(System.Globalization.CultureInfo.InvariantCulture));
                if (Directory.Exists(folder))
                {
                    Directory.Delete(folder, recursive: true);
                }
                var cluster = await LocalPostgres.StartAsync(folder, stockSettings: stock);
                await EventsDatabase.CreateDatabaseIfMissingAsync(cluster.ConnectionString(), Template, CancellationToken.None);
                var options = new DbContextOptionsBuilder<UsageDbContext>();
                UsageDbContext.Configure(options, cluster.ConnectionString(Template));
                await using (var db = new UsageDbContext(options.Options))
                {
                    await db.Database.MigrateAsync();
                }
                NpgsqlConnection.ClearAllPools();
                AppDomain.CurrentDomain.ProcessExit += (_, _) =>
                {
                    cluster.DisposeAsync().AsTask().GetAwaiter().GetResult();
                    try
                    {
                        Directory.Delete(folder, recursive: true);
                    }
                    catch (IOException)
                    {
                        // A leftover temp folder is harmless; the next run of this pid starts clean.
                    }
                };
                if (stock)
                {
                    s_stock = cluster;
                }
                else
                {
                    s_cluster = cluster;
                }
            }
            return (stock ? s_stock : s_cluster)!;
        }
        finally
        {
            s_gate.Release();
        }
    }

    /// <summary>
    /// Deletes the clusters of earlier test runs whose process is gone. The test host is often ended
    /// by the runner before <see cref="AppDomain.ProcessExit"/> handlers finish, so their folders
    /// (about 1 GB each) stayed behind and filled the disk of a developer machine over a day.
    /// </summary>
    private static void SweepAbandonedClusters()
    {
        foreach (var folder in Directory.EnumerateDirectories(Path.GetTempPath(), FolderPrefix + "*"))
        {
            var name = Path.GetFileName(folder);
            var prefix = name.StartsWith(StockFolderPrefix, StringComparison.Ordinal) ? StockFolderPrefix : FolderPrefix;
            if (!int.TryParse(name.AsSpan(prefix.Length), System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var pid)
                || pid == Environment.ProcessId || IsRunning(pid) || IsRunning(PostmasterPid(folder)))
            {
                continue;
            }
            try
            {
                Directory.Delete(folder, recursive: true);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                // Another test run may be sweeping the same folder; whatever is left goes next time.
            }
        }
    }

    private static int PostmasterPid(string folder)
    {
        // The first line of postmaster.pid is the server's pid while it runs.
        var file = Path.Combine(folder, "data", "postmaster.pid");
        try
        {
            var first = File.Exists(file) ? File.ReadLines(file).FirstOrDefault() : null;
            return int.TryParse(first, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var pid) ? pid : 0;
        }
        catch (IOException)
        {
            return 0;
        }
    }

    private static bool IsRunning(int pid)
    {
        if (pid <= 0)
        {
            return false;
        }
        try
        {
            using var process = System.Diagnostics.Process.GetProcessById(pid);
            return !process.HasExited;
        }
        catch (ArgumentException)
        {
            return false;
        }
    }

    /// <summary>A fresh database cloned from the migrated template (of the stock cluster with <paramref name="stock"/>).</summary>
    public static async Task<string> CreateDatabaseAsync(string prefix, bool stock = false)
    {
        var cluster = await GetAsync(stock);
        var name = $"{prefix.ToLowerInvariant()}_{Interlocked.Increment(ref s_counter).ToString(System.Globalization.CultureInfo.InvariantCulture)}";
        await using var conn = new NpgsqlConnection(cluster.ConnectionString());
        await conn.OpenAsync();
        // CREATE DATABASE ... TEMPLATE needs the template to have no other connections.
        await using var cmd = new NpgsqlCommand($"CREATE DATABASE {EventsDatabase.QuoteIdentifier(name)} TEMPLATE {Template}", conn);
        await cmd.ExecuteNonQueryAsync();
        return cluster.ConnectionString(name);
    }
}

/// <summary>Per-class fixture: a database of the class's own, plus the app's store services wired to it.</summary>
public class DatabaseFixture : IAsyncLifetime
{
    public string ConnectionString { get; private set; } = "";
    public NpgsqlDataSource DataSource { get; private set; } = null!;

    /// <summary>True for a fixture on the cluster with PostgreSQL's default settings (<see cref="TestCluster.Stock"/>).</summary>
    protected virtual bool StockSettings => false;

    public virtual async Task InitializeAsync()
    {
        ConnectionString = await TestCluster.CreateDatabaseAsync(GetType().Name, StockSettings);
        DataSource = NpgsqlDataSource.Create(ConnectionString);
    }

    public virtual async Task DisposeAsync() => await DataSource.DisposeAsync();

    public UsageDbContext CreateDbContext()
    {
        var options = new DbContextOptionsBuilder<UsageDbContext>();
        UsageDbContext.Configure(options, ConnectionString);
        return new UsageDbContext(options.Options);
    }

    /// <summary>Removes every row, for tests in one class that each need an empty store.</summary>
    public async Task ResetAsync()
    {
        // Truncating runs empties the rollups too (a trigger). The TRUNCATE takes its tables one by one while
        // a test's running app may be reading them (rollup refresher, cache sync): when such a reader holds one
        // and asks for another the TRUNCATE holds, PostgreSQL ends the cycle by failing one side (40P01, seen in
        // a clean-clone CI run). The TRUNCATE is all or nothing, so it is simply tried again.
        for (var attempt = 1; ; attempt++)
        {
            try
            {
                await using var cmd = DataSource.CreateCommand("TRUNCATE events, event_keys, runs, run_plugins, installations, quarantine, quarantine_counts RESTART IDENTITY CASCADE");
                await cmd.ExecuteNonQueryAsync();
                return;
            }
            catch (PostgresException e) when (e.SqlState == PostgresErrorCodes.DeadlockDetected && attempt < 5)
            {
            }
        }
    }
}
