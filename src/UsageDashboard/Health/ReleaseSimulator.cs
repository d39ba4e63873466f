using System.Globalization;
using UsageDashboard.Releases;

namespace UsageDashboard.Health;

/// <summary>
/// Measures the slice decomposition on simulated releases, with the volumes and jumps of the
/// <c>simulate-health</c> scenarios (<see cref="HealthSimulator"/>): a previous version runs a week over
/// 3 OSes × 3 runtimes × 4 commands, each cell with its own base failure rate (0.5–5.5%) and a random
/// share of the traffic; the new version keeps every cell's rate except the injected slice's, which
/// jumps. The injected slice must rank first (among cells, or on its dimension for an OS-wide break).
/// Pure and seeded, no database. It lives beside <see cref="HealthSimulator"/> (whose draws it uses): health
/// depends on releases, never the reverse.
/// </summary>
public static class ReleaseSimulator
{
    private static readonly string[] s_os = ["linux", "macos", "windows"];
    private static readonly string[] s_runtimes = ["python 3.10", "python 3.11", "python 3.12"];
    private static readonly string[] s_commands = ["run", "test", "build", "seed"];

    public static IReadOnlyList<QualityRow> Run(int seeds)
    {
        var inv = CultureInfo.InvariantCulture;
        var rows = new List<QualityRow>();
        void Add(string scenario, string measure, int first, int total, bool reportOnly = false)
        {
            var pct = 100.0 * first / total;
            rows.Add(new QualityRow(scenario, measure, string.Create(inv, $"{pct:F1}% ({first}/{total})"), reportOnly ? "(reported)" : "≥ 95%",
                reportOnly || first >= 0.95 * total));
        }
        Add("Broken release (+10 to +50 points) in one OS × runtime × command cell (≥ 5% of runs), 200–600 runs/h, 24 h",
            "injected cell ranked first", Count(seeds * 8, 1000, cellWide: true, 200, 600, 24, 0.10, 0.50, 0.05), seeds * 8);
        Add("Broken release (+10 to +50 points) on one OS (15–40% of runs), 200–600 runs/h, 6 h",
            "injected OS ranked first on its dimension and named in the headline", Count(seeds * 8, 2000, cellWide: false, 200, 600, 6, 0.10, 0.50, 0.15), seeds * 8);
        Add("Meltano pip_url breaks (+10 to +40 points) in one cell (≥ 10% of runs), 20–200 runs/h, 48 h",
            "injected cell ranked first", Count(seeds * 8, 3000, cellWide: true, 20, 200, 48, 0.10, 0.40, 0.10), seeds * 8);
        // Where it stops working: a small cell (1–3% of runs) after only 6 hours, with the smallest jumps.
        Add("Broken release (+10 to +20 points) in a small cell (1–3% of runs), 200–600 runs/h, 6 h",
            "injected cell ranked first", Count(seeds * 8, 4000, cellWide: true, 200, 600, 6, 0.10, 0.20, 0.01, spread: 0.02), seeds * 8, reportOnly: true);
        return rows;
    }

    /// <summary>How many of <paramref name="count"/> simulated releases rank the injected slice first.</summary>
    private static int Count(int count, int seedOffset, bool cellWide, double minVolume, double maxVolume, int hours,
        double minJump, double maxJump, double minShare, double? spread = null)
    {
        var first = 0;
        for (var i = 0; i < count; i++)
        {
            var rng = new Random(seedOffset + i);
            if (Simulate(rng, cellWide, minVolume, maxVolume, hours, minJump, maxJump, minShare, spread ?? (cellWide ? 0.10 : 0.25)))
            {
                first++;
            }
        }
        return first;
    }

    private static bool Simulate(Random rng, bool cellWide, double minVolume, double maxVolume, int hours, double minJump, double maxJump, double minShare, double spread)
    {
        var keys = (from os in s_os from rt in s_runtimes from c in s_commands select new[] { os, rt, c }).ToList();
        var weights = keys.Select(_ => -Math.Log(1 - rng.NextDouble())).ToArray();
        var target = rng.Next(keys.Count);
        var targetOs = keys[target][0];
        // Give the injected slice its share of the traffic; the rest keep their random mix.
        var share = minShare + rng.NextDouble() * spread;
        bool InSlice(int k) => cellWide ? k == target : keys[k][0] == targetOs;
        var inside = Enumerable.Range(0, keys.Count).Where(InSlice).Sum(k => weights[k]);
        var outside = weights.Sum() - inside;
        var mix = weights.Select((w, k) => InSlice(k) ? share * w / inside : (1 - share) * w / outside).ToArray();
        var rates = keys.Select(_ => 0.005 + rng.NextDouble() * 0.05).ToArray();
        var jump = minJump + rng.NextDouble() * (maxJump - minJump);
        var volume = minVolume + rng.NextDouble() * (maxVolume - minVolume);

        var cells = new List<SliceCounts>(keys.Count);
        for (var k = 0; k < keys.Count; k++)
        {
            // The previous version: a week at 400 runs/h. The new one: the scenario's volume and hours.
            var baseRuns = HealthSimulator.Poisson(rng, 400 * 24 * 7 * mix[k]);
            var baseFailures = HealthSimulator.Binomial(rng, baseRuns, rates[k]);
            var runs = HealthSimulator.Poisson(rng, volume * hours * mix[k]);
            var p = Math.Clamp((rates[k] + (InSlice(k) ? jump : 0)) * Math.Exp(0.15 * HealthSimulator.Normal(rng)), 0, 1);
            cells.Add(new SliceCounts(keys[k], new Outcomes(baseRuns, baseFailures), new Outcomes(runs, HealthSimulator.Binomial(rng, runs, p))));
        }
        var d = SliceDecomposition.Decompose(ReleaseService.SliceDimensions, cells);
        return cellWide
            ? d.Slices.Count > 0 && d.Slices[0].Key.SequenceEqual(keys[target])
            : d.ByDimension["os"] is [var top, ..] && top.Key[0] == targetOs && d.Headline?.Key.Contains(targetOs) == true;
    }
}
