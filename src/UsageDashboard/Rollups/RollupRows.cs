using System.Collections.Concurrent;

namespace UsageDashboard.Rollups;

/// <summary>What every in-memory month row has: the installation (<c>installations.id</c>) and its active days of the month.</summary>
public interface IMonthRow
{
    int Key { get; }
    int Days { get; }
    bool IsCi { get; }
    int OsName { get; }
    int ToolVersion { get; }
    int RuntimeName { get; }
    int RuntimeVersion { get; }
    /// <summary>The tool's own build environment (Jetty's <c>prod</c>/<c>dev</c>/<c>test</c>).</summary>
    int Environment { get; }
}

/// <summary>One installation-month rollup row in memory; text columns are <see cref="StringCodes"/> codes (0 = NULL).</summary>
public readonly record struct InstallationMonthRow(
    int Key, bool IsCi, int OsName, int OsVersion, int RuntimeName, int RuntimeVersion, int ToolVersion, int Days, int OkDays, int Environment = 0) : IMonthRow;

/// <summary>One command-month rollup row in memory.</summary>
public readonly record struct CommandMonthRow(int Key, int Command, bool IsCi, int OsName, int ToolVersion, int Days, int RuntimeName = 0, int RuntimeVersion = 0, int Environment = 0) : IMonthRow;

/// <summary>One plugin-month rollup row in memory.</summary>
public readonly record struct PluginMonthRow(int Key, int Name, int Type, int Version, bool IsCi, int OsName, int ToolVersion, int Days, int RuntimeName = 0, int RuntimeVersion = 0, int Environment = 0) : IMonthRow;

/// <summary>One run-day rollup row in memory; <see cref="Day"/> is the day of the month, 0-based.</summary>
public readonly record struct RunDayRow(
    int Day, bool IsCi, int OsName, int OsVersion, int RuntimeName, int RuntimeVersion, int ToolVersion, int Runs, int Succeeded, int Failed, int Aborted,
    int Environment = 0);

/// <summary>One command-day rollup row in memory.</summary>
public readonly record struct CommandDayRow(int Day, int Command, bool IsCi, int OsName, int ToolVersion, int Runs, int Succeeded, int Failed, int Aborted, int RuntimeName = 0, int RuntimeVersion = 0, int Environment = 0);

/// <summary>One plugin-day rollup row in memory.</summary>
public readonly record struct PluginDayRow(
    int Day, int Name, int Type, int Version, bool IsCi, int OsName, int ToolVersion, int Runs, int Succeeded, int Failed, int Aborted, int RuntimeName = 0, int RuntimeVersion = 0, int Environment = 0,
    DateTime FirstAt = default);

/// <summary>
/// One error-day rollup row in memory: failed and aborted runs of one subject (a command, or a plugin name for the
/// plugin error table) with one error type, and the latest of them.
/// </summary>
public readonly record struct ErrorDayRow(int Day, int Subject, int ErrorType, bool IsCi, int OsName, int ToolVersion, int Runs, DateTime LastAt, int RuntimeName = 0, int RuntimeVersion = 0, int Environment = 0);

/// <summary>One error-month rollup row in memory: the days an installation hit the error type with the subject.</summary>
public readonly record struct ErrorMonthRow(int Key, int Subject, int ErrorType, bool IsCi, int OsName, int ToolVersion, int Days, int RuntimeName = 0, int RuntimeVersion = 0, int Environment = 0) : IMonthRow;

/// <summary>One duration-histogram rollup row in memory (bucket numbers as <see cref="DurationHistogram"/> reads them).</summary>
public readonly record struct CommandDurationRow(int Day, int Command, bool IsCi, int OsName, int ToolVersion, short[] Buckets, int[] Counts, int RuntimeName = 0, int RuntimeVersion = 0, int Environment = 0);

/// <summary>
/// An installation's first and last UTC day (<see cref="DateOnly.DayNumber"/>; both 0 for an id with no row), and
/// whether every run it ever sent ran in CI (<paramref name="CiOnly"/>: no installation-month row outside CI, on any
/// OS, version or day). Both are facts about the installation's whole history, as Meltano's own "only ever ran in
/// CI" flag is, so neither depends on the range a page shows. <paramref name="Tool"/>: the tool's <see cref="StringCodes"/> code.
/// </summary>
public readonly record struct InstallationDays(int First, int Last, bool CiOnly = false, int Tool = 0)
{
    public bool Known => First != 0;
}

/// <summary>The rows of one rollup table for one tool and month (bit 0 of a mask = the month's 1st; day 0 = the 1st).</summary>
public sealed record MonthSegment<T>(string Tool, DateOnly Month, T[] Rows) where T : struct;

/// <summary>
/// Interned text for the in-memory rollup rows: a dimension value is stored once and rows carry an int.
/// Codes are never reused or dropped (the set of values is that of the rollups: commands, versions,
/// OS and plugin names, which grows slowly), so a code read by one request stays valid for all.
/// </summary>
public sealed class StringCodes
{
    private readonly ConcurrentDictionary<string, int> _codes = new(StringComparer.Ordinal);
    private readonly Lock _gate = new();
    private string?[] _texts = new string?[256];
    private int _count = 1;

    /// <summary>The code of <paramref name="text"/>, adding it if new; NULL is 0.</summary>
    public int Code(string? text)
    {
        if (text is null)
        {
            return 0;
        }
        if (_codes.TryGetValue(text, out var code))
        {
            return code;
        }
        lock (_gate)
        {
            if (_codes.TryGetValue(text, out code))
            {
                return code;
            }
            code = _count++;
            var texts = _texts;
            if (code == texts.Length)
            {
                Array.Resize(ref texts, texts.Length * 2);
            }
            texts[code] = text;
            // The text is in place before the code can be found: a reader holding a code can always read it.
            Volatile.Write(ref _texts, texts);
            _codes[text] = code;
            return code;
        }
    }

    /// <summary>The code of <paramref name="text"/> without adding it: -1 when no row has that value (NULL is 0).</summary>
    public int Find(string? text) => text is null ? 0 : _codes.TryGetValue(text, out var code) ? code : -1;

    public string? Text(int code) => Volatile.Read(ref _texts)[code];
}
