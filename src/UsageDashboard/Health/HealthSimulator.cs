using System.Globalization;

namespace UsageDashboard.Health;

/// <summary>One line of the quality table in docs/health.md.</summary>
public sealed record QualityRow(string Scenario, string Measure, string Result, string Target, bool Pass);

/// <summary>
/// Measures detection quality on simulated hourly counts: pure and seeded, no database. Every scenario
/// feeds <see cref="HealthDetector"/> and <see cref="FlagLifecycle"/> exactly as production does, one
/// evaluation per simulated hour (production evaluates every 15 minutes, so it is if anything faster).
/// Model: runs per hour are Poisson around a volume with a daily cycle; each hour's failure rate is the
/// version's rate times log-normal noise (σ 0.15, real hours are noisier than binomial); distinct
/// installations in a window are what <c>n</c> runs drawn from a pool of installations would touch.
/// </summary>
public static class HealthSimulator
{
    private static readonly DateTime s_start = new(2026, 1, 1, 0, 0, 0, DateTimeKind.Utc);

    public static IReadOnlyList<QualityRow> Run(int seeds, HealthOptions o, int healthyPluginsPerSeed = 25)
    {
        var rows = new List<QualityRow>();
        var inv = CultureInfo.InvariantCulture;

        // Healthy: plugins of 3 long-lived versions plus a healthy release mid-way, 90 days, many volumes and base rates.
        long versions = 0, falseFlags = 0;
        for (var seed = 1; seed <= seeds; seed++)
        {
            var rng = new Random(seed);
            for (var i = 0; i < healthyPluginsPerSeed; i++)
            {
                var volume = Math.Exp(Math.Log(20) + rng.NextDouble() * (Math.Log(2000) - Math.Log(20)));
                var p0 = 0.005 + rng.NextDouble() * 0.075;
                var release = (20 + rng.Next(60)) * 24;
                var plugin = new SimPlugin(90 * 24);
                for (var v = 0; v < 3; v++)
                {
                    var share = v == 0 ? 0.5 : 0.25;
                    plugin.Add(0, h => volume * share * (h >= release ? 0.5 : 1), _ => p0);
                }
                plugin.Add(release, h => volume * 0.5 * Math.Min(1, (h - release + 1) / 48.0), _ => p0);
                var flags = plugin.Simulate(rng, o, 8 * 24);
                versions += plugin.Versions.Count;
                falseFlags += flags.Count(f => f.Opened);
            }
        }
        var per100 = 100.0 * falseFlags / versions;
        rows.Add(new QualityRow("Healthy versions, 90 days (20–2,000 runs/h per plugin, 0.5–8% base failure rate)",
            "false flags per 100 versions", string.Create(inv, $"{per100:F2} ({falseFlags} in {versions:N0} versions)"), "≤ 1", per100 <= 1));

        // Broken release at ≥ 200 runs/hour: flagged within 2 hours of data?
        var (detected, total, hours) = BrokenReleases(seeds * 8, o, minVolume: 200, maxVolume: 600, within: 2, seedOffset: 1000);
        rows.Add(new QualityRow("Broken release (+10 to +50 points), 200–600 runs/h", "flagged broken within 2 h of data",
            string.Create(inv, $"{100.0 * detected / total:F1}% ({detected}/{total}; median {Median(hours)} h)"), "≥ 95%", detected >= 0.95 * total));
        var (lowDetected, lowTotal, lowHours) = BrokenReleases(seeds * 8, o, minVolume: 20, maxVolume: 60, within: 24, seedOffset: 2000);
        rows.Add(new QualityRow("Broken release (+10 to +50 points), 20–60 runs/h", "flagged broken within 24 h",
            string.Create(inv, $"{100.0 * lowDetected / lowTotal:F1}% ({lowDetected}/{lowTotal}; median {Median(lowHours)} h)"), "(reported)", true));

        // A healthy version breaks while in use (upstream API change).
        var (spikeDetected, spikeTotal, spikeHours) = Spikes(seeds * 8, o, seedOffset: 3000);
        rows.Add(new QualityRow("Healthy version breaks in use (+10 to +40 points), 200–600 runs/h", "flagged broken within 2 h",
            string.Create(inv, $"{100.0 * spikeDetected / spikeTotal:F1}% ({spikeDetected}/{spikeTotal}; median {Median(spikeHours)} h)"), "≥ 95%", spikeDetected >= 0.95 * spikeTotal));

        // Gradual drift 2% → 4% over 14 days while the other versions stay at 2%.
        var (degraded, everBroken, driftTotal) = Drifts(seeds * 4, o, seedOffset: 4000);
        rows.Add(new QualityRow("Gradual drift 2% → 4% over 14 days, 200 runs/h", "reported degraded by day 14 / ever broken",
            string.Create(inv, $"{100.0 * degraded / driftTotal:F0}% / {everBroken} of {driftTotal}"), "degraded, never broken", everBroken == 0 && degraded >= 0.9 * driftTotal));

        // Meltano: no versions. An unpinned default pip_url starts installing a broken release at some hour;
        // the (plugin, variant, pip_url) subject is the same before and after, so only its own history tells.
        var (meltanoDetected, meltanoTotal, meltanoHours, onsetErrors) = MeltanoBreaks(seeds * 8, o, seedOffset: 6000);
        rows.Add(new QualityRow("Meltano default pip_url breaks at a date (+10 to +40 points), 20–200 runs/h", "flagged broken within 24 h / onset error",
            string.Create(inv, $"{100.0 * meltanoDetected / meltanoTotal:F1}% ({meltanoDetected}/{meltanoTotal}; median {Median(meltanoHours)} h) / median {Median(onsetErrors)} h"),
            "≥ 95%", meltanoDetected >= 0.95 * meltanoTotal));
        var (meltanoFalse, pipUrls) = MeltanoHealthy(seeds, o, seedOffset: 7000);
        var meltanoPer100 = 100.0 * meltanoFalse / pipUrls;
        rows.Add(new QualityRow("Meltano healthy pip_urls, 60 days (default + custom pins, 5–200 runs/h, 0.5–8% base)", "false flags per 100 pip_urls",
            string.Create(inv, $"{meltanoPer100:F2} ({meltanoFalse} in {pipUrls:N0})"), "≤ 1", meltanoPer100 <= 1));

        // Broken release fixed after 12 hours: resolves by itself, once, without flapping.
        var (resolved, flaps, recoveries, resolveHours) = Recoveries(seeds * 4, o, seedOffset: 5000);
        rows.Add(new QualityRow("Broken release fixed after 12 h", "auto-resolved / re-opened after resolving",
            string.Create(inv, $"{resolved} of {recoveries} (median {Median(resolveHours)} h after the fix) / {flaps}"), "all, no flapping", resolved == recoveries && flaps == 0));
        return rows;
    }

