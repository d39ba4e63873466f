using Microsoft.Extensions.Options;
using UsageDashboard.Store;

namespace UsageDashboard.Tests.Infrastructure;

/// <summary>Factories for canonical events and the store services, with named optional arguments.</summary>
public static class TestEvents
{
    public static readonly DateTime T0 = new(2026, 11, 1, 12, 0, 0, DateTimeKind.Utc);

    public static TelemetryEvent CreateEvent(
        string tool = "dbt",
        string installationId = "inst-1",
        string? runKey = null,
        DateTime? at = null,
        string status = RunStatus.Succeeded,
        string? command = "run",
        string eventName = "invocation",
        long? durationMs = null,
        string? toolVersion = "1.8.0",
        string? osName = "linux",
        string? osVersion = null,
        string? runtimeName = "python",
        string? runtimeVersion = "3.11.9",
        bool isCi = false,
        string? errorType = null,
        Guid? eventId = null,
        List<PluginRef>? plugins = null,
        string source = "native")
    {
        var id = eventId ?? Guid.NewGuid();
        return new TelemetryEvent
        {
            EventId = id,
            Tool = tool,
            Source = source,
            InstallationId = installationId,
            OccurredAt = at ?? T0,
            ReceivedAt = at ?? T0,
            EventName = eventName,
            RunKey = runKey ?? id.ToString(),
            Command = command,
            Status = status,
            DurationMs = durationMs,
            ToolVersion = toolVersion,
            OsName = osName,
            OsVersion = osVersion,
            RuntimeName = runtimeName,
            RuntimeVersion = runtimeVersion,
            IsCi = isCi,
            ErrorType = errorType,
            Plugins = plugins ?? [],
        };
    }

    public static EventWriter CreateWriter(DatabaseFixture db, TimeProvider? time = null, TimeSpan? abortAfter = null) =>
        new(db.DataSource, time ?? new FakeTimeProvider(new DateTimeOffset(T0.AddDays(1))),
            Options.Create(new RunOptions { AbortAfter = abortAfter ?? TimeSpan.FromHours(12) }));
}

/// <summary>The rollups the insights services read, for tests that build the services by hand.</summary>
public static class TestRollups
{
    public static readonly UsageDashboard.Rollups.RollupSource Source = UsageDashboard.Rollups.RollupSource.Create();

    public static UsageDashboard.Rollups.RollupRefresher CreateRefresher(DatabaseFixture db) =>
        new(db.DataSource, Options.Create(new UsageDashboard.Rollups.RollupOptions()),
            Microsoft.Extensions.Logging.Abstractions.NullLogger<UsageDashboard.Rollups.RollupRefresher>.Instance);

    /// <summary>Folds everything written so far into the rollups, as the app's background refresher does.</summary>
    public static Task RefreshAsync(DatabaseFixture db) => CreateRefresher(db).RefreshAsync(default);

    /// <summary>Every row of every rollup table as text, in a fixed order: two snapshots compare row for row.</summary>
    public static async Task<List<string>> SnapshotAsync(DatabaseFixture db)
    {
        var rows = new List<string>();
        foreach (var (table, columns) in UsageDashboard.Rollups.RollupSql.Tables.Select(t => (t.Table, t.Columns)))
        {
            await using var cmd = db.DataSource.CreateCommand($"SELECT {columns} FROM {table} ORDER BY {columns}");
            await using var reader = await cmd.ExecuteReaderAsync();
            while (await reader.ReadAsync())
            {
                var values = new object[reader.FieldCount];
                reader.GetValues(values);
                rows.Add(table + ":" + string.Join("|", values.Select(v => v is Array a ? string.Join(",", a.Cast<object>()) : v.ToString())));
            }
        }
        return rows;
    }
}
