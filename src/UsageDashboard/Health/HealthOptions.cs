namespace UsageDashboard.Health;

/// <summary>Settings of plugin-health detection (section <c>Health</c>). Defaults are the ones docs/health.md measures.</summary>
public sealed class HealthOptions
{
    /// <summary>How often the background evaluator runs.</summary>
    public TimeSpan EvaluateEvery { get; set; } = TimeSpan.FromMinutes(15);
    /// <summary>The short window a broken release or a spike must show up in; also the "full window" a flag must stay clear to resolve.</summary>
    public TimeSpan RecentWindow { get; set; } = TimeSpan.FromHours(6);
    /// <summary>The long window for slow degradation against other versions.</summary>
    public TimeSpan LongWindow { get; set; } = TimeSpan.FromDays(7);
    /// <summary>A version's own earlier history, just before the recent window.</summary>
    public TimeSpan HistoryWindow { get; set; } = TimeSpan.FromDays(7);
    /// <summary>Judged runs (succeeded + failed + aborted) a window needs before it is judged at all.</summary>
    public int MinRuns { get; set; } = 50;
    /// <summary>Distinct installations a window needs: one misconfigured installation must not flag a release.</summary>
    public int MinInstallations { get; set; } = 5;
    /// <summary>Distinct installations that saw a failure in the window.</summary>
    public int MinFailingInstallations { get; set; } = 3;
    /// <summary>Judged runs a baseline needs to be trusted.</summary>
    public int MinBaselineRuns { get; set; } = 200;
    /// <summary>Increase of the failure rate (absolute) above baseline that makes a version broken.</summary>
    public double BrokenIncrease { get; set; } = 0.05;
    /// <summary>Smallest increase that is reported at all (as degraded, from the long window).</summary>
    public double MinIncrease { get; set; } = 0.01;
    /// <summary>
    /// Counting evidence (Freeman–Tukey z of the failures against those the baseline predicts) a
    /// difference needs on top of the 95% intervals not overlapping: the
    /// detector looks at every version every 15 minutes, and this is what keeps that many looks from
    /// adding up to false flags (measured in docs/health.md).
    /// </summary>
    public double MinZ { get; set; } = 4.5;
    /// <summary>An open flag counts as clear when the recent increase is below this (hysteresis: well under the opening thresholds).</summary>
    public double ClearIncrease { get; set; } = 0.01;
    /// <summary>z (counting and robust) of the last <see cref="SpikeHours"/> hours against the version's hourly history that counts as a spike.</summary>
    public double SpikeZ { get; set; } = 6;
    public int SpikeHours { get; set; } = 2;
    /// <summary>Leave CI runs out of detection (they retry, run matrices and fail on purpose).</summary>
    public bool ExcludeCi { get; set; } = true;
    /// <summary>After a maintainer resolves a flag by hand, the same subject is not flagged again at the same severity for this long.</summary>
    public TimeSpan ReopenCooldown { get; set; } = TimeSpan.FromHours(24);
    /// <summary>Webhooks told when a flag opens, escalates or resolves.</summary>
    public List<WebhookTarget> Webhooks { get; set; } = [];
    /// <summary>Base address of this dashboard, for the evidence links in webhook messages.</summary>
    public string DashboardUrl { get; set; } = "http://127.0.0.1:5000";
    /// <summary>How often the webhook sender looks for due messages (it is also woken when a flag changes).</summary>
    public TimeSpan WebhookPollEvery { get; set; } = TimeSpan.FromSeconds(30);
    public int WebhookMaxAttempts { get; set; } = 10;
    public TimeSpan WebhookTimeout { get; set; } = TimeSpan.FromSeconds(10);
    /// <summary>Run the background evaluator and webhook sender (tests drive them by hand).</summary>
    public bool RunInBackground { get; set; } = true;
}

public sealed class WebhookTarget
{
    public string Url { get; set; } = "";
    /// <summary>When set, each message carries <c>X-UsageDashboard-Signature: sha256=&lt;hex HMAC of the body&gt;</c>.</summary>
    public string? Secret { get; set; }
}
