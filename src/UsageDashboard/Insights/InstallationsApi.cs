using Microsoft.AspNetCore.Http.HttpResults;
using static UsageDashboard.Insights.InsightsApi;

namespace UsageDashboard.Insights;

/// <summary><c>GET /api/insights/installations</c>.</summary>
public static class InstallationsApi
{
    public static async Task<Results<Ok<InstallationsResponse>, FileContentHttpResult>> GetInstallations(
        HttpContext http, InstallationsService installations, FeaturesService features, CancellationToken ct)
    {
        var errors = new List<string>();
        var query = ParseQuery(http.Request.Query, installations.Today, errors);
        var rule = ActiveRule.Parse(http.Request.Query["active"], errors);
        var projecting = features.ProjectsAsync(query, ct);
        var data = await installations.GetAsync(query, rule, ct);
        var projects = await projecting;
        if (IsCsv(http))
        {
            return Csv("installations-daily.csv", ["day", "active_installations"],
                data.Daily.Select(d => new[] { Format.Date(d.Start), Inv(d.Installations) }));
        }
        var days = TimeBuckets.For(query, Grain.Day, data.Today);
        var weeks = TimeBuckets.For(query, Grain.Week, data.Today);
        var months = TimeBuckets.For(query, Grain.Month, data.Today);
        var daily = data.Daily.Select((p, i) => ActivePointItem.Of(p, days[i])).ToArray();
        var exclusions = data.Exclusions;
        return TypedResults.Ok(new InstallationsResponse(
            InsightQueryEcho.Of(query), errors, ActiveRule.Token(rule), ActiveRule.Definition(rule), data.Active, data.New,
            ProjectsSummary.Of(projects),
            new RuleExclusionsItem(exclusions.AnyEvent, exclusions.WithoutSuccess, exclusions.CiOnly, exclusions.SingleDay),
            daily, daily,
            [.. data.Weekly.Select((p, i) => ActivePointItem.Of(p, weeks[i]))],
            [.. data.Monthly.Select((p, i) => ActivePointItem.Of(p, months[i]))],
            [.. data.Lifecycle.Select(l => new LifecycleItem(Format.Date(l.Week), l.New, l.Returning, l.Resurrected, l.Dormant))],
            [.. data.Cohorts.Select(c => new CohortItem(Format.Date(c.Week), c.Size, c.Retained))],
            [.. data.Adoption.Select(a => new VersionAdoptionItem(Format.Date(a.Start), a.InstallationsByVersion))]));
    }
}

/// <summary>
/// Active installations under a rule, with what each stricter rule leaves out, per day, week and month, the weekly
/// lifecycle, cohort retention and version adoption. <c>Items</c> repeats <c>Daily</c> (the CSV's table).
/// </summary>
public sealed record InstallationsResponse(
    InsightQueryEcho Query,
    IReadOnlyList<string> Warnings,
    string ActiveRule,
    string ActiveRuleDefinition,
    long ActiveInstallations,
    long NewInstallations,
    ProjectsSummary Projects,
    RuleExclusionsItem ExcludedByRule,
    IReadOnlyList<ActivePointItem> Items,
    IReadOnlyList<ActivePointItem> Daily,
    IReadOnlyList<ActivePointItem> Weekly,
    IReadOnlyList<ActivePointItem> Monthly,
    IReadOnlyList<LifecycleItem> Lifecycle,
    IReadOnlyList<CohortItem> Cohorts,
    IReadOnlyList<VersionAdoptionItem> VersionAdoption);

/// <summary>Installations active under "any event", and how many each stricter rule (by its URL token) leaves out.</summary>
public sealed record RuleExclusionsItem(long AnyEvent, long Success, long Noci, long Multiday);

public sealed record ActivePointItem(string Start, long ActiveInstallations, bool InProgress, bool Partial)
{
    public static ActivePointItem Of(ActivePoint p, Bucket b) => new(Format.Date(p.Start), p.Installations, b.InProgress, b.Partial);
}

public sealed record LifecycleItem(string Week, long New, long Returning, long Resurrected, long Dormant);

/// <summary>A weekly cohort; <c>Retained[k]</c> is how many were active k weeks later, null before week k starts.</summary>
public sealed record CohortItem(string Week, long Size, IReadOnlyList<long?> Retained);

public sealed record VersionAdoptionItem(string Start, IReadOnlyDictionary<string, long> InstallationsByVersion);
