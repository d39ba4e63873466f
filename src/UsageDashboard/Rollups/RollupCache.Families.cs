using UsageDashboard.Insights;

namespace UsageDashboard.Rollups;

/// <summary>The reach indexes over Meltano's plugin families (a public name over all its variants).</summary>
public sealed partial class RollupCache
{
    /// <summary>
    /// Over one tool's plugin-month segments, grouped by the family of each row's name
    /// (<see cref="PluginPageNames.Families"/>; the one function every caller passes).
    /// </summary>
    public ReachIndex? PluginFamilyReach(IReadOnlyList<MonthSegment<PluginMonthRow>> toolSegments, DateOnly from, ReachFilter filter,
        Func<int, long> family) =>
        Reach("plugin families", toolSegments, from, r => family(r.Name), null, PluginMonthsAsync, filter);

    /// <summary>Over one tool's plugin error-month segments, grouped by (family of the plugin name, error type) as <see cref="PairGroup"/>.</summary>
    public ReachIndex? PluginFamilyErrorReach(IReadOnlyList<MonthSegment<ErrorMonthRow>> toolSegments, DateOnly from, ReachFilter filter,
        Func<int, long> family) =>
        Reach("plugin family errors", toolSegments, from, r => family(r.Subject) is var f and >= 0 ? PairGroup((int)f, r.ErrorType) : -1, null,
            PluginErrorMonthsAsync, filter);
}
