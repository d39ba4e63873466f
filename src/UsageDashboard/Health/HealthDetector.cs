using System.Globalization;
using UsageDashboard.Insights;

namespace UsageDashboard.Health;

/// <summary>
/// Pure detection over counts: is this plugin version (or CLI release) failing clearly more than its
/// baseline? A finding needs all of: enough runs and installations, the current rate's 95% Wilson
/// interval entirely above the baseline's, an absolute increase over a threshold, and a two-proportion
/// z-score over <see cref="HealthOptions.MinZ"/>. The last guard is what keeps repeated evaluation
/// (every 15 minutes, for every version) from turning 95% intervals into a false flag a day.
/// </summary>
public static class HealthDetector
{
    public static HealthAssessment Assess(SubjectCounts c, DateTime now, HealthOptions o)
    {
        var recentStart = now - o.RecentWindow;
        var findings = new List<HealthFinding>(4);
        var recentOk = Sufficient(c.Recent, o);

        if (recentOk)
        {
            // A broken release: against the other versions, in the same window if they have the runs for it.
            var peers = c.PeersRecent.Judged >= o.MinBaselineRuns ? c.PeersRecent : c.PeersLong;
            var peersLabel = c.PeersRecent.Judged >= o.MinBaselineRuns ? "other versions" : $"other versions over {Duration(o.LongWindow)}";
            if (Compare(c.Recent, peers, o, broken: true) is { } z)
            {
                findings.Add(Finding(c, DetectionMethods.Peers, HealthSeverity.Broken, c.Recent, peers, z, recentStart, now, o,
                    OthersLabel(c.Subject, peersLabel)));
            }
            // It broke while in use (an upstream API change): against its own earlier history.
            if (Compare(c.Recent, c.History, o, broken: true) is { } zh)
            {
                findings.Add(Finding(c, DetectionMethods.History, HealthSeverity.Broken, c.Recent, c.History, zh, recentStart, now, o,
                    $"the same version over the {Duration(o.HistoryWindow)} before"));
            }
        }

        if (Spike(c, now, o) is { } spike)
        {
            findings.Add(spike);
        }

        if (Sufficient(c.Long, o) && c.PeersLong.Judged >= o.MinBaselineRuns)
        {
            var longStart = now - o.LongWindow;
            if (Compare(c.Long, c.PeersLong, o, broken: true) is { } zb)
            {
                findings.Add(Finding(c, DetectionMethods.Drift, HealthSeverity.Broken, c.Long, c.PeersLong, zb, longStart, now, o,
                    OthersLabel(c.Subject, "other versions")));
            }
            else if (Compare(c.Long, c.PeersLong, o, broken: false) is { } zd)
            {
                findings.Add(Finding(c, DetectionMethods.Drift, HealthSeverity.Degraded, c.Long, c.PeersLong, zd, longStart, now, o,
                    OthersLabel(c.Subject, "other versions")));
            }
        }

        // Worst first; at equal severity the recent-window findings, whose reasons are the more specific.
        var best = findings.OrderByDescending(f => f.Severity).ThenBy(f => f.Evidence.Method == DetectionMethods.Drift).ThenByDescending(f => f.Evidence.Z).FirstOrDefault();
        return new HealthAssessment
        {
            Subject = c.Subject,
            Finding = best,
            SufficientData = recentOk,
            IsClear = best is null && recentOk && IsNearBaseline(c, o),
        };
    }

    /// <summary>Enough judged runs, installations and failing installations to say anything.</summary>
    private static bool Sufficient(WindowCounts w, HealthOptions o) =>
        w.Judged >= o.MinRuns && w.Installations >= o.MinInstallations;

