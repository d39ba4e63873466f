using System.Diagnostics;
using System.Globalization;
using Npgsql;

namespace UsageDashboard.Database;

/// <summary>
/// A PostgreSQL cluster owned by this process tree, in a folder of its own: the run command's
/// project-local database (when <c>ConnectionStrings:Events</c> is not set) and the tests' throwaway
/// cluster. It listens only on a unix socket inside its folder, so it never collides with another
/// server's TCP port.
/// </summary>
public sealed class LocalPostgres : IAsyncDisposable
{
    private readonly string _dataDir;
    private readonly string _socketDir;
    private readonly string _binDir;
    private readonly bool _runAsPostgresUser;
    private bool _startedByUs;

    private readonly bool _stockSettings;

    private LocalPostgres(string folder, string binDir, bool stockSettings)
    {
        _stockSettings = stockSettings;
        Folder = Path.GetFullPath(folder);
        _dataDir = Path.Combine(Folder, "data");
        _socketDir = Path.Combine(Folder, "socket");
        _binDir = binDir;
        // initdb refuses to run as root; the Debian packages create a 'postgres' user for this.
        _runAsPostgresUser = OperatingSystem.IsLinux() && Environment.UserName == "root";
    }

    public string Folder { get; }

    /// <summary>Connection string for <paramref name="database"/> over the cluster's socket.</summary>
    public string ConnectionString(string database = "postgres") => new NpgsqlConnectionStringBuilder
    {
        Host = _socketDir,
        Port = 5432,
        Username = "postgres",
        Database = database,
        // Pooling stays on; the pool is per connection string.
        MaxPoolSize = 50,
    }.ConnectionString;

    /// <summary>
    /// Creates the cluster on first use and starts it when it is not already running. Throws
    /// <see cref="LocalPostgresException"/> with what to install when the server binaries are missing.
    /// With <paramref name="stockSettings"/> the server keeps PostgreSQL's default settings (jit on,
    /// 128MB shared_buffers, ...) apart from where it listens: how most users' servers run, for tests.
    /// </summary>
    public static async Task<LocalPostgres> StartAsync(string folder, CancellationToken ct = default, bool stockSettings = false)
    {
        var pg = new LocalPostgres(folder, FindBinDir(), stockSettings);
        await pg.EnsureStartedAsync(ct);
        return pg;
    }

    /// <summary>The newest PostgreSQL server binaries on this machine (Debian layout), or a clear error.</summary>
    public static string FindBinDir()
    {
        var fromEnv = Environment.GetEnvironmentVariable("PG_BIN");
        if (!string.IsNullOrEmpty(fromEnv) && File.Exists(Path.Combine(fromEnv, "initdb")))
        {
            return fromEnv;
        }
        const string Root = "/usr/lib/postgresql";
        if (Directory.Exists(Root))
        {
            var best = Directory.GetDirectories(Root)
                .Select(d => (dir: d, ok: int.TryParse(Path.GetFileName(d), NumberStyles.None, CultureInfo.InvariantCulture, out var v), v))
                .Where(x => x.ok && File.Exists(Path.Combine(x.dir, "bin", "initdb")))
                .OrderByDescending(x => x.v)
                .FirstOrDefault();
            if (best.dir is not null)
            {
                return Path.Combine(best.dir, "bin");
            }
        }
        throw new LocalPostgresException(
            "PostgreSQL server binaries (initdb, pg_ctl) were not found under /usr/lib/postgresql/*/bin. " +
            "Install them (Debian: apt-get install -y postgresql) or set ConnectionStrings__Events to an existing server.");
    }

