#:project ../../src/UsageDashboard/UsageDashboard.csproj
#:property PublishAot=false
#:property TieredPGO=false
// Build times of the reach indexes (Insights/ReachIndex) over a bench store's rollup rows: the first build
// (cold code) and the steady one, per grouping, for the months of a 30-day and a 90-day view (the previous
// period included). Start the store's cluster first (tests/bench/cluster.sh: bench_start), then:
//   dotnet run tests/bench/reach-build.cs -- "Host=<store>/socket;Database=usage;Username=postgres" [rounds=5] [today=yyyy-MM-dd]
using System.Diagnostics;
using System.Globalization;
using Npgsql;
using UsageDashboard.Insights;
using UsageDashboard.Rollups;

var connection = args[0];
var rounds = args.Length > 1 ? int.Parse(args[1], CultureInfo.InvariantCulture) : 5;
await using var dataSource = NpgsqlDataSource.Create(connection);
DateOnly today;
if (args.Length > 2)
{
    today = DateOnly.ParseExact(args[2], "yyyy-MM-dd", CultureInfo.InvariantCulture);
}
else
{
    await using var cmd = dataSource.CreateCommand("SELECT max(day) FROM rollup_run_days");
    today = (DateOnly)(await cmd.ExecuteScalarAsync())!;
}
var cache = new RollupCache(dataSource, RollupSource.Create());
double total = 0;
var days = await cache.InstallationDaysAsync(default);
foreach (var (label, from) in new[] { ("30-day view", today.AddDays(-59)), ("90-day view", today.AddDays(-179)) })
{
    var installations = await cache.InstallationMonthsAsync(null, from, today, default);
    var commands = await cache.CommandMonthsAsync(null, from, today, default);
    var plugins = await cache.PluginMonthsAsync(null, from, today, default);
    Console.WriteLine($"{label} (months from {from:yyyy-MM}): {installations.Sum(s => s.Rows.Length)} installation-month, " +
        $"{commands.Sum(s => s.Rows.Length)} command-month, {plugins.Sum(s => s.Rows.Length)} plugin-month rows");
    Time("installations (with first sightings)", installations, s => ReachIndex.Build(s, from, _ => 0L, days));
    Time("commands", commands, s => ReachIndex.Build(s, from, r => r.Command));
    Time("command versions", commands, s => ReachIndex.Build(s, from, r => RollupCache.PairGroup(r.Command, r.ToolVersion)));
    Time("plugins", plugins, s => ReachIndex.Build(s, from, r => RollupCache.PluginGroup(r.Name, r.Type)));
    Time("plugin versions", plugins, s => ReachIndex.Build(s, from, r => RollupCache.PairGroup(r.Name, r.Version)));
    Time("command systems", commands, s => ReachIndex.Build(s, from, r => RollupCache.PairGroup(r.Command, r.OsName)));
    Time("plugin names", plugins, s => ReachIndex.Build(s, from, r => r.Name));
    // The environments page's five dimensions, grouped by codes here (by the value's text in the app: the same rows per group).
    Time("OS", installations, s => ReachIndex.Build(s, from, r => r.OsName));
    Time("OS versions", installations, s => ReachIndex.Build(s, from, r => RollupCache.PairGroup(r.OsName, r.OsVersion)));
    Time("runtimes", installations, s => ReachIndex.Build(s, from, r => r.RuntimeName));
    Time("runtime versions", installations, s => ReachIndex.Build(s, from, r => RollupCache.PairGroup(r.RuntimeName, r.RuntimeVersion)));
    Time("tool versions", installations, s => ReachIndex.Build(s, from, r => r.ToolVersion));
    Console.WriteLine($"  all of the above: {total:F0} ms (steady rounds, mean)");
    total = 0;
}

void Time<T>(string name, IReadOnlyList<MonthSegment<T>> segments, Func<IReadOnlyList<MonthSegment<T>>, ReachIndex> build) where T : struct, IMonthRow
{
    var times = new List<double>();
    long entries = 0;
    for (var round = 0; round < rounds; round++)
    {
        var watch = Stopwatch.StartNew();
        entries = 0;
        foreach (var tool in segments.GroupBy(s => s.Tool, StringComparer.Ordinal))
        {
            entries += build([.. tool]).Entries;
        }
        times.Add(watch.Elapsed.TotalMilliseconds);
    }
    total += times.Skip(1).Average();
    Console.WriteLine($"  {name}: first {times[0]:F0} ms, then {string.Join(" / ", times.Skip(1).Select(t => t.ToString("F0", CultureInfo.InvariantCulture)))} ms; {entries} entries");
}
