using System.Collections.Concurrent;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using UsageDashboard.Hosting;
using UsageDashboard.Ingestion;
using UsageDashboard.Tests.Infrastructure;

namespace UsageDashboard.Tests.Ingestion;

/// <summary>The identifier key: generated once and shared, a configured one never stored, a change never silent.</summary>
public sealed class IdentifierKeysTests : IClassFixture<IdentifierKeysTests.Db>
{
    public sealed class Db : DatabaseFixture;

    private readonly Db _db;

    public IdentifierKeysTests(Db db) => _db = db;

    /// <summary>Collects what the key loader logs, to read the rotation warning back.</summary>
    private sealed class CollectingLogger : ILogger<IdentifierKeys>
    {
        public ConcurrentQueue<(LogLevel Level, string Message)> Entries { get; } = new();

        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => true;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter) =>
            Entries.Enqueue((logLevel, formatter(state, exception)));
    }

    private IdentifierKeys CreateKeys(string? configured, CollectingLogger? logger = null) =>
        new(_db.DataSource, Options.Create(new PrivacyOptions { IdentifierKey = configured }), new StartupReadiness([]), logger ?? new CollectingLogger());

    private async Task ResetAsync()
    {
        await using var cmd = _db.DataSource.CreateCommand("TRUNCATE identifier_keys");
        await cmd.ExecuteNonQueryAsync();
    }

    private async Task<List<(string Origin, bool HasSecret, bool Retired)>> RowsAsync()
    {
        await using var cmd = _db.DataSource.CreateCommand("SELECT origin, secret IS NOT NULL, retired_at IS NOT NULL FROM identifier_keys ORDER BY id");
        await using var reader = await cmd.ExecuteReaderAsync();
        var rows = new List<(string, bool, bool)>();
        while (await reader.ReadAsync())
        {
            rows.Add((reader.GetString(0), reader.GetBoolean(1), reader.GetBoolean(2)));
        }
        return rows;
    }

    [Fact]
    public async Task Load_NoKeyConfigured_GeneratedOnceAndSharedByEveryInstance()
    {
        await ResetAsync();

        var instances = await Task.WhenAll(Enumerable.Range(0, 4).Select(_ => CreateKeys(null).LoadAsync(default)));
        var restarted = await CreateKeys(null).LoadAsync(default);

        Assert.Single(instances.Select(h => h.Personal("alice@example.org")).Append(restarted.Personal("alice@example.org")).Distinct());
        Assert.Equal([(IdentifierKeys.Generated, true, false)], await RowsAsync());
    }

    [Fact]
    public async Task Load_ConfiguredKeyChanged_WarnsAndRecordsTheRotation()
    {
        await ResetAsync();
        var first = await CreateKeys("first-secret-key-0123456789abcdef").LoadAsync(default);
        var logger = new CollectingLogger();

        var second = await CreateKeys("second-secret-key-0123456789abcdef", logger).LoadAsync(default);
        var quietLogger = new CollectingLogger();
        var again = await CreateKeys("second-secret-key-0123456789abcdef", quietLogger).LoadAsync(default);

        Assert.NotEqual(first.Personal("alice"), second.Personal("alice"));
        Assert.Equal(second.Personal("alice"), again.Personal("alice"));
        var warning = Assert.Single(logger.Entries, e => e.Level == LogLevel.Warning);
        Assert.Contains("Identifier key rotated", warning.Message, StringComparison.Ordinal);
        Assert.Contains("Privacy:IdentifierKey differs", warning.Message, StringComparison.Ordinal);
        Assert.DoesNotContain(quietLogger.Entries, e => e.Level >= LogLevel.Warning);
        // A configured key is never stored, only its fingerprint; the retired row is the record of the rotation.
        Assert.Equal([(IdentifierKeys.Configured, false, true), (IdentifierKeys.Configured, false, false)], await RowsAsync());
    }

    [Fact]
    public async Task Load_ConfiguredKeyRemoved_WarnsAndRotatesToAGeneratedOne()
    {
        await ResetAsync();
        await CreateKeys("first-secret-key-0123456789abcdef").LoadAsync(default);
        var logger = new CollectingLogger();

        await CreateKeys(null, logger).LoadAsync(default);

        Assert.Contains(logger.Entries, e => e.Level == LogLevel.Warning && e.Message.Contains("no longer set", StringComparison.Ordinal));
        Assert.Equal([(IdentifierKeys.Configured, false, true), (IdentifierKeys.Generated, true, false)], await RowsAsync());
    }
}
