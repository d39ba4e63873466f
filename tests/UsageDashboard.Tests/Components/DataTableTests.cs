using Bunit;
using UsageDashboard.Components.Pages.Commands;
using UsageDashboard.Insights;

namespace UsageDashboard.Tests.Components;

/// <summary>The shared table through a real view: sorting, the quick filter, CSV export and empty states.</summary>
public sealed class DataTableTests : IAsyncLifetime
{
    private static readonly DateOnly s_today = new(2026, 11, 1);
    private static readonly InsightQuery s_week = new() { Range = "7d", From = s_today.AddDays(-6), To = s_today };
    private readonly BunitContext _ctx = BunitHost.ForViews();
    private BunitJSModuleInterop _module = null!;

    public Task InitializeAsync()
    {
        _module = _ctx.JSInterop.SetupModule(BunitHost.DataTableModule);
        _module.SetupVoid("download", _ => true);
        return Task.CompletedTask;
    }

    public async Task DisposeAsync() => await _ctx.DisposeAsync();

    private static CommandStats CreateCommand(string name, long runs, long failed = 0) =>
        new("dbt", name, new Outcomes(runs, runs - failed, failed, 0), Math.Max(1, runs / 10), 100, 900, Outcomes.Zero);

    private IRenderedComponent<CommandsView> RenderCommands(params CommandStats[] rows) =>
        _ctx.Render<CommandsView>(p => p.Add(v => v.Model,
            CommandsViewModel.Create(new CommandsData(s_week with { Tool = "dbt" }, s_today, rows.Sum(r => r.Current.Runs), rows, ["dbt"]))));

    private static List<string> Commands(IRenderedComponent<CommandsView> cut) =>
        cut.FindAll("[data-table=commands] tbody tr code").Select(c => c.TextContent).ToList();

    private static void ClickHeader(IRenderedComponent<CommandsView> cut, string title)
    {
        var header = cut.FindAll("[data-table=commands] thead th").FirstOrDefault(h => h.TextContent.Trim().StartsWith(title, StringComparison.Ordinal));
        Assert.True(header is not null, cut.Find("[data-table=commands] thead").OuterHtml);
        var target = header.QuerySelector("button.sort-direction-icon") ?? header.QuerySelector(".sort-direction-icon");
        Assert.True(target is not null, header.OuterHtml);
        target.Click();
    }

    [Fact]
    public void Sort_RunsHeaderClicked_OrdersByNumberNotText()
    {
        var cut = RenderCommands(CreateCommand("seed", 9), CreateCommand("run", 12_000), CreateCommand("test", 30));

        ClickHeader(cut, "Runs");

        Assert.Equal(["seed", "test", "run"], Commands(cut));
        ClickHeader(cut, "Runs");
        Assert.Equal(["run", "test", "seed"], Commands(cut));
    }

    [Fact]
    public void QuickFilter_Text_KeepsMatchingRowsAndSaysWhenNoneMatch()
    {
        var cut = RenderCommands(CreateCommand("run", 100), CreateCommand("run-operation", 50), CreateCommand("seed", 10));

        cut.Find("[data-table=commands] .quick-filter input").Input("RUN");

        Assert.Equal(["run", "run-operation"], Commands(cut));
        cut.Find("[data-table=commands] .quick-filter input").Input("nothing-like-this");
        Assert.Empty(Commands(cut));
        Assert.Contains("No rows match", cut.Find("[data-table=commands] [data-empty]").TextContent, StringComparison.Ordinal);
    }

    [Fact]
    public void CsvExport_FilteredAndSorted_DownloadsWhatIsShownWithFormulasNeutralised()
    {
        var cut = RenderCommands(CreateCommand("run", 100), CreateCommand("=HYPERLINK(\"x\",\"run\")", 7), CreateCommand("seed", 10));
        cut.Find("[data-table=commands] .quick-filter input").Input("run");
        ClickHeader(cut, "Runs");

        cut.Find("[data-table=commands] [data-csv-export]").Click();

        var call = _module.VerifyInvoke("download");
        Assert.Equal("commands.csv", call.Arguments[0]);
        var lines = ((string)call.Arguments[1]!).Split("\r\n", StringSplitOptions.RemoveEmptyEntries);
        Assert.StartsWith("Tool,Command,Runs,Share,Installations,Success rate", lines[0], StringComparison.Ordinal);
        Assert.Equal(3, lines.Length);
        Assert.StartsWith("dbt,\"'=HYPERLINK(\"\"x\"\",\"\"run\"\")\",7,", lines[1], StringComparison.Ordinal);
        Assert.StartsWith("dbt,run,100,", lines[2], StringComparison.Ordinal);
    }

    [Fact]
    public void Controls_QuickFilterAndExport_Labelled()
    {
        var cut = RenderCommands(CreateCommand("run", 100));

        Assert.Equal("Filter commands", cut.Find("[data-table=commands] .quick-filter input").GetAttribute("aria-label"));
        Assert.Equal("Download commands as CSV", cut.Find("[data-table=commands] [data-csv-export]").GetAttribute("aria-label"));
    }

    [Fact]
    public void Paging_MoreRowsThanAPage_ShowsAPageAndAPager()
    {
        var cut = RenderCommands(Enumerable.Range(1, 30).Select(i => CreateCommand($"c{i}", 1000 - i)).ToArray());

        Assert.Equal(25, Commands(cut).Count);
        Assert.NotEmpty(cut.FindAll("[data-table=commands] .mud-table-pagination"));
    }

    [Fact]
    public void LoadError_RetryClicked_CallsBack()
    {
        var retries = 0;
        var cut = _ctx.Render<UsageDashboard.Components.Shared.LoadError>(p => p.Add(e => e.OnRetry, () => retries++));

        cut.Find("[data-retry]").Click();

        Assert.Equal(1, retries);
        Assert.Contains("database did not answer", cut.Find("[data-error]").TextContent, StringComparison.Ordinal);
    }
}
