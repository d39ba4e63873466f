using System.Globalization;

namespace UsageDashboard.Insights;

/// <summary>
/// Jetty reports its event before the command runs, so its runs have no outcome; the one failure it can report is a
/// panic (the <c>panicked</c> event, a failed run). A success rate over its judged runs would be 0 % of the panics,
/// so wherever a Jetty success rate would show, pages show panics per 1,000 invocations instead (every run judged).
/// </summary>
public static class PanicRate
{
    /// <summary>The tool whose outcomes are panics only.</summary>
    public const string Tool = "jetty";

    public const string Definition =
        "Jetty reports no outcome, only panics (its 'panicked' event): panics per 1,000 invocations (all runs), with its 95% Wilson interval and n.";

    public static bool Applies(string? tool) => tool == Tool;

    /// <summary>Panicked ÷ all runs.</summary>
    public static Rate Of(Outcomes outcomes) => new(outcomes.Failed, outcomes.Runs);

    /// <summary>"2.4 per 1,000".</summary>
    public static string Text(Rate rate) => rate.Value is { } v ? PerThousand(v) + " per 1,000" : "–";

    /// <summary>A tile's detail line: "95% CI 1.2–3.4 per 1,000 · n = 5,000".</summary>
    public static string Detail(Outcomes outcomes) =>
        outcomes.Runs == 0 ? "no runs" : $"95% CI {Cell(outcomes).Interval} per 1,000 · n = {Format.Count(outcomes.Runs)}";

    /// <summary>The cell a Jetty row shows in place of a success rate.</summary>
    public static RateCell Cell(Outcomes outcomes)
    {
        var rate = Of(outcomes);
        var interval = rate.Interval is { } i ? $"{PerThousand(i.Low)}–{PerThousand(i.High)}" : "";
        return new RateCell(Text(rate), interval, Format.Count(rate.Total), rate.IsSmallSample);
    }

    /// <summary>The success rate of <paramref name="outcomes"/>, or for Jetty its panics per 1,000 invocations.</summary>
    public static RateCell SuccessOrPanics(string? tool, Outcomes outcomes) =>
        Applies(tool) ? Cell(outcomes) : RateCell.Of(outcomes.SuccessRate);

    /// <summary>
    /// The change of panics per 1,000 invocations against the previous period, coloured as a success rate's is (more
    /// panics read as a fall), significant when the 95% intervals do not overlap.
    /// </summary>
    public static ChangeCell Change(Outcomes current, Outcomes previous)
    {
        var (now, before) = (Of(current), Of(previous));
        if (now.Interval is not { } c || before.Interval is not { } p)
        {
            return ChangeCell.None;
        }
        var delta = now.Value!.Value - before.Value!.Value;
        var text = (delta >= 0 ? "+" : "−") + PerThousand(Math.Abs(delta)) + " per 1,000";
        return new ChangeCell(text, delta > 0 ? Trend.Down : delta < 0 ? Trend.Up : Trend.Flat, c.Low > p.High || c.High < p.Low, Tested: true);
    }

    private static string PerThousand(double share) => (share * 1000).ToString("0.0", CultureInfo.InvariantCulture);
}
