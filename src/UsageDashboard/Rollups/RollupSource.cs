using Microsoft.Extensions.Options;
using Npgsql;

namespace UsageDashboard.Rollups;

/// <summary>
/// The relation a page's statement reads for each rollup: the table, or (rollups off) the defining
/// aggregate over <c>runs</c> for just the days asked for, with the same columns. Pages filter on
/// <c>day</c> either way, so the statements are the same text over both.
/// </summary>
public sealed class RollupSource(IOptions<RollupOptions> options)
{
    public bool Enabled => options.Value.Enabled;

    /// <summary>For tests and tools that build services by hand.</summary>
    public static RollupSource Create(bool enabled = true) => new(Options.Create(new RollupOptions { Enabled = enabled }));

    public string RunDays(NpgsqlCommand cmd, DateOnly from, DateOnly to) =>
        Relation(cmd, "rollup_run_days", RollupSql.RunDays, from, to);

    /// <summary>Month rows; raw, only the runs of [from, to] set bits (callers mask to their range anyway).</summary>
    public string InstallationMonths(NpgsqlCommand cmd, DateOnly from, DateOnly to) =>
        Relation(cmd, "rollup_installation_months", RollupSql.InstallationMonths, from, to);

    public string CommandDays(NpgsqlCommand cmd, DateOnly from, DateOnly to) =>
        Relation(cmd, "rollup_command_days", RollupSql.CommandDays, from, to);

    public string CommandMonths(NpgsqlCommand cmd, DateOnly from, DateOnly to) =>
        Relation(cmd, "rollup_command_months", RollupSql.CommandMonths, from, to);

    public string CommandDurations(NpgsqlCommand cmd, DateOnly from, DateOnly to) =>
        Relation(cmd, "rollup_command_durations", RollupSql.CommandDurations, from, to);

    public string PluginDays(NpgsqlCommand cmd, DateOnly from, DateOnly to) =>
        Relation(cmd, "rollup_plugin_days", RollupSql.PluginDays, from, to);

    public string PluginMonths(NpgsqlCommand cmd, DateOnly from, DateOnly to) =>
        Relation(cmd, "rollup_plugin_months", RollupSql.PluginMonths, from, to);

    /// <summary>Every day ever: a version's first sighting is about its whole history, not the period.</summary>
    public string PluginDaysAllTime() =>
        Enabled ? "rollup_plugin_days" : $"({RollupSql.PluginDays("true", RollupInput.Stored)})";

    public string ErrorDays(NpgsqlCommand cmd, DateOnly from, DateOnly to) =>
        Relation(cmd, "rollup_error_days", RollupSql.ErrorDays, from, to);

    public string ErrorMonths(NpgsqlCommand cmd, DateOnly from, DateOnly to) =>
        Relation(cmd, "rollup_error_months", RollupSql.ErrorMonths, from, to);

    public string PluginErrorDays(NpgsqlCommand cmd, DateOnly from, DateOnly to) =>
        Relation(cmd, "rollup_plugin_error_days", RollupSql.PluginErrorDays, from, to);

    public string PluginErrorMonths(NpgsqlCommand cmd, DateOnly from, DateOnly to) =>
        Relation(cmd, "rollup_plugin_error_months", RollupSql.PluginErrorMonths, from, to);

    private string Relation(NpgsqlCommand cmd, string table, Func<string, RollupInput, string> select, DateOnly from, DateOnly to)
    {
        if (Enabled)
        {
            return table;
        }
        // Parameter names unique within the command: one statement batch may read several windows.
        var n = cmd.Parameters.Count;
        cmd.Parameters.AddWithValue($"src{n}_from", from.ToDateTime(TimeOnly.MinValue, DateTimeKind.Utc));
        cmd.Parameters.AddWithValue($"src{n}_to", to.AddDays(1).ToDateTime(TimeOnly.MinValue, DateTimeKind.Utc));
        return $"({select($"r.occurred_at >= @src{n}_from AND r.occurred_at < @src{n}_to", RollupInput.Stored)})";
    }
}