    private static (int Detected, int Total, List<int> Hours) BrokenReleases(int count, HealthOptions o, double minVolume, double maxVolume, int within, int seedOffset)
    {
        int detected = 0;
        var hours = new List<int>();
        for (var i = 0; i < count; i++)
        {
            var rng = new Random(seedOffset + i);
            var p0 = 0.005 + rng.NextDouble() * 0.05;
            var broken = p0 + 0.10 + rng.NextDouble() * 0.40;
            var volume = minVolume + rng.NextDouble() * (maxVolume - minVolume);
            var release = 14 * 24;
            var plugin = new SimPlugin(release + 48);
            plugin.Add(0, _ => 400, _ => p0);
            plugin.Add(0, _ => 200, _ => p0);
            var target = plugin.Add(release, _ => volume, _ => broken);
            var flags = plugin.Simulate(rng, o, release - 1);
            var first = flags.FirstOrDefault(f => f.Version == target && f.Opened && f.Severity == HealthSeverity.Broken);
            if (first is not null && first.Hour - release <= within)
            {
                detected++;
                hours.Add(first.Hour - release);
            }
        }
        return (detected, count, hours);
    }

    private static (int Detected, int Total, List<int> Hours) Spikes(int count, HealthOptions o, int seedOffset)
    {
        int detected = 0;
        var hours = new List<int>();
        for (var i = 0; i < count; i++)
        {
            var rng = new Random(seedOffset + i);
            var p0 = 0.005 + rng.NextDouble() * 0.05;
            var jump = 0.10 + rng.NextDouble() * 0.30;
            var volume = 200 + rng.NextDouble() * 400;
            var breakAt = 20 * 24 + rng.Next(24);
            var plugin = new SimPlugin(breakAt + 48);
            // Every version breaks (the upstream API changed under all of them): only its own history tells.
            var target = plugin.Add(0, _ => volume, h => h >= breakAt ? p0 + jump : p0);
            plugin.Add(0, _ => volume / 2, h => h >= breakAt ? p0 + jump : p0);
            var flags = plugin.Simulate(rng, o, breakAt - 1);
            var first = flags.FirstOrDefault(f => f.Version == target && f.Opened && f.Severity == HealthSeverity.Broken);
            if (first is not null && first.Hour - breakAt <= 2)
            {
                detected++;
                hours.Add(first.Hour - breakAt);
            }
        }
        return (detected, count, hours);
    }

