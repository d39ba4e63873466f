using UsageDashboard.Insights;

namespace UsageDashboard.Tests.Insights;

public sealed class DashboardUrlsPagesTests
{
    private static readonly DateOnly s_today = new(2026, 11, 1);

    private static InsightQuery ParseUrl(string url, List<string>? errors = null)
    {
        var query = url.Contains('?', StringComparison.Ordinal) ? url[(url.IndexOf('?', StringComparison.Ordinal) + 1)..] : "";
        var values = query.Split('&', StringSplitOptions.RemoveEmptyEntries)
            .Select(p => p.Split('=', 2))
            .ToDictionary(p => Uri.UnescapeDataString(p[0]), p => Uri.UnescapeDataString(p[1]));
        string? Get(string key) => values.GetValueOrDefault(key);
        return InsightQuery.Parse(Get("tool"), Get("range"), Get("from"), Get("to"), Get("env"), Get("os"), Get("version"), Get("compare"), s_today, errors);
    }

    public static TheoryData<string> Urls() =>
    [
        "/",
        "/commands?tool=dbt&range=7d&env=ci&os=linux&version=1.8.0&compare=previous",
        "/plugins?from=2026-01-01&to=2026-02-15&env=notci",
        "/installations?tool=a%20%26%20b&range=12m&os=mac%2Fos",
        "/environments?range=90d&version=%3D1%2B1",
    ];

    [Theory]
    [MemberData(nameof(Urls))]
    public void QueryString_ParseThenBuild_SameUrl(string url)
    {
        var errors = new List<string>();
        var query = ParseUrl(url, errors);
        var path = url.Split('?')[0];

        Assert.Empty(errors);
        Assert.Equal(url, path + DashboardUrls.QueryString(query));
    }

    [Fact]
    public void QueryString_BuildThenParse_SameQuery()
    {
        var query = new InsightQuery
        {
            Tool = "meltano", Range = null, From = new DateOnly(2026, 3, 1), To = new DateOnly(2026, 3, 31),
            Environment = EnvironmentFilter.NotCi, Os = "windows", Version = "3.5.0", ComparePrevious = true,
        };

        Assert.Equal(query, ParseUrl(DashboardUrls.Commands(query)));
        Assert.Equal(query, ParseUrl(DashboardUrls.Installations(query, "noci")));
    }

    [Fact]
    public void Command_NameWithSlashSpaceAndQuote_EscapedAsOneSegmentAndReadBack()
    {
        var query = InsightQuery.Parse("dbt", "7d", null, null, null, null, null, null, s_today);

        var url = DashboardUrls.Command(query, "run/it \"now\"?");

        Assert.Equal("/commands/run%2Fit%20%22now%22%3F?tool=dbt&range=7d", url);
        // The server decodes everything but %2F in a route value.
        Assert.Equal("run/it \"now\"?", DashboardUrls.FromSegment("run%2Fit \"now\"?"));
    }

    [Fact]
    public void Installations_DefaultRule_LeftOutOfUrl()
    {
        var query = InsightQuery.Parse(null, null, null, null, null, null, null, null, s_today);

        Assert.Equal("/installations", DashboardUrls.Installations(query, ActiveRule.DefaultToken));
        Assert.Equal("/api/insights/installations?active=multiday&format=csv", DashboardUrls.InstallationsApi(query, "multiday", "csv"));
        Assert.Equal("/api/insights/plugins/tap%20x", DashboardUrls.PluginApi(query, "tap x"));
    }

    [Theory]
    [InlineData(null, ActiveRuleKind.AnyEvent, 0)]
    [InlineData("success", ActiveRuleKind.SuccessfulRun, 0)]
    [InlineData("NOCI", ActiveRuleKind.ExcludeCiOnly, 0)]
    [InlineData("multiday", ActiveRuleKind.ExcludeSingleDay, 0)]
    [InlineData("bogus", ActiveRuleKind.AnyEvent, 1)]
    public void ActiveRuleParse_Token_RuleAndWarnings(string? token, ActiveRuleKind expected, int warnings)
    {
        var errors = new List<string>();

        Assert.Equal(expected, ActiveRule.Parse(token, errors));
        Assert.Equal(warnings, errors.Count);
    }

    [Fact]
    public void TimeBuckets_WeeksOverRangeEndingToday_FirstPartialLastInProgress()
    {
        var buckets = TimeBuckets.For(new DateOnly(2026, 10, 14), s_today, Grain.Week, s_today);

        Assert.Equal([new DateOnly(2026, 10, 12), new DateOnly(2026, 10, 19), new DateOnly(2026, 10, 26)], buckets.Select(b => b.Start));
        Assert.Equal([true, false, false], buckets.Select(b => b.Partial));
        Assert.Equal([false, false, true], buckets.Select(b => b.InProgress));
    }

    [Theory]
    [InlineData("1.10.0", "1.9.3", 1)]
    [InlineData("1.2.0-rc1", "1.2.0", -1)]
    [InlineData("v2.0", "1.99", 1)]
    [InlineData("1.2", "1.2.1", -1)]
    public void VersionOrder_Compare_ReadsNumbersAsNumbers(string a, string b, int sign)
    {
        Assert.Equal(sign, Math.Sign(VersionOrder.Instance.Compare(a, b)));
    }
}
