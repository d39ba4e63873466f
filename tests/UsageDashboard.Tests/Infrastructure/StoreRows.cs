using Npgsql;

namespace UsageDashboard.Tests.Infrastructure;

/// <summary>
/// Every row of a store (events, and the derived runs, run_plugins, installations) as text, in a stable
/// order and without surrogate ids or updated_at, so two ways of writing the same events can be
/// compared row for row.
/// </summary>
public sealed record StoreRows(List<string> Events, List<string> Runs, List<string> Plugins, List<string> Installations)
{
    public static async Task<StoreRows> ReadAsync(NpgsqlDataSource dataSource)
    {
        async Task<List<string>> Rows(string sql)
        {
            var rows = new List<string>();
            await using var cmd = dataSource.CreateCommand(sql);
            await using var reader = await cmd.ExecuteReaderAsync();
            while (await reader.ReadAsync())
            {
                rows.Add(reader.GetString(0));
            }
            return rows;
        }
        return new StoreRows(
            await Rows("""
                SELECT concat_ws('|', event_id, tool, source, installation_id, user_id, occurred_at, received_at, clock_adjusted, event_name,
                    run_key, command, status, duration_ms, tool_version, os_name, os_version, runtime_name, runtime_version, environment,
                    is_ci, error_type, properties::text, plugins::text)
                FROM events ORDER BY tool, event_id
                """),
            await Rows("""
                SELECT concat_ws('|', tool, run_key, installation_id, user_id, occurred_at, started_at, ended_at, command, status, duration_ms,
                    tool_version, os_name, os_version, runtime_name, runtime_version, environment, is_ci, error_type, event_count, plugins::text)
                FROM runs ORDER BY tool, run_key
                """),
            await Rows("""
                SELECT concat_ws('|', r.tool, r.run_key, p.name, p.type, p.version, p.status, p.occurred_at, p.installation_id, p.is_ci)
                FROM run_plugins p JOIN runs r ON r.id = p.run_id ORDER BY r.tool, r.run_key, p.name, p.type
                """),
            await Rows("SELECT concat_ws('|', tool, installation_id, first_seen, last_seen) FROM installations ORDER BY tool, installation_id"));
    }

    /// <summary>Asserts both hold the same rows, each table compared as a whole so a failure shows the first difference.</summary>
    public static void AssertEqual(StoreRows expected, StoreRows actual)
    {
        Assert.Equal(expected.Events, actual.Events);
        Assert.Equal(expected.Runs.Count, actual.Runs.Count);
        Assert.Equal(expected.Runs, actual.Runs);
        Assert.Equal(expected.Plugins, actual.Plugins);
        Assert.Equal(expected.Installations, actual.Installations);
    }
}
