using System.Globalization;

namespace UsageDashboard.Insights;

/// <summary>How long one bucket of a time series is.</summary>
public enum Grain
{
    Day,
    Week,
    Month,
}

/// <summary>
/// One bucket of a time series, <see cref="Start"/> inclusive and <see cref="End"/> exclusive.
/// <see cref="InProgress"/>: it contains today. <see cref="Partial"/>: the selected range cuts it. Either
/// way its count is not comparable with the others, so charts mark it instead of showing a drop.
/// </summary>
public sealed record Bucket(DateOnly Start, DateOnly End, bool InProgress, bool Partial)
{
    public bool Incomplete => InProgress || Partial;
}

/// <summary>Calendar buckets that match PostgreSQL's <c>date_trunc</c> (weeks start on Monday, ISO).</summary>
public static class TimeBuckets
{
    /// <summary>Days for up to a month, weeks up to about half a year, months beyond.</summary>
    public static Grain Auto(InsightQuery query) => query.Days <= 31 ? Grain.Day : query.Days <= 190 ? Grain.Week : Grain.Month;

    /// <summary>The unit for <c>date_trunc</c>; passed as a parameter, never concatenated.</summary>
    public static string SqlUnit(Grain grain) => grain switch
    {
        Grain.Week => "week",
        Grain.Month => "month",
        _ => "day",
    };

    public static DateOnly Truncate(DateOnly day, Grain grain) => grain switch
    {
        Grain.Week => day.AddDays(-(((int)day.DayOfWeek + 6) % 7)),
        Grain.Month => new DateOnly(day.Year, day.Month, 1),
        _ => day,
    };

    public static DateOnly Next(DateOnly start, Grain grain) => grain switch
    {
        Grain.Week => start.AddDays(7),
        Grain.Month => start.AddMonths(1),
        _ => start.AddDays(1),
    };

    /// <summary>Every bucket overlapping the query's period, in order, with none missing.</summary>
    public static IReadOnlyList<Bucket> For(InsightQuery query, Grain grain, DateOnly today) => For(query.From, query.To, grain, today);

    public static IReadOnlyList<Bucket> For(DateOnly from, DateOnly to, Grain grain, DateOnly today)
    {
        var buckets = new List<Bucket>();
        for (var start = Truncate(from, grain); start <= to; start = Next(start, grain))
        {
            var end = Next(start, grain);
            var inProgress = start <= today && today < end;
            var partial = !inProgress && (start < from || end > to.AddDays(1));
            buckets.Add(new Bucket(start, end, inProgress, partial));
        }
        return buckets;
    }

    public static string Label(DateOnly start, Grain grain) => grain switch
    {
        Grain.Month => start.ToString("yyyy-MM", CultureInfo.InvariantCulture),
        _ => start.ToString("yyyy-MM-dd", CultureInfo.InvariantCulture),
    };

    public static string Noun(Grain grain) => grain switch
    {
        Grain.Week => "week",
        Grain.Month => "month",
        _ => "day",
    };

    /// <summary>"(in progress)" / "(partial)" / "" for table rows.</summary>
    public static string Note(Bucket bucket) => bucket.InProgress ? "(in progress)" : bucket.Partial ? "(partial)" : "";
}
