using Bunit;
using UsageDashboard.Components.Pages.Commands;
using UsageDashboard.Components.Pages.Environments;
using UsageDashboard.Components.Pages.Installations;
using UsageDashboard.Components.Pages.Overview;
using UsageDashboard.Components.Pages.Plugins;
using UsageDashboard.Components.Shared;
using UsageDashboard.Insights;

namespace UsageDashboard.Tests.Components;

/// <summary>The pure views rendered by bUnit from hand-built data, queried as DOM.</summary>
public sealed class InsightViewsTests : IAsyncLifetime
{
    private readonly BunitContext _ctx = BunitHost.ForViews();
    private static readonly DateOnly s_today = new(2026, 11, 1);
    private static readonly InsightQuery s_week = new() { Range = "7d", From = s_today.AddDays(-6), To = s_today };

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync() => await _ctx.DisposeAsync();

    private IRenderedComponent<TView> Render<TView>(object model) where TView : Microsoft.AspNetCore.Components.IComponent =>
        _ctx.Render<TView>(b =>
        {
            b.OpenComponent<TView>(0);
            b.AddComponentParameter(1, "Model", model);
            b.CloseComponent();
        });

    private static CommandsData Commands(params CommandStats[] rows) => new(s_week, s_today, rows.Sum(r => r.Current.Runs), rows, ["dbt"]);

    [Fact]
    public void CommandsView_Rows_EscapedLinksIntervalsAndSmallSampleBadge()
    {
        var model = CommandsViewModel.Create(Commands(
            new CommandStats("dbt", "run", new Outcomes(200, 190, 8, 2), 40, 1200, 9000, new Outcomes(100, 99, 1, 0)),
            new CommandStats("dbt", "<b>x</b>/y", new Outcomes(3, 1, 2, 0), 1, null, null, Outcomes.Zero)));

        var doc = Render<CommandsView>(model);

        var rows = doc.FindAll("[data-table=commands] tbody tr");
        Assert.Equal(2, rows.Count);
        Assert.Equal("/commands/run?tool=dbt&range=7d", rows[0].QuerySelector("a")!.GetAttribute("href"));
        Assert.Equal("/commands/%3Cb%3Ex%3C%2Fb%3E%2Fy?tool=dbt&range=7d", rows[1].QuerySelector("a")!.GetAttribute("href"));
        Assert.Equal("<b>x</b>/y", rows[1].QuerySelector("code")!.TextContent);
        Assert.Null(rows[0].QuerySelector("[data-small-sample]"));
        Assert.NotNull(rows[1].QuerySelector("[data-small-sample]"));
        Assert.Contains("91.0%–97.3% · n=200", rows[0].TextContent, StringComparison.Ordinal);
        Assert.Contains("1.2 s", rows[0].TextContent, StringComparison.Ordinal);
        Assert.Equal("/api/insights/commands?range=7d&format=csv", doc.Find("a[data-csv]").GetAttribute("href"));
    }

    [Fact]
    public void CommandsView_NoRows_EmptyNoticeSaysHowToGetDataIn()
    {
        var doc = Render<CommandsView>(CommandsViewModel.Create(new CommandsData(s_week, s_today, 0, [], [])));

        Assert.Contains("No telemetry has arrived yet", doc.Find("[data-empty]").TextContent, StringComparison.Ordinal);
    }

    [Fact]
    public void CommandsView_FilterTooNarrow_EmptyNoticeSaysSo()
    {
        var narrow = s_week with { Os = "plan9" };
        var doc = Render<CommandsView>(CommandsViewModel.Create(new CommandsData(narrow, s_today, 0, [], ["dbt"])));

        Assert.Contains("filter may be too narrow", doc.Find("[data-empty]").TextContent, StringComparison.Ordinal);
        Assert.Equal("plan9", doc.FindComponent<PageHeader>().Instance.Query.Os);
    }

