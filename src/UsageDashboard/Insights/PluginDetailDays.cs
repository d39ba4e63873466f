using UsageDashboard.Rollups;

namespace UsageDashboard.Insights;

/// <summary>
/// What a plugin page sums from the in-memory plugin-day rows of the stored names it stands for: outcomes in total,
/// per version key and per OS and version key under the view's filters; the tools and types in the period (the tool
/// filter only); and each version key's first sighting over all time (the earliest run of any day row). Versions are
/// keyed as <see cref="PluginPageNames.VersionKey"/> names them, a missing or empty version as "unknown".
/// </summary>
public sealed record PluginDetailDays(
    Outcomes Current,
    List<(string Version, Outcomes Outcomes)> Versions,
    List<MatrixCell> Matrix,
    Dictionary<string, DateTime> FirstSeen,
    List<string> Tools,
    List<string> Types)
{
    /// <summary>The sums over <paramref name="allTime"/>: the view's tool's plugin-day segments over all time (the period's among them).</summary>
    public static PluginDetailDays Sum(IReadOnlyList<MonthSegment<PluginDayRow>> allTime, PluginPageNames names, InsightQuery query,
        ReachFilter filter, StringCodes codes)
    {
        var empty = codes.Find("");
        var total = new Tally();
        var versions = new Dictionary<(int Name, int Version), Tally>();
        var matrix = new Dictionary<(int Os, int Name, int Version), Tally>();
        var first = new Dictionary<(int Name, int Version), DateTime>();
        var tools = new HashSet<string>(StringComparer.Ordinal);
        var types = new HashSet<int>();
        foreach (var segment in allTime)
        {
            foreach (ref readonly var row in segment.Rows.AsSpan())
            {
                if (!names.Contains(row.Name))
                {
                    continue;
                }
                var key = (row.Name, row.Version == empty ? 0 : row.Version);
                if (!first.TryGetValue(key, out var seen) || row.FirstAt < seen)
                {
                    first[key] = row.FirstAt;
                }
                if (!ReachCounts.InRange(segment.Month, row.Day, query.From, query.To))
                {
                    continue;
                }
                tools.Add(segment.Tool);
                if (row.Type > 0 && row.Type != empty)
                {
                    types.Add(row.Type);
                }
                if (!filter.Matches(in row))
                {
                    continue;
                }
                total.Add(row.Runs, row.Succeeded, row.Failed, row.Aborted);
                Add(versions, key, in row);
                Add(matrix, (row.OsName, key.Item1, key.Item2), in row);
            }
        }
        string Key((int Name, int Version) k) => PluginPageNames.VersionKey(codes.Text(k.Name)!, k.Version == 0 ? "unknown" : codes.Text(k.Version)!);
        // Two codes can name one key ("unknown" sent as a version, and no version): summed, as the SQL's grouping by key did.
        var firstSeen = new Dictionary<string, DateTime>(StringComparer.Ordinal);
        foreach (var (k, at) in first)
        {
            var text = Key(k);
            if (!firstSeen.TryGetValue(text, out var seen) || at < seen)
            {
                firstSeen[text] = at;
            }
        }
        return new PluginDetailDays(
            total.ToOutcomes(),
            versions.GroupBy(v => Key(v.Key), StringComparer.Ordinal).Select(g => (g.Key, Total(g.Select(v => v.Value.ToOutcomes())))).ToList(),
            matrix.GroupBy(c => (Os: c.Key.Os == 0 ? "unknown" : codes.Text(c.Key.Os)!, Version: Key((c.Key.Name, c.Key.Version))))
                .Select(g => new MatrixCell(g.Key.Os, g.Key.Version, Total(g.Select(c => c.Value.ToOutcomes())))).ToList(),
            firstSeen,
            [.. tools],
            [.. types.Select(t => codes.Text(t)!)]);
    }

    private static Outcomes Total(IEnumerable<Outcomes> all)
    {
        var tally = new Tally();
        foreach (var o in all)
        {
            tally.Add(o.Runs, o.Succeeded, o.Failed, o.Aborted);
        }
        return tally.ToOutcomes();
    }

    private static void Add<TKey>(Dictionary<TKey, Tally> into, TKey key, in PluginDayRow row) where TKey : notnull
    {
        if (!into.TryGetValue(key, out var tally))
        {
            into[key] = tally = new Tally();
        }
        tally.Add(row.Runs, row.Succeeded, row.Failed, row.Aborted);
    }
}
