using UsageDashboard.Components.Pages.Overview;
using UsageDashboard.Insights;
using UsageDashboard.Tests.Infrastructure;

namespace UsageDashboard.Tests.Components;

public sealed class OverviewViewTests
{
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
    public async Task Render_Overview_TilesChartAndTableWithEscapedCommand()
    {
        var vm = OverviewViewModel.Create(CreateData());

        var doc = await ComponentRenderer.RenderAsync<OverviewView>(new Dictionary<string, object?> { ["Model"] = vm });

        Assert.Equal(4, doc.QuerySelectorAll(".stat-tile").Length);
        Assert.Equal("120", doc.QuerySelector("[data-tile='Active installations'] [data-value]")!.TextContent);
        var chart = doc.QuerySelector("[data-chart]")!;
        Assert.Contains("\"Active installations\"", chart.GetAttribute("data-chart"), StringComparison.Ordinal);
        var rows = doc.QuerySelectorAll("[data-table='top-commands'] tbody tr");
        Assert.Equal(2, rows.Length);
        // Untrusted command names render as text, never as markup.
        Assert.Empty(doc.QuerySelectorAll("script"));
        Assert.Contains("<script>alert(1)</script>", rows[1].TextContent, StringComparison.Ordinal);
        Assert.NotNull(doc.QuerySelector("a[href='/api/insights/commands?range=7d&format=csv']"));
        Assert.Equal(7, doc.QuerySelectorAll("details table tbody tr").Length);
    }

    [Fact]
    public async Task Render_FilterBar_ReflectsQuery()
    {
        var data = CreateData(tool: "jetty");
        var vm = OverviewViewModel.Create(data);

        var doc = await ComponentRenderer.RenderAsync<OverviewView>(new Dictionary<string, object?> { ["Model"] = vm });

        var form = doc.QuerySelector("form[method='get']")!;
        Assert.Equal("jetty", form.QuerySelector("select[name='tool'] option[selected]")!.GetAttribute("value"));
        Assert.Equal("7d", form.QuerySelector("select[name='range'] option[selected]")!.GetAttribute("value"));
    }
}