    [Fact]
    public void CommandView_Detail_ChartsMarkTodayAndSlicesFilter()
    {
        var buckets = TimeBuckets.For(s_week, Grain.Day, s_today)
            .Select(b => new CommandBucket(b.Start, new Outcomes(4, 3, 1, 0), new Dictionary<string, long> { ["1.8.0"] = 4 }, new Dictionary<string, long> { ["linux"] = 4 }))
            .ToList();
        var data = new CommandDetailData(s_week with { Tool = "dbt" }, s_today, "run", Grain.Day, new Outcomes(28, 21, 7, 0), new Outcomes(20, 20, 0, 0),
            5, 100, 900, buckets, [new SliceStats("1.8.0", new Outcomes(28, 21, 7, 0), 5)], [new SliceStats("linux", new Outcomes(28, 21, 7, 0), 5)],
            [new ErrorTypeStats("Boom", 7, 2, new DateTime(2026, 10, 31, 8, 0, 0, DateTimeKind.Utc))], ["dbt"]);

        var doc = Render<CommandView>(CommandDetailViewModel.Create(data));

        var charts = BunitHost.Charts(doc);
        Assert.Equal(3, charts.Count);
        Assert.Contains("in progress", charts[0].OptionJson, StringComparison.Ordinal);
        Assert.Equal(["version", "os"], charts.Where(c => c.FilterParam is not null).Select(c => c.FilterParam));
        Assert.Equal("/commands/run?tool=dbt&range=7d&version=1.8.0", doc.Find("[data-table=versions] a").GetAttribute("href"));
        Assert.Contains("2026-11-01 (in progress)", doc.Markup, StringComparison.Ordinal);
        Assert.Equal("Boom", doc.Find("[data-table=errors] code").TextContent);
        Assert.Equal("/commands/run", doc.FindComponent<PageHeader>().Instance.Action);
    }

    [Fact]
    public void PluginsView_AmbiguousName_LinkNamesTheTool()
    {
        var data = new PluginsData(s_week, s_today,
        [
            new PluginStats("meltano", "postgres", "loaders", new Outcomes(50, 45, 3, 2), 10, "2.1.0"),
            new PluginStats("dbt", "postgres", "adapter", new Outcomes(40, 40, 0, 0), 8, "1.8.2"),
        ], ["dbt", "meltano"]);

        var doc = Render<PluginsView>(PluginsViewModel.Create(data));

        var links = doc.FindAll("[data-table=plugins] tbody tr td:first-child a").Select(a => a.GetAttribute("href")).ToList();
        Assert.Equal(["/plugins/postgres?tool=meltano&range=7d", "/plugins/postgres?tool=dbt&range=7d"], links);
        Assert.Contains("4.0%", doc.Find("[data-table=plugins] tbody tr").TextContent, StringComparison.Ordinal);
    }

    [Fact]
    public void PluginView_Detail_MatrixVersionsAndAdoptionMarkers()
    {
        var buckets = TimeBuckets.For(s_week, Grain.Day, s_today)
            .Select(b => new AdoptionBucket(b.Start, new Dictionary<string, long> { ["1.4.2"] = 3, ["1.5.0"] = b.Start >= s_today.AddDays(-1) ? 1 : 0 }))
            .ToList();
        var data = new PluginDetailData(s_week, s_today, "tap-github", Grain.Day, new Outcomes(10, 8, 1, 1), 4, ["meltano"], ["extractors"],
        [
            new PluginVersionStats("1.5.0", new Outcomes(2, 1, 1, 0), 1, new DateTime(2026, 10, 31, 9, 0, 0, DateTimeKind.Utc)),
            new PluginVersionStats("1.4.2", new Outcomes(8, 7, 0, 1), 3, new DateTime(2026, 1, 1, 0, 0, 0, DateTimeKind.Utc)),
        ],
        [new MatrixCell("linux", "1.4.2", new Outcomes(8, 7, 0, 1)), new MatrixCell("macos", "1.5.0", new Outcomes(2, 1, 1, 0))],
        [], buckets, ["meltano"]);

        var doc = Render<PluginView>(PluginDetailViewModel.Create(data));

        var charts = BunitHost.Charts(doc);
        Assert.Equal(3, charts.Count);
        Assert.Equal(["1.5.0", "1.4.2"], doc.FindAll("[data-table=matrix] thead th").Skip(1).Select(th => th.TextContent));
        Assert.Contains("12.5%", doc.Find("[data-table=matrix] tbody tr").TextContent, StringComparison.Ordinal);
        Assert.Single(doc.FindAll("[data-table=versions] [data-new-version]"));
        Assert.Contains("\"markLine\"", charts[1].OptionJson, StringComparison.Ordinal);
        Assert.Equal("/plugins/tap-github?range=7d&os=linux", doc.Find("[data-table=matrix] tbody a").GetAttribute("href"));
        Assert.NotNull(doc.Find("[data-empty]")); // no error types
    }

