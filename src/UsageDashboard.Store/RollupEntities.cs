namespace UsageDashboard.Store;

// The rollup tables as EF sees them. They are written only by set-based SQL (Rollups/RollupSql.cs, folding
// runs into them) and the bulk load's COPY (Store/BulkRollups.cs), and read by the rollup cache's loads; EF
// owns their shape so that the model, the snapshot and the database agree, not their reads and writes.
// Day tables hold one row per group and day; month tables one row per installation (a dense integer key
// from installations.id) and group, with the days of the month it was active as bits in Days. Their
// groups have nullable columns, so they are keyless in EF; the month tables' unique index treats nulls as
// equal (NULLS NOT DISTINCT), which is what the fold's ON CONFLICT needs.

/// <summary>Runs by outcome per tool, day and platform (<c>rollup_run_days</c>).</summary>
public sealed class RollupRunDay
{
    public required string Tool { get; set; }
    public DateOnly Day { get; set; }
    public bool IsCi { get; set; }
    public string? OsName { get; set; }
    public string? OsVersion { get; set; }
    public string? RuntimeName { get; set; }
    public string? RuntimeVersion { get; set; }
    public string? ToolVersion { get; set; }
    public string? Environment { get; set; }
    public int Runs { get; set; }
    public int Succeeded { get; set; }
    public int Failed { get; set; }
    public int Aborted { get; set; }
}

/// <summary>Runs by outcome per command and day (<c>rollup_command_days</c>).</summary>
public sealed class RollupCommandDay
{
    public required string Tool { get; set; }
    public DateOnly Day { get; set; }
    public required string Command { get; set; }
    public bool IsCi { get; set; }
    public string? OsName { get; set; }
    public string? ToolVersion { get; set; }
    public string? RuntimeName { get; set; }
    public string? RuntimeVersion { get; set; }
    public string? Environment { get; set; }
    public int Runs { get; set; }
    public int Succeeded { get; set; }
    public int Failed { get; set; }
    public int Aborted { get; set; }
}

/// <summary>A command's run durations per day as a sparse histogram: parallel arrays of bucket and count (<c>rollup_command_durations</c>).</summary>
public sealed class RollupCommandDuration
{
    public required string Tool { get; set; }
    public DateOnly Day { get; set; }
    public required string Command { get; set; }
    public bool IsCi { get; set; }
    public string? OsName { get; set; }
    public string? ToolVersion { get; set; }
    public string? RuntimeName { get; set; }
    public string? RuntimeVersion { get; set; }
    public string? Environment { get; set; }
    public short[] Buckets { get; set; } = [];
    public int[] Counts { get; set; } = [];
}

/// <summary>Failed and aborted runs per command, error type and day (<c>rollup_error_days</c>).</summary>
public sealed class RollupErrorDay
{
    public required string Tool { get; set; }
    public DateOnly Day { get; set; }
    public required string Command { get; set; }
    public required string ErrorType { get; set; }
    public bool IsCi { get; set; }
    public string? OsName { get; set; }
    public string? ToolVersion { get; set; }
    public string? RuntimeName { get; set; }
    public string? RuntimeVersion { get; set; }
    public string? Environment { get; set; }
    public int Runs { get; set; }
    public DateTime LastAt { get; set; }
}

/// <summary>A plugin version's runs by outcome per day (<c>rollup_plugin_days</c>).</summary>
public sealed class RollupPluginDay
{
    public required string Tool { get; set; }
    public DateOnly Day { get; set; }
    public required string Name { get; set; }
    public required string Type { get; set; }
    public required string Version { get; set; }
    public bool IsCi { get; set; }
    public string? OsName { get; set; }
    public string? ToolVersion { get; set; }
    public string? RuntimeName { get; set; }
    public string? RuntimeVersion { get; set; }
    public string? Environment { get; set; }
    public int Runs { get; set; }
    public int Succeeded { get; set; }
    public int Failed { get; set; }
    public int Aborted { get; set; }
    public DateTime FirstAt { get; set; }
}

/// <summary>Failed and aborted runs per plugin, error type and day (<c>rollup_plugin_error_days</c>).</summary>
public sealed class RollupPluginErrorDay
{
    public required string Tool { get; set; }
    public DateOnly Day { get; set; }
    public required string Name { get; set; }
    public required string ErrorType { get; set; }
    public bool IsCi { get; set; }
    public string? OsName { get; set; }
    public string? ToolVersion { get; set; }
    public string? RuntimeName { get; set; }
    public string? RuntimeVersion { get; set; }
    public string? Environment { get; set; }
    public int Runs { get; set; }
    public DateTime LastAt { get; set; }
}