    private static (int Detected, int Total, List<int> Hours, List<int> OnsetErrors) MeltanoBreaks(int count, HealthOptions o, int seedOffset)
    {
        int detected = 0;
        var hours = new List<int>();
        var onsetErrors = new List<int>();
        for (var i = 0; i < count; i++)
        {
            var rng = new Random(seedOffset + i);
            var p0 = 0.005 + rng.NextDouble() * 0.05;
            var jump = 0.10 + rng.NextDouble() * 0.30;
            var volume = 20 + rng.NextDouble() * 180;
            var breakAt = 20 * 24 + rng.Next(24);
            var plugin = new SimPlugin(breakAt + 48);
            // The default pip_url (most projects) breaks; a pinned custom pip_url keeps the old release.
            var target = plugin.Add(0, _ => volume, h => h >= breakAt ? p0 + jump : p0);
            plugin.Add(0, _ => volume / 5, _ => p0);
            var flags = plugin.Simulate(rng, o, breakAt - 1);
            var first = flags.FirstOrDefault(f => f.Version == target && f.Opened && f.Severity == HealthSeverity.Broken);
            if (first is not null && first.Hour - breakAt <= 24)
            {
                detected++;
                hours.Add(first.Hour - breakAt);
                if (first.Onset is { } onset)
                {
                    onsetErrors.Add((int)Math.Round(Math.Abs((onset - s_start.AddHours(breakAt)).TotalHours)));
                }
            }
        }
        return (detected, count, hours, onsetErrors);
    }

    private static (long FalseFlags, long PipUrls) MeltanoHealthy(int seeds, HealthOptions o, int seedOffset)
    {
        long falseFlags = 0, pipUrls = 0;
        for (var seed = 1; seed <= seeds; seed++)
        {
            var rng = new Random(seedOffset + seed);
            for (var i = 0; i < 25; i++)
            {
                var volume = Math.Exp(Math.Log(5) + rng.NextDouble() * (Math.Log(200) - Math.Log(5)));
                var p0 = 0.005 + rng.NextDouble() * 0.075;
                var plugin = new SimPlugin(60 * 24);
                plugin.Add(0, _ => volume * 0.8, _ => p0);
                plugin.Add(0, _ => volume * 0.15, _ => p0);
                plugin.Add(0, _ => volume * 0.05, _ => p0);
                var flags = plugin.Simulate(rng, o, 8 * 24);
                pipUrls += plugin.Versions.Count;
                falseFlags += flags.Count(f => f.Opened);
            }
        }
        return (falseFlags, pipUrls);
    }

    private static (int Degraded, int EverBroken, int Total) Drifts(int count, HealthOptions o, int seedOffset)
    {
        int degraded = 0, everBroken = 0;
        for (var i = 0; i < count; i++)
        {
            var rng = new Random(seedOffset + i);
            var start = 10 * 24;
            var days = 14 * 24;
            var plugin = new SimPlugin(start + days + 1);
            var target = plugin.Add(0, _ => 200, h => h < start ? 0.02 : 0.02 + 0.02 * Math.Min(1, (h - start) / (double)days));
            plugin.Add(0, _ => 200, _ => 0.02);
            plugin.Add(0, _ => 100, _ => 0.02);
            var flags = plugin.Simulate(rng, o, start);
            var mine = flags.Where(f => f.Version == target).ToList();
            if (mine.Any(f => f.Severity == HealthSeverity.Broken))
            {
                everBroken++;
            }
            if (mine.Any(f => f.Opened && f.Severity == HealthSeverity.Degraded))
            {
                degraded++;
            }
        }
        return (degraded, everBroken, count);
    }

