using System.Diagnostics;
using Npgsql;
using UsageDashboard.Access;
using UsageDashboard.Database;
using UsageDashboard.Store;
using UsageDashboard.Tests.Infrastructure;

namespace UsageDashboard.Tests.Operations;

/// <summary>docs/operations.md's backup and restore, followed to the letter: pg_dump, pg_restore, rebuild-rollups.</summary>
public sealed class BackupRestoreTests : IClassFixture<BackupRestoreTests.Db>
{
    public sealed class Db : DatabaseFixture;

    private readonly Db _db;

    public BackupRestoreTests(Db db) => _db = db;

    [Fact]
    public async Task Restore_DumpWithoutRollupData_RebuildRollupsGivesTheSameFigures()
    {
        Dictionary<string, string> before;
        string token;
        await using (var app = InsightFigures.CreateApp(_db.ConnectionString))
        {
            await InsightFigures.PostAsync(app.CreateClient());
            await app.RefreshRollupsAsync();
            var reader = await app.CreateClientAsAsync(Roles.Viewer, TokenScopes.Read);
            token = reader.DefaultRequestHeaders.Authorization!.Parameter!;
            before = await InsightFigures.ReadAsync(reader);
        }
        var folder = Directory.CreateTempSubdirectory("ud-backup-");
        try
        {
            // The documented backup: everything but the rollups' rows, which are rebuilt from the runs.
            var dump = Path.Combine(folder.FullName, "usage.dump");
            if (!OperatingSystem.IsWindows())
            {
                // pg_dump runs as the postgres user when the tests run as root.
                File.SetUnixFileMode(folder.FullName, (UnixFileMode)0x1FF);
            }
            await PgAsync("pg_dump", _db.ConnectionString, "--format=custom", "--exclude-table-data=rollup_*", "--file=" + dump);
            var restored = "restored_" + Guid.NewGuid().ToString("N")[..8];
            var cluster = await TestCluster.GetAsync();
            await EventsDatabase.CreateDatabaseIfMissingAsync(cluster.ConnectionString(), restored, default);
            await PgAsync("pg_restore", cluster.ConnectionString(restored), "--no-owner", dump);

            var (exit, output) = await AppProcess.RunVerbAsync(typeof(Program).Assembly.Location, AppFactory.RepoRoot,
                new Dictionary<string, string> { ["ConnectionStrings__Events"] = cluster.ConnectionString(restored) }, "rebuild-rollups");
            Assert.True(exit == 0, output);

            await using var again = InsightFigures.CreateApp(cluster.ConnectionString(restored));
            var client = again.CreateClient();
            client.DefaultRequestHeaders.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", token);
            InsightFigures.AssertEqual(before, await InsightFigures.ReadAsync(client));
        }
        finally
        {
            folder.Delete(recursive: true);
        }
    }

    /// <summary>Runs a PostgreSQL client tool of the cluster's version over its socket (as the postgres user when root, as LocalPostgres does).</summary>
    private static async Task PgAsync(string tool, string connectionString, params string[] args)
    {
        var c = new NpgsqlConnectionStringBuilder(connectionString);
        var exe = Path.Combine(LocalPostgres.FindBinDir(), tool);
        string[] all = [.. args, "--host=" + c.Host, "--port=" + c.Port.ToString(System.Globalization.CultureInfo.InvariantCulture), "--username=" + c.Username, "--dbname=" + c.Database];
        var start = Environment.UserName == "root" ? new ProcessStartInfo("runuser", ["-u", "postgres", "--", exe, .. all]) : new ProcessStartInfo(exe, all);
        start.RedirectStandardError = true;
        start.RedirectStandardOutput = true;
        using var process = Process.Start(start)!;
        var stderr = process.StandardError.ReadToEndAsync();
        var stdout = process.StandardOutput.ReadToEndAsync();
        await process.WaitForExitAsync();
        Assert.True(process.ExitCode == 0, $"{tool}: {await stderr}{await stdout}");
    }
}