    /// <summary>The z-score when <paramref name="current"/> is clearly worse than <paramref name="baseline"/>, else null.</summary>
    private static double? Compare(WindowCounts current, WindowCounts baseline, HealthOptions o, bool broken)
    {
        if (baseline.Judged < o.MinBaselineRuns || current.FailingInstallations < o.MinFailingInstallations)
        {
            return null;
        }
        var p = (double)current.Failures / current.Judged;
        var b = (double)baseline.Failures / baseline.Judged;
        var increase = p - b;
        if (increase < (broken ? o.BrokenIncrease : o.MinIncrease))
        {
            return null;
        }
        if (current.Interval.Low <= baseline.Interval.High)
        {
            return null;
        }
        var z = TwoProportionZ(current, baseline);
        return z >= o.MinZ ? z : null;
    }

    public static double TwoProportionZ(WindowCounts a, WindowCounts b)
    {
        var pooled = (double)(a.Failures + b.Failures) / (a.Judged + b.Judged);
        // A floor on the pooled rate: two all-success baselines must not make any single failure infinitely significant.
        pooled = Math.Clamp(pooled, 0.5 / (a.Judged + b.Judged), 1 - 0.5 / (a.Judged + b.Judged));
        var se = Math.Sqrt(pooled * (1 - pooled) * (1.0 / a.Judged + 1.0 / b.Judged));
        return ((double)a.Failures / a.Judged - (double)b.Failures / b.Judged) / se;
    }

    /// <summary>
    /// The last <see cref="HealthOptions.SpikeHours"/> hours pooled, against the median and MAD of the
    /// version's earlier hourly failure rates: robust to the odd bad hour in the history itself.
    /// </summary>
    private static HealthFinding? Spike(SubjectCounts c, DateTime now, HealthOptions o)
    {
        var spikeStart = now - TimeSpan.FromHours(o.SpikeHours);
        long n = 0, f = 0;
        var rates = new List<double>(c.Hourly.Count);
        foreach (var h in c.Hourly)
        {
            if (h.Hour >= spikeStart)
            {
                n += h.Judged;
                f += h.Failures;
            }
            else if (h.Judged >= 5)
            {
                rates.Add((double)h.Failures / h.Judged);
            }
        }
        // A day of usable hours at least, and the recent window must meet the installation guards.
        if (rates.Count < 24 || n < o.MinRuns || c.Recent.Installations < o.MinInstallations || c.Recent.FailingInstallations < o.MinFailingInstallations)
        {
            return null;
        }
        var median = Median(rates);
        var mad = Median(rates.Select(r => Math.Abs(r - median)).ToList()) * 1.4826;
        var p = (double)f / n;
        var floor = Math.Max(median, 0.5 / n);
        var binomial = Math.Sqrt(floor * (1 - floor) / n);
        var sigma = Math.Max(binomial, mad / Math.Sqrt(o.SpikeHours));
        var z = (p - median) / sigma;
        if (z < o.SpikeZ || p - median < o.BrokenIncrease)
        {
            return null;
        }
        var current = new WindowCounts(n, f, c.Recent.Installations, c.Recent.FailingInstallations);
        var history = c.Hourly.Where(h => h.Hour < spikeStart).Aggregate(new WindowCounts(), (acc, h) => acc + new WindowCounts(h.Judged, h.Failures));
        var evidence = Evidence(c, DetectionMethods.Spike, current, history, z, spikeStart, now) with { BaselineRate = median };
        var reason = string.Create(CultureInfo.InvariantCulture,
            $"{c.Subject.Label} failed {Format.Count(f)} of {Format.Count(n)} runs ({Pct(p)}, 95% CI {Pct(current.Interval.Low)}–{Pct(current.Interval.High)}) in the last {Duration(TimeSpan.FromHours(o.SpikeHours))}, a sudden spike: its typical hourly failure rate before was {Pct(median)} (robust z {z:F1})");
        return new HealthFinding(HealthSeverity.Broken, reason, evidence);
    }