    [Fact]
    public void InstallationsView_Rule_SelectedOptionAndHiddenFieldKeepIt()
    {
        var days = TimeBuckets.For(s_week, Grain.Day, s_today);
        var weeks = TimeBuckets.For(s_week, Grain.Week, s_today);
        var data = new InstallationsData(s_week, s_today, ActiveRuleKind.SuccessfulRun, new RuleExclusions(9, 2, 1, 3), 7, 2,
            days.Select(b => new ActivePoint(b.Start, 3)).ToList(), weeks.Select(b => new ActivePoint(b.Start, 5)).ToList(),
            TimeBuckets.For(s_week, Grain.Month, s_today).Select(b => new ActivePoint(b.Start, 7)).ToList(),
            weeks.Select(b => new LifecycleWeek(b.Start, 1, 2, 1, 1)).ToList(),
            [new Cohort(new DateOnly(2026, 10, 19), [4, 2, null])], Grain.Day,
            days.Select(b => new AdoptionBucket(b.Start, new Dictionary<string, long> { ["1.8.0"] = 2, ["1.9.0"] = 1 })).ToList(), ["dbt"]);

        var doc = Render<InstallationsView>(InstallationsViewModel.Create(data));

        Assert.Equal(6, BunitHost.Charts(doc).Count);
        Assert.Equal("success", doc.Find("[data-rule][aria-current=true]").GetAttribute("data-rule"));
        Assert.Equal("excludes 2", doc.Find("[data-rule=success] [data-excluded]").TextContent);
        Assert.Contains(("active", "success"), doc.FindComponent<PageHeader>().Instance.Hidden);
        Assert.Equal(ActiveRule.Definition(ActiveRuleKind.SuccessfulRun), doc.Find("[data-rule-definition]").TextContent);
        Assert.Contains("50%… (2)", doc.Find("[data-table=cohorts]").TextContent, StringComparison.Ordinal);
    }

    [Fact]
    public void EnvironmentsView_Panels_OsVersionAndRuntimeChartsCarryFilterParam()
    {
        var buckets = TimeBuckets.For(s_week, Grain.Day, s_today);
        DimensionBreakdown Dim(EnvironmentDimension d, params DimensionValue[] values) =>
            new(d, values, buckets.Select(b => new AdoptionBucket(b.Start, values.ToDictionary(v => v.Value, v => v.Installations))).ToList());
        var data = new EnvironmentsData(s_week, s_today, Grain.Day, 3,
        [
            Dim(EnvironmentDimension.Os, new DimensionValue("linux", 2, 5), new DimensionValue("macos", 1, 1)),
            Dim(EnvironmentDimension.OsVersion, new DimensionValue("linux 6.5", 2, 5)),
            Dim(EnvironmentDimension.Runtime, new DimensionValue("python", 3, 6)),
            Dim(EnvironmentDimension.RuntimeVersion, new DimensionValue("python 3.12", 3, 6)),
            Dim(EnvironmentDimension.ToolVersion, new DimensionValue("1.8.0", 3, 6)),
        ], ["dbt"]);

        var doc = Render<EnvironmentsView>(EnvironmentsViewModel.Create(data));

        var charts = BunitHost.Charts(doc);
        Assert.Equal(10, charts.Count);
        Assert.Equal(6, charts.Count(c => c.FilterParam is not null));
        Assert.Equal("/environments?range=7d&os=macos", doc.FindAll("[data-table=os] a")[1].GetAttribute("href"));
        Assert.Equal("/environments?range=7d&runtime=python", doc.FindAll("[data-table=runtime] a")[0].GetAttribute("href"));
        Assert.Equal("/environments?range=7d&runtime=python&runtimeVersion=3.12",
            doc.FindAll("[data-table=runtimeversion] a")[0].GetAttribute("href"));
    }

    [Fact]
    public void OverviewView_AllTools_ShowsToolsSideBySide()
    {
        var daily = TimeBuckets.For(s_week, Grain.Day, s_today).Select(b => new DailyPoint(b.Start, 2, 3)).ToList();
        var data = new OverviewData(s_week, s_today, new PeriodTotals(5, 1, 21, 18, 2, 1), PeriodTotals.Zero, daily, [], ["dbt", "meltano"])
        {
            ToolComparison =
            [
                new ToolComparison("dbt", 3, new Outcomes(15, 13, 1, 1), 2, new Outcomes(10, 10, 0, 0)),
                new ToolComparison("meltano", 2, new Outcomes(6, 5, 1, 0), 0, Outcomes.Zero),
            ],
        };

        var doc = Render<OverviewView>(OverviewViewModel.Create(data));

        var rows = doc.FindAll("[data-table=tools] tbody tr");
        Assert.Equal(2, rows.Count);
        Assert.Equal("/?tool=dbt&range=7d", rows[0].QuerySelector("a")!.GetAttribute("href"));
        Assert.Contains("+50.0%", rows[0].TextContent, StringComparison.Ordinal);
        // 13/15 against 10/10: the intervals overlap, so the drop is shown neutral, not alarming.
        var rateChange = rows[0].QuerySelectorAll("[data-change]")[2];
        Assert.Equal("−13.3 pp", rateChange.TextContent);
        Assert.Equal("neutral", rateChange.GetAttribute("data-trend"));
        Assert.Equal("tool", BunitHost.Charts(doc).Single(c => c.FilterParam is not null).FilterParam);
    }
}