/// <summary>Runs per feature key and value and day (<c>rollup_feature_days</c>).</summary>
public sealed class RollupFeatureDay
{
    public required string Tool { get; set; }
    public DateOnly Day { get; set; }
    public required string Key { get; set; }
    public required string Value { get; set; }
    public bool IsCi { get; set; }
    public string? OsName { get; set; }
    public string? ToolVersion { get; set; }
    public string? RuntimeName { get; set; }
    public string? RuntimeVersion { get; set; }
    public string? Environment { get; set; }
    public int Runs { get; set; }
    public int Succeeded { get; set; }
    public int Failed { get; set; }
    public int Aborted { get; set; }
}

/// <summary>The days of a month an installation was active (Days) and had a successful run (OkDays), per platform (<c>rollup_installation_months</c>).</summary>
public sealed class RollupInstallationMonth
{
    public required string Tool { get; set; }
    public DateOnly Month { get; set; }
    public int InstallationKey { get; set; }
    public bool IsCi { get; set; }
    public string? OsName { get; set; }
    public string? OsVersion { get; set; }
    public string? RuntimeName { get; set; }
    public string? RuntimeVersion { get; set; }
    public string? ToolVersion { get; set; }
    public string? Environment { get; set; }
    public int Days { get; set; }
    public int OkDays { get; set; }
}

/// <summary>The days of a month an installation ran a command (<c>rollup_command_months</c>).</summary>
public sealed class RollupCommandMonth
{
    public required string Tool { get; set; }
    public DateOnly Month { get; set; }
    public int InstallationKey { get; set; }
    public required string Command { get; set; }
    public bool IsCi { get; set; }
    public string? OsName { get; set; }
    public string? ToolVersion { get; set; }
    public string? RuntimeName { get; set; }
    public string? RuntimeVersion { get; set; }
    public string? Environment { get; set; }
    public int Days { get; set; }
}

/// <summary>The days of a month an installation had an error type in a command (<c>rollup_error_months</c>).</summary>
public sealed class RollupErrorMonth
{
    public required string Tool { get; set; }
    public DateOnly Month { get; set; }
    public int InstallationKey { get; set; }
    public required string Command { get; set; }
    public required string ErrorType { get; set; }
    public bool IsCi { get; set; }
    public string? OsName { get; set; }
    public string? ToolVersion { get; set; }
    public string? RuntimeName { get; set; }
    public string? RuntimeVersion { get; set; }
    public string? Environment { get; set; }
    public int Days { get; set; }
}

/// <summary>The days of a month an installation used a plugin version (<c>rollup_plugin_months</c>).</summary>
public sealed class RollupPluginMonth
{
    public required string Tool { get; set; }
    public DateOnly Month { get; set; }
    public int InstallationKey { get; set; }
    public required string Name { get; set; }
    public required string Type { get; set; }
    public required string Version { get; set; }
    public bool IsCi { get; set; }
    public string? OsName { get; set; }
    public string? ToolVersion { get; set; }
    public string? RuntimeName { get; set; }
    public string? RuntimeVersion { get; set; }
    public string? Environment { get; set; }
    public int Days { get; set; }
}

/// <summary>The days of a month an installation had an error type in a plugin (<c>rollup_plugin_error_months</c>).</summary>
public sealed class RollupPluginErrorMonth
{
    public required string Tool { get; set; }
    public DateOnly Month { get; set; }
    public int InstallationKey { get; set; }
    public required string Name { get; set; }
    public required string ErrorType { get; set; }
    public bool IsCi { get; set; }
    public string? OsName { get; set; }
    public string? ToolVersion { get; set; }
    public string? RuntimeName { get; set; }
    public string? RuntimeVersion { get; set; }
    public string? Environment { get; set; }
    public int Days { get; set; }
}

/// <summary>The days of a month an installation (and project) had a feature value (<c>rollup_feature_months</c>).</summary>
public sealed class RollupFeatureMonth
{
    public required string Tool { get; set; }
    public DateOnly Month { get; set; }
    public int InstallationKey { get; set; }
    public required string Key { get; set; }
    public required string Value { get; set; }
    public string? Project { get; set; }
    public bool IsCi { get; set; }
    public string? OsName { get; set; }
    public string? ToolVersion { get; set; }
    public string? RuntimeName { get; set; }
    public string? RuntimeVersion { get; set; }
    public string? Environment { get; set; }
    public int Days { get; set; }
}

/// <summary>A change the rollup refresher has yet to fold: a tool's day, and the run or installation that changed (<c>rollup_dirty</c>).</summary>
public sealed class RollupDirtyMark
{
    public long Seq { get; set; }
    public required string Tool { get; set; }
    public DateOnly Day { get; set; }
    public string? InstallationId { get; set; }
    public long? RunId { get; set; }
}

/// <summary>A month table's version per tool and month: the rollup cache reloads a month segment when it moved (<c>rollup_month_versions</c>).</summary>
public sealed class RollupMonthVersion
{
    public required string TableName { get; set; }
    public DateOnly Month { get; set; }
    public required string Tool { get; set; }
    public long Version { get; set; }
}