    private async Task EnsureStartedAsync(CancellationToken ct)
    {
        Directory.CreateDirectory(Folder);
        Directory.CreateDirectory(_socketDir);
        if (!File.Exists(Path.Combine(_dataDir, "PG_VERSION")))
        {
            if (Directory.Exists(_dataDir))
            {
                Directory.Delete(_dataDir, recursive: true);
            }
            GiveToPostgresUser(Folder);
            // Collation C sorts exactly as C.UTF-8 does (by code point) but lets PostgreSQL compare text with
            // memcmp and abbreviated keys instead of strcoll: index builds and GROUP BYs on text run several
            // times faster. Character classification (upper, lower, regex) stays C.UTF-8.
            await RunAsync("initdb", ["-D", _dataDir, "-U", "postgres", "-A", "trust", "-E", "UTF8", "--locale=C.UTF-8", "--lc-collate=C", "--no-sync"], ct);
        }
        GiveToPostgresUser(Folder);
        if (await IsRunningAsync(ct))
        {
            return;
        }
        var listen = $"-c listen_addresses='' -c unix_socket_directories='{_socketDir}'";
        // Settings for a small local analytics database: unix socket only, and every commit durable
        // (fsync and synchronous_commit at their defaults) because this may be the only copy of the data.
        var options = _stockSettings ? listen : string.Join(' ',
            listen,
            "-c max_connections=200",
            // The write path inserts at random places in ~10 indexes (UUID keys, run keys, occurred_at of
            // late events); with 256MB a 1M-event store's indexes no longer fit and every write reads
            // pages back from the OS cache and writes dirty ones out itself. A quarter of RAM, 256MB-2GB.
            $"-c shared_buffers={SharedBuffersMegabytes()}MB",
            "-c work_mem=32MB",
            "-c maintenance_work_mem=256MB",
            // Checkpoints far apart: the write path changes pages at random places in big indexes (random
            // UUID event keys, run keys), and the first change to a page after a checkpoint writes the
            // whole page to WAL. On the 10M-event store, 100k events in 500-event batches wrote 1.2 GB of
            // WAL, mostly such page images, so 2GB meant a checkpoint every two runs and ingest started
            // over from cold pages; with these, the second and third runs after a start were 6.8-9.1k
            // events/s instead of 5.7-7.3k (docs/benchmarks.md). WAL on disk can reach max_wal_size.
            "-c max_wal_size=8GB",
            "-c checkpoint_timeout=15min",
            // No replication or archiving from a local cluster, so WAL only has to cover crash recovery:
            // at wal_level=minimal a table truncated or created in the same transaction is loaded without
            // WAL and synced at commit instead, which roughly halves what the bulk load writes.
            "-c wal_level=minimal",
            "-c max_wal_senders=0",
            // synchronous_commit stays on: the collector answers 2xx only once a request's events are
            // durable, and with it off a crash (of PostgreSQL or of the machine) loses the commits of the
            // last few hundred milliseconds that were already acknowledged. A WAL flush costs ~0.16 ms on
            // this machine's disk (pg_test_fsync) and the collector's group commit shares one among all
            // the requests it merged.
            "-c jit=off");
        await RunAsync("pg_ctl", ["-D", _dataDir, "-l", Path.Combine(Folder, "postgres.log"), "-o", options, "-w", "-t", "60", "start"], ct);
        _startedByUs = true;
    }

    private static long SharedBuffersMegabytes()
    {
        var total = GC.GetGCMemoryInfo().TotalAvailableMemoryBytes / (1024 * 1024);
        return Math.Clamp(total / 4, 256, 2048);
    }

    private async Task<bool> IsRunningAsync(CancellationToken ct)
    {
        var (code, _) = await RunCoreAsync("pg_ctl", ["-D", _dataDir, "status"], ct);
        return code == 0;
    }

    /// <summary>Stops the server if this instance started it; a server someone else started keeps running.</summary>
    public async ValueTask DisposeAsync()
    {
        if (_startedByUs)
        {
            _startedByUs = false;
            await RunCoreAsync("pg_ctl", ["-D", _dataDir, "-m", "fast", "-w", "stop"], CancellationToken.None);
        }
    }

    private void GiveToPostgresUser(string path)
    {
        if (!_runAsPostgresUser)
        {
            return;
        }
        using var chown = Process.Start(new ProcessStartInfo("chown", ["-R", "postgres:postgres", path]) { RedirectStandardError = true });
        chown?.WaitForExit();
    }

    private async Task RunAsync(string tool, string[] args, CancellationToken ct)
    {
        var (code, output) = await RunCoreAsync(tool, args, ct);
        if (code != 0)
        {
            throw new LocalPostgresException($"{tool} failed with exit code {code.ToString(CultureInfo.InvariantCulture)} for {Folder}:\n{output}");
        }
    }

    private async Task<(int Code, string Output)> RunCoreAsync(string tool, string[] args, CancellationToken ct)
    {
        var exe = Path.Combine(_binDir, tool);
        var psi = _runAsPostgresUser
            ? new ProcessStartInfo("runuser", ["-u", "postgres", "--", exe, .. args])
            : new ProcessStartInfo(exe, args);
        psi.RedirectStandardOutput = true;
        psi.RedirectStandardError = true;
        psi.WorkingDirectory = Path.GetTempPath();
        using var process = Process.Start(psi) ?? throw new LocalPostgresException($"could not start {exe}");
        // pg_ctl start redirects the server's output to its log file, so these pipes close when pg_ctl exits.
        var stdout = process.StandardOutput.ReadToEndAsync(ct);
        var stderr = process.StandardError.ReadToEndAsync(ct);
        await process.WaitForExitAsync(ct);
        var output = await stdout + await stderr;
        return (process.ExitCode, output);
    }
}

public sealed class LocalPostgresException(string message) : Exception(message);
