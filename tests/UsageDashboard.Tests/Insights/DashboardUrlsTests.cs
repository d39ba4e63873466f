using UsageDashboard.Insights;

namespace UsageDashboard.Tests.Insights;

public sealed class DashboardUrlsTests
{
    private static readonly DateOnly s_today = new(2026, 11, 22);

    public static TheoryData<string> Urls => new()
    {
        "/",
        "/?tool=dbt",
        "/?range=7d",
        "/?tool=meltano&range=90d&env=ci&os=linux&version=3.5.0&compare=previous",
        "/?from=2026-09-01&to=2026-09-30",
        "/?tool=a%20b%26c%3Dd&env=notci",
        "/?range=12m&os=mac",
        "/?tool=dbt&runtime=python&runtimeVersion=3.11",
        "/?tool=jetty&os=linux&runtime=python&runtimeVersion=3.12.4&environment=dev&compare=previous",
        "/?tool=jetty&environment=all",
    };

    [Theory]
    [MemberData(nameof(Urls))]
    public void Overview_ParseThenBuild_SameUrl(string url)
    {
        var query = ParseUrl(url);

        Assert.Equal(url, DashboardUrls.Overview(query));
    }

    [Theory]
    [MemberData(nameof(Urls))]
    public void Overview_BuildThenParse_SameQuery(string url)
    {
        var query = ParseUrl(url);

        Assert.Equal(query, ParseUrl(DashboardUrls.Overview(query)));
    }

    [Fact]
    public void Parse_Presets_InclusiveDayBounds()
    {
        var q7 = InsightQuery.Parse(null, "7d", null, null, null, null, null, null, s_today);
        var q12m = InsightQuery.Parse(null, "12m", null, null, null, null, null, null, s_today);

        Assert.Equal((new DateOnly(2026, 11, 16), s_today, 7), (q7.From, q7.To, q7.Days));
        Assert.Equal(new DateOnly(2025, 11, 23), q12m.From);
        Assert.Equal((new DateOnly(2026, 11, 9), new DateOnly(2026, 11, 15)), q7.PreviousPeriod);
    }

    [Fact]
    public void Parse_FromToOverrideRange_RangeDropped()
    {
        var q = InsightQuery.Parse("dbt", "7d", "2026-01-01", "2026-01-31", null, null, null, null, s_today);

        Assert.Null(q.Range);
        Assert.Equal((new DateOnly(2026, 1, 1), new DateOnly(2026, 1, 31)), (q.From, q.To));
        Assert.Equal("/?tool=dbt&from=2026-01-01&to=2026-01-31", DashboardUrls.Overview(q));
    }

    [Fact]
    public void Parse_BadValues_DefaultsWithReasons()
    {
        var errors = new List<string>();

        var q = InsightQuery.Parse(null, "5y", "yesterday", null, "sometimes", null, null, null, s_today, errors);

        Assert.Equal(("30d", EnvironmentFilter.All), (q.Range, q.Environment));
        Assert.Equal(3, errors.Count);
        Assert.Contains(errors, e => e.Contains("'5y'", StringComparison.Ordinal));
        Assert.Contains(errors, e => e.Contains("yyyy-MM-dd", StringComparison.Ordinal));
        Assert.Contains(errors, e => e.Contains("'sometimes'", StringComparison.Ordinal));
    }

    [Fact]
    public void Parse_RuntimeFilters_RoundTripAndDevBuildsDefault()
    {
        var q = InsightQuery.Parse("jetty", null, null, null, null, null, null, null, s_today, null, " python ", "3.11.", null);

        Assert.Equal(("python", "3.11", null), (q.Runtime, q.RuntimeVersion, q.ToolEnvironment));
        Assert.True(q.ExcludesDevBuilds);
        Assert.True(q.HasPlatformFilter);
        Assert.Equal("/environments?tool=jetty&runtime=python&runtimeVersion=3.11", DashboardUrls.Environments(q));
        Assert.Equal(q, ParseUrl(DashboardUrls.Overview(q)));
        var all = q with { Runtime = null, RuntimeVersion = null, ToolEnvironment = InsightQuery.AnyToolEnvironment };
        Assert.False(all.ExcludesDevBuilds);
        Assert.False(all.HasPlatformFilter);
        Assert.Equal(all, ParseUrl(DashboardUrls.Commands(all)));
    }

    [Theory]
    [InlineData("3.11", "3.11", true)]
    [InlineData("3.11.4", "3.11", true)]
    [InlineData("3.110.1", "3.11", false)]
    [InlineData("3.1.2", "3.11", false)]
    [InlineData("3.11.4", "3.1", false)]
    [InlineData("3.11.4", "3", true)]
    [InlineData(null, "3", false)]
    public void RuntimeVersionMatches_Prefix_OnlyAtDotBoundaries(string? version, string prefix, bool expected) =>
        Assert.Equal(expected, InsightQuery.RuntimeVersionMatches(version, prefix));

    [Fact]
    public void Parse_FromAfterTo_Swapped()
    {
        var errors = new List<string>();

        var q = InsightQuery.Parse(null, null, "2026-02-10", "2026-02-01", null, null, null, null, s_today, errors);

        Assert.Equal((new DateOnly(2026, 2, 1), new DateOnly(2026, 2, 10)), (q.From, q.To));
        Assert.Single(errors);
    }

    [Theory]
    [InlineData("0001-01-01", null)]
    [InlineData("0001-01-01", "9999-12-31")]
    [InlineData("1999-12-31", "2000-01-05")]
    [InlineData(null, "2026-11-24")]
    [InlineData("2021-11-22", "2026-11-22")]
    public void Parse_PeriodOutOfBounds_DefaultPeriodWithTheLimits(string? from, string? to)
    {
        var errors = new List<string>();

        var q = InsightQuery.Parse(null, null, from, to, null, null, null, null, s_today, errors);

        Assert.Equal(("30d", 30), (q.Range, q.Days));
        var error = Assert.Single(errors);
        Assert.Contains("between 2000-01-01 and 2026-11-23", error, StringComparison.Ordinal);
        Assert.Equal(error.Replace(" Showing 30d.", "", StringComparison.Ordinal), InsightQuery.PeriodProblem(null, from, to, s_today));
    }

    [Theory]
    [InlineData("2000-01-01", "2004-12-31")]
    [InlineData("2021-11-24", "2026-11-23")]
    [InlineData("2026-11-01", "2026-11-23")]
    public void Parse_PeriodAtTheLimits_Accepted(string? from, string? to)
    {
        var errors = new List<string>();

        InsightQuery.Parse(null, null, from, to, null, null, null, null, s_today, errors);

        Assert.Empty(errors);
        Assert.Null(InsightQuery.PeriodProblem(null, from, to, s_today));
    }

    private static InsightQuery ParseUrl(string url)
    {
        var qs = Microsoft.AspNetCore.WebUtilities.QueryHelpers.ParseQuery(new Uri("http://x" + url).Query);
        string? Get(string key) => qs.TryGetValue(key, out var v) ? v.ToString() : null;
        return InsightQuery.Parse(Get("tool"), Get("range"), Get("from"), Get("to"), Get("env"), Get("os"), Get("version"), Get("compare"), s_today,
            null, Get("runtime"), Get("runtimeVersion"), Get("environment"));
    }
}