    private static (int Resolved, int Flaps, int Total, List<int> Hours) Recoveries(int count, HealthOptions o, int seedOffset)
    {
        int resolved = 0, flaps = 0;
        var hours = new List<int>();
        for (var i = 0; i < count; i++)
        {
            var rng = new Random(seedOffset + i);
            var p0 = 0.005 + rng.NextDouble() * 0.05;
            var release = 14 * 24;
            var fixedAt = release + 12;
            var plugin = new SimPlugin(release + 10 * 24);
            plugin.Add(0, _ => 400, _ => p0);
            var target = plugin.Add(release, _ => 300, h => h < fixedAt ? p0 + 0.3 : p0);
            var flags = plugin.Simulate(rng, o, release - 1).Where(f => f.Version == target).ToList();
            var resolve = flags.FirstOrDefault(f => f.Resolved);
            if (resolve is not null)
            {
                resolved++;
                hours.Add(resolve.Hour - fixedAt);
                flaps += flags.Count(f => f.Opened && f.Hour > resolve.Hour);
            }
        }
        return (resolved, flaps, count, hours);
    }

    private static string Median(List<int> values)
    {
        if (values.Count == 0)
        {
            return "–";
        }
        values.Sort();
        return values[values.Count / 2].ToString(CultureInfo.InvariantCulture);
    }

    /// <summary>A change of one simulated flag.</summary>
    private sealed record SimFlag(int Version, int Hour, bool Opened, bool Resolved, HealthSeverity Severity, DateTime? Onset = null);

    private sealed class SimVersion(int firstHour, Func<int, double> volume, Func<int, double> rate)
    {
        public int FirstHour { get; } = firstHour;
        public Func<int, double> Volume { get; } = volume;
        public Func<int, double> Rate { get; } = rate;
        public long[] Runs { get; set; } = [];
        public long[] Failures { get; set; } = [];
        /// <summary>Installations this version's runs come from: about one per three runs an hour, at least 30.</summary>
        public double Pool { get; set; }
    }

    private sealed class SimPlugin(int hours)
    {
        public List<SimVersion> Versions { get; } = [];

        public int Add(int firstHour, Func<int, double> volume, Func<int, double> rate)
        {
            Versions.Add(new SimVersion(firstHour, volume, rate));
            return Versions.Count - 1;
        }