    /// <summary>Recent rate close to every baseline it has (the hysteresis band for resolving).</summary>
    private static bool IsNearBaseline(SubjectCounts c, HealthOptions o)
    {
        var rate = c.Recent.FailureRate ?? 0;
        var baselines = new[] { c.PeersLong, c.History }.Where(b => b.Judged >= o.MinBaselineRuns).ToList();
        if (baselines.Count == 0)
        {
            return false;
        }
        // Near the lower of the baselines: a version that is still failing a lot must not count as
        // clear just because its own (broken) history is just as bad.
        var baseline = baselines.Min(b => b.FailureRate!.Value);
        return rate - baseline < o.ClearIncrease;
    }

    private static HealthFinding Finding(SubjectCounts c, string method, HealthSeverity severity, WindowCounts current, WindowCounts baseline,
        double z, DateTime windowStart, DateTime now, HealthOptions o, string baselineLabel)
    {
        var evidence = Evidence(c, method, current, baseline, z, windowStart, now);
        var since = c.FirstSeen > windowStart
            ? $"since it was first seen {Duration(now - c.FirstSeen)} ago"
            : $"in the last {Duration(now - windowStart)}";
        var installations = current.Installations == 1 ? "1 installation" : $"{Format.Count(current.Installations)} installations";
        var reason = string.Create(CultureInfo.InvariantCulture,
            $"{c.Subject.Label} failed {Format.Count(current.Failures)} of {Format.Count(current.Judged)} runs ({Pct(evidence.Rate)}, 95% CI {Pct(evidence.RateLow)}–{Pct(evidence.RateHigh)}) from {installations} {since}; {baselineLabel} {Pct(evidence.BaselineRate)} of {Format.Count(baseline.Judged)} runs");
        if (severity == HealthSeverity.Degraded)
        {
            reason += " (degraded: clearly worse, but by less than " + Pct(o.BrokenIncrease) + " points)";
        }
        return new HealthFinding(severity, reason, evidence);
    }

    private static HealthEvidence Evidence(SubjectCounts c, string method, WindowCounts current, WindowCounts baseline, double z, DateTime windowStart, DateTime now)
    {
        var (low, high) = current.Interval;
        var (bLow, bHigh) = baseline.Interval;
        var rate = current.FailureRate ?? 0;
        var baseRate = baseline.FailureRate ?? 0;
        return new HealthEvidence
        {
            Method = method,
            Runs = current.Judged,
            Failures = current.Failures,
            Installations = current.Installations,
            FailingInstallations = current.FailingInstallations,
            Rate = rate,
            RateLow = low,
            RateHigh = high,
            BaselineRuns = baseline.Judged,
            BaselineFailures = baseline.Failures,
            BaselineRate = baseRate,
            BaselineLow = bLow,
            BaselineHigh = bHigh,
            Increase = rate - baseRate,
            Z = Math.Round(z, 2),
            FirstSeen = c.FirstSeen,
            WindowStart = windowStart,
            EvaluatedAt = now,
        };
    }

    private static string OthersLabel(HealthSubject s, string label) =>
        s.Kind == HealthSubject.ToolKind ? label.Replace("other versions", $"other {s.Tool} releases", StringComparison.Ordinal) : label;

    private static double Median(List<double> values)
    {
        values.Sort();
        var mid = values.Count / 2;
        return values.Count % 2 == 1 ? values[mid] : (values[mid - 1] + values[mid]) / 2;
    }

    /// <summary>A failure rate for a sentence: whole percent from 10%, one decimal below.</summary>
    public static string Pct(double value) =>
        (value * 100).ToString(value >= 0.095 ? "F0" : "F1", CultureInfo.InvariantCulture) + "%";

    /// <summary>"45 min", "6 h", "3 d".</summary>
    public static string Duration(TimeSpan span)
    {
        if (span < TimeSpan.FromHours(1))
        {
            return Math.Max(1, (int)Math.Round(span.TotalMinutes)).ToString(CultureInfo.InvariantCulture) + " min";
        }
        if (span < TimeSpan.FromHours(48))
        {
            return ((int)Math.Round(span.TotalHours)).ToString(CultureInfo.InvariantCulture) + " h";
        }
        return ((int)Math.Round(span.TotalDays)).ToString(CultureInfo.InvariantCulture) + " d";
    }
}
