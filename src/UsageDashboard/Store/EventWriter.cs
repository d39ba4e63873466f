using System.Text.Json;
using Microsoft.Extensions.Options;
using Npgsql;
using NpgsqlTypes;

namespace UsageDashboard.Store;

/// <summary>What a write did: new events stored, and events already stored before (same tool and id).</summary>
public sealed record WriteResult(int Accepted, int Duplicates)
{
    public static readonly WriteResult Empty = new(0, 0);
    public WriteResult Add(WriteResult other) => new(Accepted + other.Accepted, Duplicates + other.Duplicates);
}

/// <summary>
/// The single write path into the event store, used by the collector, the bulk importer and the demo
/// loader: binary COPY into a staging table, an idempotent insert (a re-sent event is a duplicate, not a
/// second count), then the runs and installations those events touch are derived again, all in one
/// transaction so a success means every accepted event is durable and counted.
/// </summary>
public sealed class EventWriter(NpgsqlDataSource dataSource, TimeProvider time, IOptions<RunOptions> runOptions)
{
    private static readonly JsonSerializerOptions s_json = new(JsonSerializerDefaults.Web)
    {
        DefaultIgnoreCondition = System.Text.Json.Serialization.JsonIgnoreCondition.WhenWritingNull,
    };

    private const string Columns =
        "event_id, tool, source, installation_id, user_id, occurred_at, received_at, clock_adjusted, event_name, run_key, " +
        "command, status, duration_ms, tool_version, os_name, os_version, runtime_name, runtime_version, environment, is_ci, " +
        "error_type, properties, plugins";

    /// <summary>Writes <paramref name="events"/> in its own transaction.</summary>
    public async Task<WriteResult> WriteAsync(IReadOnlyList<TelemetryEvent> events, CancellationToken ct)
    {
        if (events.Count == 0)
        {
            return WriteResult.Empty;
        }
        await using var conn = await dataSource.OpenConnectionAsync(ct);
        await using var tx = await conn.BeginTransactionAsync(ct);
        var result = await WriteAsync(conn, events, ct);
        await tx.CommitAsync(ct);
        return result;
    }

    /// <summary>Writes inside the caller's open transaction on <paramref name="conn"/> (so quarantine rows commit with it).</summary>
    public async Task<WriteResult> WriteAsync(NpgsqlConnection conn, IReadOnlyList<TelemetryEvent> events, CancellationToken ct)
    {
        if (events.Count == 0)
        {
            return WriteResult.Empty;
        }
        await ExecuteAsync(conn, $"""
            CREATE TEMP TABLE IF NOT EXISTS incoming_events ON COMMIT DELETE ROWS AS SELECT {Columns} FROM events WITH NO DATA;
            CREATE TEMP TABLE IF NOT EXISTS inserted_events (tool text, run_key text, installation_id text, occurred_at timestamptz) ON COMMIT DELETE ROWS;
            {RunDerivationSql.CreateAffected}
            TRUNCATE incoming_events, inserted_events, affected_runs;
            """, ct);

        await using (var importer = await conn.BeginBinaryImportAsync($"COPY incoming_events ({Columns}) FROM STDIN (FORMAT BINARY)", ct))
        {
            foreach (var e in events)
            {
                await WriteRowAsync(importer, e, ct);
            }
            await importer.CompleteAsync(ct);
        }

        var inserted = await ExecuteAsync(conn, $"""
            WITH ins AS (
                INSERT INTO events ({Columns}) SELECT {Columns} FROM incoming_events
                ON CONFLICT (tool, event_id) DO NOTHING
                RETURNING tool, run_key, installation_id, occurred_at)
            INSERT INTO inserted_events SELECT * FROM ins;
            """, ct);

        if (inserted > 0)
        {
            await ExecuteAsync(conn, """
                INSERT INTO installations (tool, installation_id, first_seen, last_seen)
                SELECT tool, installation_id, min(occurred_at), max(occurred_at) FROM inserted_events GROUP BY tool, installation_id
                ON CONFLICT (tool, installation_id) DO UPDATE SET
                    first_seen = least(installations.first_seen, excluded.first_seen),
                    last_seen = greatest(installations.last_seen, excluded.last_seen);
                INSERT INTO affected_runs SELECT DISTINCT tool, run_key FROM inserted_events;
                """, ct);
            await DeriveAffectedRunsAsync(conn, ct);
        }
        return new WriteResult(inserted, events.Count - inserted);
    }