        /// <summary>Generates the counts, then evaluates every hour from <paramref name="evaluateFrom"/> on.</summary>
        public List<SimFlag> Simulate(Random rng, HealthOptions o, int evaluateFrom)
        {
            foreach (var v in Versions)
            {
                v.Runs = new long[hours + 1];
                v.Failures = new long[hours + 1];
                double peak = 0;
                for (var h = v.FirstHour; h < hours; h++)
                {
                    // A daily cycle: busier in the working day (UTC), never idle.
                    var cycle = 1 + 0.5 * Math.Sin(2 * Math.PI * (h % 24 - 8) / 24);
                    var mean = v.Volume(h) * cycle;
                    peak = Math.Max(peak, v.Volume(h));
                    var runs = Poisson(rng, mean);
                    var p = Math.Clamp(v.Rate(h) * Math.Exp(0.15 * Normal(rng)), 0, 1);
                    v.Runs[h] = runs;
                    v.Failures[h] = Binomial(rng, runs, p);
                }
                v.Pool = Math.Max(30, peak / 3 * 24);
            }
            var prefixRuns = Versions.Select(v => Prefix(v.Runs)).ToList();
            var prefixFailures = Versions.Select(v => Prefix(v.Failures)).ToList();
            var recentH = (int)o.RecentWindow.TotalHours;
            var longH = (int)o.LongWindow.TotalHours;
            var historyH = (int)o.HistoryWindow.TotalHours;

            var flags = new List<SimFlag>();
            var active = new ActiveFlag?[Versions.Count];
            var resolved = new PastResolution?[Versions.Count];
            for (var t = Math.Max(evaluateFrom, 1); t <= hours; t++)
            {
                var now = s_start.AddHours(t);
                for (var i = 0; i < Versions.Count; i++)
                {
                    var v = Versions[i];
                    if (v.FirstHour >= t)
                    {
                        continue;
                    }
                    WindowCounts Window(int version, int from, int to, bool withInstallations)
                    {
                        from = Math.Max(0, from);
                        to = Math.Max(from, to);
                        var n = prefixRuns[version][to] - prefixRuns[version][from];
                        var f = prefixFailures[version][to] - prefixFailures[version][from];
                        if (!withInstallations)
                        {
                            return new WindowCounts(n, f);
                        }
                        var pool = Versions[version].Pool;
                        return new WindowCounts(n, f, (long)(pool * (1 - Math.Exp(-n / pool))), (long)(pool * (1 - Math.Exp(-f / pool))));
                    }
                    var peersRecent = new WindowCounts();
                    var peersLong = new WindowCounts();
                    for (var j = 0; j < Versions.Count; j++)
                    {
                        if (j != i)
                        {
                            peersRecent += Window(j, t - recentH, t, false);
                            peersLong += Window(j, t - longH, t, false);
                        }
                    }
                    var hourly = new List<HourCount>(historyH + recentH);
                    for (var h = Math.Max(v.FirstHour, t - recentH - historyH); h < t; h++)
                    {
                        hourly.Add(new HourCount(s_start.AddHours(h), v.Runs[h], v.Failures[h]));
                    }
                    var counts = new SubjectCounts
                    {
                        Subject = HealthSubject.Plugin("sim", "tap-sim", i.ToString(CultureInfo.InvariantCulture)),
                        FirstSeen = s_start.AddHours(v.FirstHour),
                        Recent = Window(i, t - recentH, t, true),
                        Long = Window(i, t - longH, t, true),
                        PeersRecent = peersRecent,
                        PeersLong = peersLong,
                        History = Window(i, t - recentH - historyH, t - recentH, false),
                        Hourly = hourly,
                    };
                    var assessment = HealthDetector.Assess(counts, now, o);
                    var decision = FlagLifecycle.Decide(active[i], resolved[i], assessment, now, o);
                    switch (decision.Change)
                    {
                        case FlagChange.Open:
                            active[i] = new ActiveFlag(t, assessment.Severity, null);
                            flags.Add(new SimFlag(i, t, true, false, assessment.Severity, assessment.Finding?.Evidence.Onset));
                            break;
                        case FlagChange.Escalate:
                            active[i] = new ActiveFlag(t, assessment.Severity, null);
                            flags.Add(new SimFlag(i, t, false, false, assessment.Severity));
                            break;
                        case FlagChange.Refresh:
                            active[i] = active[i]! with { ClearSince = null };
                            break;
                        case FlagChange.Track:
                            active[i] = active[i]! with { ClearSince = decision.ClearSince };
                            break;
                        case FlagChange.Resolve:
                            flags.Add(new SimFlag(i, t, false, true, active[i]!.Severity));
                            resolved[i] = new PastResolution(active[i]!.Severity, now, ByHand: false);
                            active[i] = null;
                            break;
                    }
                }
            }
            return flags;
        }
    }

    private static long[] Prefix(long[] values)
    {
        var prefix = new long[values.Length + 1];
        for (var i = 0; i < values.Length; i++)
        {
            prefix[i + 1] = prefix[i] + values[i];
        }
        return prefix;
    }

    internal static double Normal(Random rng) =>
        Math.Sqrt(-2 * Math.Log(1 - rng.NextDouble())) * Math.Cos(2 * Math.PI * rng.NextDouble());

    internal static long Poisson(Random rng, double mean)
    {
        if (mean <= 0)
        {
            return 0;
        }
        if (mean > 30)
        {
            return Math.Max(0, (long)Math.Round(mean + Math.Sqrt(mean) * Normal(rng)));
        }
        var limit = Math.Exp(-mean);
        long k = 0;
        var product = rng.NextDouble();
        while (product > limit)
        {
            k++;
            product *= rng.NextDouble();
        }
        return k;
    }

    internal static long Binomial(Random rng, long n, double p)
    {
        if (n < 60 || n * p < 10 || n * (1 - p) < 10)
        {
            // Exact for small counts and rare events, where the normal approximation would be wrong.
            if (n * p < 10 && n >= 60)
            {
                return Math.Min(n, Poisson(rng, n * p));
            }
            long k = 0;
            for (var i = 0; i < n; i++)
            {
                if (rng.NextDouble() < p)
                {
                    k++;
                }
            }
            return k;
        }
        var sd = Math.Sqrt(n * p * (1 - p));
        return Math.Clamp((long)Math.Round(n * p + sd * Normal(rng)), 0, n);
    }
}
