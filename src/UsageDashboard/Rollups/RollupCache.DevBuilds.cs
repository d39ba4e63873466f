using System.Runtime.CompilerServices;
using UsageDashboard.Insights;

namespace UsageDashboard.Rollups;

/// <summary>
/// Jetty's dev builds on the all-tools view (<see cref="InsightQuery.ExcludesDevBuilds"/>). Rows name no tool, and other
/// tools' build environments may be called "dev" too (Meltano's environments), so the view's filter cannot tell Jetty's
/// dev rows apart; the segments can: Jetty's installation-month segments come without the dev rows.
/// </summary>
public sealed partial class RollupCache
{
    // Per loaded segment its copy without dev rows (kept while the segment is), so reach indexes over the copies are
    // kept like any other; and the copies, so an index's rebuild fetches copies again.
    private readonly ConditionalWeakTable<MonthSegment<InstallationMonthRow>, MonthSegment<InstallationMonthRow>> _withoutDevBuilds = new();
    private readonly ConditionalWeakTable<MonthSegment<InstallationMonthRow>, object> _devBuildsLeftOut = new();

    /// <summary>
    /// The installation-month segments of <paramref name="query"/>'s view from <paramref name="from"/> to <paramref name="to"/>:
    /// on the all-tools view that leaves Jetty's dev builds out, Jetty's segments without them.
    /// </summary>
    public async Task<IReadOnlyList<MonthSegment<InstallationMonthRow>>> InstallationMonthsOfViewAsync(InsightQuery query, DateOnly from, DateOnly to,
        CancellationToken ct)
    {
        var segments = await InstallationMonthsAsync(query.Tool, from, to, ct);
        return query.Tool is null && query.ExcludesDevBuilds ? WithoutDevBuilds(segments) : segments;
    }

    private IReadOnlyList<MonthSegment<InstallationMonthRow>> WithoutDevBuilds(IReadOnlyList<MonthSegment<InstallationMonthRow>> segments)
    {
        // After the rows are in memory, so "dev" has its code if any row has it.
        var dev = Codes.Find(InsightQuery.DevBuild);
        if (dev <= 0 || !segments.Any(s => s.Tool == InsightQuery.DevBuildTool))
        {
            return segments;
        }
        return segments.Select(s => s.Tool != InsightQuery.DevBuildTool ? s : _withoutDevBuilds.GetValue(s, loaded =>
        {
            // Filtering keeps the rows' order by installation, which the merges rely on.
            var copy = loaded with { Rows = Array.FindAll(loaded.Rows, r => r.Environment != dev) };
            _devBuildsLeftOut.AddOrUpdate(copy, loaded);
            return copy;
        })).ToList();
    }

    /// <summary>How an index over <paramref name="toolSegments"/> fetches them again for a rebuild: as copies without dev builds if they are.</summary>
    private Func<string?, DateOnly, DateOnly, CancellationToken, Task<IReadOnlyList<MonthSegment<InstallationMonthRow>>>> InstallationFetch(
        IReadOnlyList<MonthSegment<InstallationMonthRow>> toolSegments) =>
        toolSegments.Any(s => _devBuildsLeftOut.TryGetValue(s, out _))
            ? async (tool, from, to, ct) => WithoutDevBuilds(await InstallationMonthsAsync(tool, from, to, ct))
            : InstallationMonthsAsync;
}
