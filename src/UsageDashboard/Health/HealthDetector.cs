using System.Globalization;
using UsageDashboard.Insights;

namespace UsageDashboard.Health;

/// <summary>
/// Pure detection over counts: is this plugin version (or CLI release) failing clearly more than its
/// baseline? A finding needs all of: enough runs and installations, the current rate's 95% Wilson
/// interval entirely above the baseline's, an absolute increase over a threshold, and counting evidence
/// (<see cref="PoissonZ"/>) over <see cref="HealthOptions.MinZ"/>. The last guard is what keeps repeated evaluation
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
            // A broken release: against the other versions, both in the same window (same conditions) and
            // over the long window (a stable rate); it has to be clearly worse than each that has the runs.
            var peerFindings = new[] { (c.PeersRecent, "other versions"), (c.PeersLong, $"other versions over {Duration(o.LongWindow)}") }
                .Where(b => b.Item1.Judged >= o.MinBaselineRuns)
                .Select(b => (Baseline: b.Item1, Label: b.Item2, Z: Compare(c.Recent, b.Item1, o, broken: true)))
                .ToList();
            if (peerFindings.Count > 0 && peerFindings.All(b => b.Z is not null))
            {
                var weakest = peerFindings.MinBy(b => b.Z!.Value);
                findings.Add(Finding(c, DetectionMethods.Peers, HealthSeverity.Broken, c.Recent, weakest.Baseline, weakest.Z!.Value, recentStart, now, o,
                    OthersLabel(c.Subject, weakest.Label)));
            }
            // It broke while in use (an upstream API change, or for Meltano an unpinned pip_url that installed
            // a broken release): against its own earlier history, said from the estimated onset on.
            if (Compare(c.Recent, c.History, o, broken: true) is { } zh)
            {
                var finding = Finding(c, DetectionMethods.History, HealthSeverity.Broken, c.Recent, c.History, zh, recentStart, now, o,
                    $"the same version over the {Duration(o.HistoryWindow)} before");
                findings.Add(Onset(c.Hourly) is { } onset ? SinceOnset(c, finding, onset, "") : finding);
            }
        }

        if (Spike(c, now, o) is { } spike)
        {
            findings.Add(spike);
        }

        // The long window remembers a fixed problem for days: it only speaks while the recent window
        // is not back at baseline, so a fix resolves the flag in one recent window, not one long one.
        var nearBaseline = recentOk && IsNearBaseline(c, o);
        if (!nearBaseline && Sufficient(c.Long, o) && c.PeersLong.Judged >= o.MinBaselineRuns)
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
            IsClear = best is null && nearBaseline,
        };
    }

    /// <summary>Enough judged runs, installations and failing installations to say anything.</summary>
    private static bool Sufficient(WindowCounts w, HealthOptions o) =>
        w.Judged >= o.MinRuns && w.Installations >= o.MinInstallations;

    /// <summary>The evidence z when <paramref name="current"/> is clearly worse than <paramref name="baseline"/>, else null.</summary>
    private static double? Compare(WindowCounts current, WindowCounts baseline, HealthOptions o, bool broken)
    {
        if (baseline.Judged < o.MinBaselineRuns || current.FailingInstallations < o.MinFailingInstallations)
        {
            return null;
        }
        var p = (double)current.Failures / current.Judged;
        var b = (double)baseline.Failures / baseline.Judged;
        var (_, baselineHigh) = baseline.Interval;
        // Degraded: the intervals apart and the rates at least MinIncrease apart. Broken: even the most
        // favourable reading (the bottom of this interval against the top of the baseline's) is
        // BrokenIncrease worse, so a noisy window of a merely degraded version cannot look broken.
        var evidenced = current.Interval.Low - baselineHigh;
        if (evidenced <= 0 || (broken ? evidenced < o.BrokenIncrease : p - b < o.MinIncrease))
        {
            return null;
        }
        // Failures expected if the version failed at the top of the baseline's interval: the baseline's
        // own uncertainty is then on the side of "no flag".
        var z = PoissonZ(current.Failures, current.Judged * baselineHigh);
        return z >= o.MinZ ? z : null;
    }

    /// <summary>
    /// Freeman–Tukey deviate of <paramref name="observed"/> failures where <paramref name="expected"/>
    /// were expected: close to a standard normal for Poisson counts and, unlike (x − λ)/√λ, honest in the
    /// tail when λ is small, which is exactly where a handful of failures would otherwise look alarming.
    /// </summary>
    public static double PoissonZ(long observed, double expected) =>
        Math.Sqrt(observed) + Math.Sqrt(observed + 1) - Math.Sqrt(4 * expected + 1);

    /// <summary>
    /// The last <see cref="HealthOptions.SpikeHours"/> hours pooled, against the version's earlier hours:
    /// the counting evidence (as <see cref="PoissonZ"/> against the earlier rate) and a robust z-score
    /// against the median and MAD of the hourly rates must both clear <see cref="HealthOptions.SpikeZ"/>,
    /// so neither the odd bad hour in the history nor hour-to-hour noise beyond binomial sets it off.
    /// </summary>
    private static HealthFinding? Spike(SubjectCounts c, DateTime now, HealthOptions o)
    {
        var spikeStart = now - TimeSpan.FromHours(o.SpikeHours);
        long n = 0, f = 0, historyRuns = 0, historyFailures = 0;
        var rates = new List<double>(c.Hourly.Count);
        foreach (var h in c.Hourly)
        {
            if (h.Hour >= spikeStart)
            {
                n += h.Judged;
                f += h.Failures;
                continue;
            }
            historyRuns += h.Judged;
            historyFailures += h.Failures;
            if (h.Judged >= 5)
            {
                rates.Add((double)h.Failures / h.Judged);
            }
        }
        // A day of usable hours at least, and the recent window must meet the installation guards.
        if (rates.Count < 24 || n < o.MinRuns || historyRuns < o.MinBaselineRuns
            || c.Recent.Installations < o.MinInstallations || c.Recent.FailingInstallations < o.MinFailingInstallations)
        {
            return null;
        }
        var history = new WindowCounts(historyRuns, historyFailures);
        var before = (double)historyFailures / historyRuns;
        var p = (double)f / n;
        var current = new WindowCounts(n, f, c.Recent.Installations, c.Recent.FailingInstallations);
        if (current.Interval.Low - history.Interval.High < o.BrokenIncrease)
        {
            return null;
        }
        var median = Median(rates);
        var mad = Median(rates.Select(r => Math.Abs(r - median)).ToList()) * 1.4826;
        var robust = mad > 0 ? (p - median) / (mad / Math.Sqrt(o.SpikeHours)) : double.PositiveInfinity;
        var z = Math.Min(PoissonZ(f, n * history.Interval.High), robust);
        if (z < o.SpikeZ)
        {
            return null;
        }
        var evidence = Evidence(c, DetectionMethods.Spike, current, history, z, spikeStart, now);
        var reason = string.Create(CultureInfo.InvariantCulture,
            $"{c.Subject.Label} failed {Format.Count(f)} of {Format.Count(n)} runs ({Pct(p)}, 95% CI {Pct(current.Interval.Low)}–{Pct(current.Interval.High)}) in the last {Duration(TimeSpan.FromHours(o.SpikeHours))}, a sudden spike: the same version {Pct(before)} of {Format.Count(historyRuns)} runs in the {Duration(TimeSpan.FromHours(c.Hourly.Count - o.SpikeHours))} before");
        var finding = new HealthFinding(HealthSeverity.Broken, reason, evidence);
        return Onset(c.Hourly) is { } onset ? SinceOnset(c, finding, onset, ", a sudden spike") : finding;
    }

    /// <summary>Where the hourly failure rate stepped up: the hour, and the counts after and before it.</summary>
    public readonly record struct OnsetEstimate(DateTime At, WindowCounts After, WindowCounts Before);

    /// <summary>
    /// The most likely single step up in the hourly failure rate (the split maximising the binomial
    /// log-likelihood of two rates over one), with at least <see cref="MinOnsetRuns"/> judged runs on each
    /// side; null without such a step. It dates a break that no release marks, such as an unpinned
    /// Meltano pip_url that started installing a broken release.
    /// </summary>
    public static OnsetEstimate? Onset(IReadOnlyList<HourCount> hourly)
    {
        long totalRuns = 0, totalFailures = 0;
        foreach (var h in hourly)
        {
            totalRuns += h.Judged;
            totalFailures += h.Failures;
        }
        if (totalRuns < 2 * MinOnsetRuns)
        {
            return null;
        }
        long runs = 0, failures = 0;
        var best = double.NegativeInfinity;
        OnsetEstimate? onset = null;
        for (var i = 0; i < hourly.Count - 1; i++)
        {
            runs += hourly[i].Judged;
            failures += hourly[i].Failures;
            long afterRuns = totalRuns - runs, afterFailures = totalFailures - failures;
            if (runs < MinOnsetRuns || afterRuns < MinOnsetRuns || (double)afterFailures / afterRuns <= (double)failures / runs)
            {
                continue;
            }
            var ll = LogLikelihood(failures, runs) + LogLikelihood(afterFailures, afterRuns);
            if (ll > best)
            {
                best = ll;
                onset = new OnsetEstimate(hourly[i + 1].Hour, new WindowCounts(afterRuns, afterFailures), new WindowCounts(runs, failures));
            }
        }
        return onset;
    }

    /// <summary>Judged runs each side of an onset needs before the split is believed.</summary>
    public const int MinOnsetRuns = 30;

    private static double LogLikelihood(long failures, long runs)
    {
        if (failures == 0 || failures == runs)
        {
            return 0;
        }
        var p = (double)failures / runs;
        return (failures * Math.Log(p)) + ((runs - failures) * Math.Log(1 - p));
    }

    /// <summary>
    /// A history finding told from its onset: "X failed 38% of 410 runs from 41 installations since
    /// 2026-08-21 09:00 UTC; 2.3% of 5,120 runs in the 14 d before".
    /// </summary>
    private static HealthFinding SinceOnset(SubjectCounts c, HealthFinding finding, OnsetEstimate onset, string kind)
    {
        var (after, before) = (onset.After, onset.Before);
        var first = c.Hourly.Count > 0 ? c.Hourly[0].Hour : onset.At;
        var installations = c.Recent.Installations == 1 ? "1 installation" : $"{Format.Count(c.Recent.Installations)} installations";
        var reason = string.Create(CultureInfo.InvariantCulture,
            $"{c.Subject.Label} failed {Pct(after.FailureRate ?? 0)} of {Format.Count(after.Judged)} runs (95% CI {Pct(after.Interval.Low)}–{Pct(after.Interval.High)}) from {installations} since {onset.At:yyyy-MM-dd HH:mm} UTC{kind}; {Pct(before.FailureRate ?? 0)} of {Format.Count(before.Judged)} runs in the {Duration(onset.At - first)} before");
        return finding with { Reason = reason, Evidence = finding.Evidence with { Onset = onset.At } };
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
            reason += string.Create(CultureInfo.InvariantCulture, $" (degraded: clearly worse, but not by {o.BrokenIncrease * 100:0.#} percentage points for certain)");
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
