using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Metadata.Builders;

namespace UsageDashboard.Store;

/// <summary>
/// The rollup tables, the idempotency keys, the identifier keys and the data-protection keys in the EF
/// model (their DDL came from SQL migrations; EF now owns their shape, so the next change is an EF
/// migration). What EF cannot say stays in migration SQL: the triggers that mark <c>rollup_dirty</c>, the
/// expression index <c>identifier_keys_one_active</c>, and the partitioning of <c>events</c>.
/// </summary>
internal static class RollupModel
{
    public static void Configure(ModelBuilder m)
    {
        m.Entity<EventKey>(b =>
        {
            b.ToTable("event_keys");
            b.HasKey(k => new { k.Tool, k.EventId });
        });
        m.Entity<IdentifierKey>(b =>
        {
            b.ToTable("identifier_keys", t =>
            {
                t.HasCheckConstraint("identifier_keys_origin_check", "origin IN ('generated', 'configured')");
                t.HasCheckConstraint("identifier_keys_check", "origin = 'configured' OR secret IS NOT NULL");
            });
            b.HasKey(k => k.Id).HasName("identifier_keys_pkey");
            b.Property(k => k.Id).UseIdentityAlwaysColumn();
            b.Property(k => k.ActivatedAt).HasDefaultValueSql("now()");
        });
        m.Entity<StoredDataProtectionKey>(b =>
        {
            b.ToTable("data_protection_keys");
            b.HasKey(k => k.Id).HasName("data_protection_keys_pkey");
            b.Property(k => k.Id).UseIdentityAlwaysColumn();
        });
        m.Entity<RollupDirtyMark>(b =>
        {
            b.ToTable("rollup_dirty");
            b.HasKey(d => d.Seq).HasName("rollup_dirty_pkey");
            b.Property(d => d.Seq).UseIdentityAlwaysColumn();
        });
        m.Entity<RollupMonthVersion>(b =>
        {
            b.ToTable("rollup_month_versions");
            b.HasKey(v => new { v.TableName, v.Month, v.Tool }).HasName("rollup_month_versions_pkey");
        });

        DayTable<RollupRunDay>(m, "rollup_run_days", null, null);
        DayTable<RollupCommandDay>(m, "rollup_command_days", "command", d => new { d.Command, d.Day });
        DayTable<RollupCommandDuration>(m, "rollup_command_durations", "command", d => new { d.Command, d.Day });
        DayTable<RollupErrorDay>(m, "rollup_error_days", "command", d => new { d.Command, d.Day });
        DayTable<RollupPluginDay>(m, "rollup_plugin_days", "name", d => new { d.Name, d.Day });
        DayTable<RollupPluginErrorDay>(m, "rollup_plugin_error_days", "name", d => new { d.Name, d.Day });
        m.Entity<RollupFeatureDay>(b =>
        {
            b.ToTable("rollup_feature_days").HasNoKey();
            b.HasIndex(d => new { d.Tool, d.Key, d.Day }).HasDatabaseName("ix_rollup_feature_days");
            b.HasIndex(d => new { d.Tool, d.Day }).HasDatabaseName("ix_rollup_feature_days_day");
        });

        MonthTable<RollupInstallationMonth>(m, "rollup_installation_months", r => new
        {
            r.Month, r.Tool, r.InstallationKey, r.IsCi, r.OsName, r.OsVersion, r.RuntimeName, r.RuntimeVersion, r.ToolVersion, r.Environment,
        });
        MonthTable<RollupCommandMonth>(m, "rollup_command_months", r => new
        {
            r.Month, r.Tool, r.InstallationKey, r.Command, r.IsCi, r.OsName, r.ToolVersion, r.RuntimeName, r.RuntimeVersion, r.Environment,
        });
        MonthTable<RollupErrorMonth>(m, "rollup_error_months", r => new
        {
            r.Month, r.Tool, r.InstallationKey, r.Command, r.ErrorType, r.IsCi, r.OsName, r.ToolVersion, r.RuntimeName, r.RuntimeVersion, r.Environment,
        });
        MonthTable<RollupPluginMonth>(m, "rollup_plugin_months", r => new
        {
            r.Month, r.Tool, r.InstallationKey, r.Name, r.Type, r.Version, r.IsCi, r.OsName, r.ToolVersion, r.RuntimeName, r.RuntimeVersion, r.Environment,
        }).HasIndex(r => new { r.Name, r.Month }).HasDatabaseName("ix_rollup_plugin_months_name");
        MonthTable<RollupPluginErrorMonth>(m, "rollup_plugin_error_months", r => new
        {
            r.Month, r.Tool, r.InstallationKey, r.Name, r.ErrorType, r.IsCi, r.OsName, r.ToolVersion, r.RuntimeName, r.RuntimeVersion, r.Environment,
        });
        MonthTable<RollupFeatureMonth>(m, "rollup_feature_months", r => new
        {
            r.Month, r.Tool, r.InstallationKey, r.Key, r.Value, r.Project, r.IsCi, r.OsName, r.ToolVersion, r.RuntimeName, r.RuntimeVersion, r.Environment,
        }).HasIndex(r => new { r.Tool, r.Key, r.Month }).HasDatabaseName("ix_rollup_feature_months_key");
    }

    /// <summary>
    /// A day table: keyless (its group has nullable columns), read by day range and tool, and by the
    /// slice (<paramref name="slice"/>, e.g. a command) over days.
    /// </summary>
    private static void DayTable<T>(ModelBuilder m, string table, string? sliceName, System.Linq.Expressions.Expression<Func<T, object?>>? slice)
        where T : class
    {
        var b = m.Entity<T>();
        b.ToTable(table).HasNoKey();
        b.HasIndex("Day", "Tool").HasDatabaseName($"ix_{table}_day");
        if (slice is not null)
        {
            b.HasIndex(slice).HasDatabaseName($"ix_{table}_{sliceName}");
        }
    }

    /// <summary>
    /// A month table: one row per installation and group, unique with nulls equal (the fold's
    /// ON CONFLICT target), and a partial index on the rows a refold cleared (days = 0), which the
    /// refresher deletes.
    /// </summary>
    private static EntityTypeBuilder<T> MonthTable<T>(ModelBuilder m, string table, System.Linq.Expressions.Expression<Func<T, object?>> group)
        where T : class
    {
        var b = m.Entity<T>();
        b.ToTable(table).HasNoKey();
        b.HasIndex(group).IsUnique().AreNullsDistinct(false).HasDatabaseName($"ux_{table}");
        b.HasIndex("Tool", "Month").HasFilter("days = 0").HasDatabaseName($"IX_{table}_cleared");
        return b;
    }
}