    /// <summary>Re-derives the runs listed in <c>affected_runs</c> from their events.</summary>
    internal async Task DeriveAffectedRunsAsync(NpgsqlConnection conn, CancellationToken ct)
    {
        var now = time.GetUtcNow().UtcDateTime;
        var abortBefore = now - runOptions.Value.AbortAfter;
        // One round trip; NpgsqlCommand splits the statements and binds the named parameters to each.
        await using var cmd = new NpgsqlCommand(RunDerivationSql.UpsertRuns + RunDerivationSql.RefreshRunPlugins, conn);
        cmd.Parameters.AddWithValue("now", now);
        cmd.Parameters.AddWithValue("abort_before", abortBefore);
        await cmd.ExecuteNonQueryAsync(ct);
    }

    /// <summary>Marks runs open for longer than Runs:AbortAfter as aborted; returns how many.</summary>
    public async Task<int> AbortStaleRunsAsync(CancellationToken ct)
    {
        var now = time.GetUtcNow().UtcDateTime;
        await using var cmd = dataSource.CreateCommand(RunDerivationSql.AbortStale);
        cmd.Parameters.AddWithValue("now", now);
        cmd.Parameters.AddWithValue("abort_before", now - runOptions.Value.AbortAfter);
        return (int)(await cmd.ExecuteScalarAsync(ct))!;
    }

    private static async Task<int> ExecuteAsync(NpgsqlConnection conn, string sql, CancellationToken ct)
    {
        await using var cmd = new NpgsqlCommand(sql, conn);
        return await cmd.ExecuteNonQueryAsync(ct);
    }

    private static async Task WriteRowAsync(NpgsqlBinaryImporter w, TelemetryEvent e, CancellationToken ct)
    {
        await w.StartRowAsync(ct);
        await w.WriteAsync(e.EventId, NpgsqlDbType.Uuid, ct);
        await w.WriteAsync(e.Tool, NpgsqlDbType.Text, ct);
        await w.WriteAsync(e.Source, NpgsqlDbType.Text, ct);
        await w.WriteAsync(e.InstallationId, NpgsqlDbType.Text, ct);
        await WriteNullableAsync(w, e.UserId, ct);
        await w.WriteAsync(e.OccurredAt, NpgsqlDbType.TimestampTz, ct);
        await w.WriteAsync(e.ReceivedAt, NpgsqlDbType.TimestampTz, ct);
        await w.WriteAsync(e.ClockAdjusted, NpgsqlDbType.Boolean, ct);
        await w.WriteAsync(e.EventName, NpgsqlDbType.Text, ct);
        await w.WriteAsync(e.RunKey, NpgsqlDbType.Text, ct);
        await WriteNullableAsync(w, e.Command, ct);
        await w.WriteAsync(e.Status, NpgsqlDbType.Text, ct);
        if (e.DurationMs is { } duration)
        {
            await w.WriteAsync(duration, NpgsqlDbType.Bigint, ct);
        }
        else
        {
            await w.WriteNullAsync(ct);
        }
        await WriteNullableAsync(w, e.ToolVersion, ct);
        await WriteNullableAsync(w, e.OsName, ct);
        await WriteNullableAsync(w, e.OsVersion, ct);
        await WriteNullableAsync(w, e.RuntimeName, ct);
        await WriteNullableAsync(w, e.RuntimeVersion, ct);
        await WriteNullableAsync(w, e.Environment, ct);
        await w.WriteAsync(e.IsCi, NpgsqlDbType.Boolean, ct);
        await WriteNullableAsync(w, e.ErrorType, ct);
        if (e.Properties is null)
        {
            await w.WriteNullAsync(ct);
        }
        else
        {
            await w.WriteAsync(e.Properties.RootElement.GetRawText(), NpgsqlDbType.Jsonb, ct);
        }
        await w.WriteAsync(JsonSerializer.Serialize(e.Plugins, s_json), NpgsqlDbType.Jsonb, ct);
    }

    private static Task WriteNullableAsync(NpgsqlBinaryImporter w, string? value, CancellationToken ct) =>
        value is null ? w.WriteNullAsync(ct) : w.WriteAsync(value, NpgsqlDbType.Text, ct);
}
