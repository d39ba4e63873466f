using Bunit;
using UsageDashboard.Components.Pages.Overview;
using UsageDashboard.Components.Shared;
using UsageDashboard.Insights;

namespace UsageDashboard.Tests.Components;

public sealed class OverviewViewTests : IAsyncLifetime
{
    private readonly BunitContext _ctx = BunitHost.ForViews();

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync() => await _ctx.DisposeAsync();

    private static readonly DateOnly s_today = new(2026, 11, 7);

    private static OverviewData CreateData(PeriodTotals? current = null, PeriodTotals? previous = null, IReadOnlyList<string>? tools = null, string? tool = null)
    {
        var query = InsightQuery.Parse(tool, "7d", null, null, null, null, null, null, s_today);
        var daily = Enumerable.Range(0, 7).Select(i => new DailyPoint(query.From.AddDays(i), 10 + i, 20 + i)).ToList();
        return new OverviewData(query, s_today,
            current ?? new PeriodTotals(120, 30, 2_000, 1_500, 400, 100),
            previous ?? new PeriodTotals(100, 40, 1_000, 900, 50, 50),
            daily,
            [new CommandRow("dbt", "run", 1_200, 1_000, 150, 50, 80), new CommandRow("jetty", "<script>alert(1)</script>", 10, 3, 2, 0, 2)],
            tools ?? ["dbt", "jetty"]);
    }

    [Fact]
    public void Create_ChangesAgainstPreviousPeriod_SignedPercentAndPoints()
    {
        var vm = OverviewViewModel.Create(CreateData());

        var tiles = vm.Tiles.ToDictionary(t => t.Label);
        Assert.Equal(("120", "+20.0%", Trend.Up), (tiles["Active installations"].Value, tiles["Active installations"].Change, tiles["Active installations"].Trend));
        Assert.Equal(("30", "−25.0%", Trend.Down), (tiles["New installations"].Value, tiles["New installations"].Change, tiles["New installations"].Trend));
        Assert.Equal(("2,000", "+100.0%"), (tiles["Runs"].Value, tiles["Runs"].Change));
        // 1500/2000 = 75.0% vs 900/1000 = 90.0%
        Assert.Equal(("75.0%", "−15.0 pp", Trend.Down), (tiles["Success rate"].Value, tiles["Success rate"].Change, tiles["Success rate"].Trend));
        Assert.Contains("n = 2,000", tiles["Success rate"].Detail, StringComparison.Ordinal);
    }

    [Fact]
    public void Create_LastDayIsToday_MarkedInProgress()
    {
        var vm = OverviewViewModel.Create(CreateData());

        Assert.True(vm.DailyRows[^1].InProgress);
        Assert.All(vm.DailyRows.SkipLast(1), r => Assert.False(r.InProgress));
        Assert.Contains("in progress", vm.DailyChartJson, StringComparison.Ordinal);
    }

    [Fact]
    public void Create_NoRunsNoTools_EmptyReasonSaysHowToGetData()
    {
        var vm = OverviewViewModel.Create(CreateData(current: PeriodTotals.Zero, tools: []));

        Assert.True(vm.IsEmpty);
        Assert.Contains("seed-demo", vm.EmptyReason, StringComparison.Ordinal);
    }

    [Fact]
    public void Create_NoRunsWithFilter_EmptyReasonSaysFilterTooNarrow()
    {
        var vm = OverviewViewModel.Create(CreateData(current: PeriodTotals.Zero, tool: "dbt"));

        Assert.Contains("filters", vm.EmptyReason, StringComparison.Ordinal);
    }

    [Fact]
    public void Render_Overview_TilesChartAndTableWithEscapedCommand()
    {
        var vm = OverviewViewModel.Create(CreateData());

        var cut = _ctx.Render<OverviewView>(p => p.Add(v => v.Model, vm));

        Assert.Equal(4, cut.FindAll(".stat-tile").Count);
        Assert.Equal("120", cut.Find("[data-tile='Active installations'] [data-value]").TextContent);
        Assert.Contains("\"Active installations\"", BunitHost.Charts(cut)[0].OptionJson, StringComparison.Ordinal);
        var rows = cut.FindAll("[data-table='top-commands'] tbody tr");
        Assert.Equal(2, rows.Count);
        // Untrusted command names render as text, never as markup.
        Assert.Empty(cut.FindAll("script"));
        Assert.Contains("<script>alert(1)</script>", rows[1].TextContent, StringComparison.Ordinal);
        Assert.NotNull(cut.Find("a[href='/api/insights/commands?range=7d&format=csv']"));
        var daily = cut.FindAll("table").Single(t => t.TextContent.Contains("Distinct installations with a run", StringComparison.Ordinal));
        Assert.Equal(7, daily.QuerySelectorAll("tbody tr").Length);
    }

    [Fact]
    public void Render_TopCommands_DrillDownToTheCommandOfItsTool()
    {
        var cut = _ctx.Render<OverviewView>(p => p.Add(v => v.Model, OverviewViewModel.Create(CreateData())));

        var links = cut.FindAll("[data-table='top-commands'] tbody a").Select(a => a.GetAttribute("href")).ToList();

        Assert.Equal(["/commands/run?tool=dbt&range=7d", "/commands/%3Cscript%3Ealert%281%29%3C%2Fscript%3E?tool=jetty&range=7d"], links);
    }

    [Fact]
    public void Render_FilterBar_ReflectsQuery()
    {
        var vm = OverviewViewModel.Create(CreateData(tool: "jetty"));

        var cut = _ctx.Render<OverviewView>(p => p.Add(v => v.Model, vm));

        var query = cut.FindComponent<FilterBar>().Instance.Query;
        Assert.Equal(("jetty", "7d"), (query.Tool, query.Range));
    }
}
