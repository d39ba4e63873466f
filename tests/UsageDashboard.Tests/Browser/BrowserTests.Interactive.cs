using System.Text.RegularExpressions;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Playwright;

namespace UsageDashboard.Tests.Browser;

/// <summary>The interactive behaviour through the real circuit: filters, history, theme, reconnect.</summary>
public sealed partial class BrowserTests
{
    [Fact]
    public async Task FilterBar_ChooseTool_UpdatesChartsAndUrlWithoutReload()
    {
        var errors = new List<string>();
        var page = await _app.SignedInPageAsync(errors);
        await page.GotoAsync(_app.BaseUrl + "/", new PageGotoOptions { WaitUntil = WaitUntilState.NetworkIdle });
        await WaitInteractiveAsync(page);
        await WaitForChartsAsync(page);
        // A full page load would lose this.
        await page.EvaluateAsync("() => { window.__sameDocument = true; }");

        await ChooseAsync(page, "tool", "meltano");

        await page.WaitForURLAsync(new Regex("tool=meltano"));
        await page.WaitForSelectorAsync("h1:has-text('meltano')");
        // chart.mjs counts in-place updates of a chart it already drew.
        await page.WaitForSelectorAsync("[data-chart][data-chart-version]");
        Assert.True(await page.EvaluateAsync<bool>("() => window.__sameDocument === true"), "the filter change reloaded the page");
        Assert.DoesNotContain("from=", page.Url, StringComparison.Ordinal);
        Assert.Empty(errors);
        await page.Context.CloseAsync();
    }

    [Fact]
    public async Task FilterBar_TypeOs_ReplacesUrlWhileTyping()
    {
        var page = await _app.SignedInPageAsync();
        await page.GotoAsync(_app.BaseUrl + "/commands", new PageGotoOptions { WaitUntil = WaitUntilState.NetworkIdle });
        await WaitInteractiveAsync(page);
        var historyBefore = await page.EvaluateAsync<int>("() => history.length");

        await page.Locator("input[data-filter='os'], [data-filter='os'] input").First.PressSequentiallyAsync("Linux", new LocatorPressSequentiallyOptions { Delay = 30 });

        await page.WaitForURLAsync(new Regex("os=Linux"));
        Assert.Equal(historyBefore, await page.EvaluateAsync<int>("() => history.length"));
        await page.Context.CloseAsync();
    }

    [Fact]
    public async Task PastedUrl_FirstPaint_ShowsTheFilteredView()
    {
        var page = await _app.SignedInPageAsync();

        var response = await page.GotoAsync(_app.BaseUrl + "/commands?tool=dbt&range=90d&env=ci");

        // The prerendered HTML, before any script ran, already is the filtered view.
        var html = await response!.TextAsync();
        Assert.Contains("dbt", Regex.Match(html, "<h1[^>]*>.*?</h1>", RegexOptions.Singleline).Value, StringComparison.Ordinal);
        Assert.Contains("Last 90 days", html, StringComparison.Ordinal);
        Assert.Contains("CI only", html, StringComparison.Ordinal);
        await WaitInteractiveAsync(page);
        Assert.Contains("dbt", await page.InnerTextAsync("h1"), StringComparison.Ordinal);
        await page.Context.CloseAsync();
    }

    [Fact]
    public async Task History_BackAndForward_RestoreTheFilteredViews()
    {
        var page = await _app.SignedInPageAsync();
        await page.GotoAsync(_app.BaseUrl + "/plugins", new PageGotoOptions { WaitUntil = WaitUntilState.NetworkIdle });
        await WaitInteractiveAsync(page);
        await ChooseAsync(page, "tool", "meltano");
        await page.WaitForURLAsync(new Regex("tool=meltano"));
        await page.WaitForSelectorAsync("h1:has-text('meltano')");

        await page.GoBackAsync();
        await page.WaitForURLAsync(new Regex("/plugins$"));
        await page.WaitForSelectorAsync("h1:has-text('all tools')");

        await page.GoForwardAsync();
        await page.WaitForURLAsync(new Regex("tool=meltano"));
        await page.WaitForSelectorAsync("h1:has-text('meltano')");
        await page.Context.CloseAsync();
    }

    [Fact]
    public async Task ThemeToggle_Click_SwitchesToDarkAndRemembersIt()
    {
        var errors = new List<string>();
        var page = await _app.SignedInPageAsync(errors);
        await page.GotoAsync(_app.BaseUrl + "/", new PageGotoOptions { WaitUntil = WaitUntilState.NetworkIdle });
        await WaitInteractiveAsync(page);
        Assert.Equal("light", await page.GetAttributeAsync("[data-theme]", "data-theme"));

        await page.ClickAsync("[data-theme-toggle]");

        await page.WaitForSelectorAsync("[data-theme='dark']");
        await WaitForChartsAsync(page);
        await page.ReloadAsync(new PageReloadOptions { WaitUntil = WaitUntilState.DOMContentLoaded });
        Assert.Equal("dark", await page.GetAttributeAsync("[data-theme]", "data-theme"));
        Assert.Empty(errors);
        await page.Context.CloseAsync();
    }

    [Fact]
    public async Task Circuit_ConnectionDropped_ReconnectsAndStaysInteractive()
    {
        var page = await _app.SignedInPageAsync();
        // The circuit's WebSocket passes through the test, which can cut it as a flaky network would.
        var sockets = new List<IWebSocketRoute>();
        await page.RouteWebSocketAsync(new Regex("/_blazor"), ws =>
        {
            ws.ConnectToServer();
            lock (sockets)
            {
                sockets.Add(ws);
            }
        });
        await page.GotoAsync(_app.BaseUrl + "/commands", new PageGotoOptions { WaitUntil = WaitUntilState.NetworkIdle });
        await WaitInteractiveAsync(page);

        IWebSocketRoute first;
        lock (sockets)
        {
            first = sockets[0];
        }
        await first.CloseAsync();

        await page.WaitForSelectorAsync("#components-reconnect-modal.components-reconnect-show, #components-reconnect-modal.components-reconnect-retrying",
            new PageWaitForSelectorOptions { State = WaitForSelectorState.Attached });
        await ScreenshotAsync(page, "reconnecting");
        await page.WaitForSelectorAsync("#components-reconnect-modal.components-reconnect-hide", new PageWaitForSelectorOptions { State = WaitForSelectorState.Attached, Timeout = 30_000 });
        await ChooseAsync(page, "tool", "dbt");
        await page.WaitForURLAsync(new Regex("tool=dbt"));
        await page.WaitForSelectorAsync("h1:has-text('dbt')");
        await page.Context.CloseAsync();
    }

    [Fact]
    public async Task Circuit_UserRemovedWhileOpen_LosesAccessWithoutReload()
    {
        var email = await _app.Factory.CreateUserAsync(UsageDashboard.Access.Roles.Viewer);
        var page = await _app.SignedInPageAsync(email: email);
        await page.GotoAsync(_app.BaseUrl + "/commands", new PageGotoOptions { WaitUntil = WaitUntilState.NetworkIdle });
        await WaitInteractiveAsync(page);

        await using (var scope = _app.Factory.Services.CreateAsyncScope())
        {
            var removed = await scope.ServiceProvider.GetRequiredService<UsageDashboard.Access.UserAdminService>().RemoveAsync(email);
            Assert.True(removed.Succeeded, string.Join(", ", removed.Errors));
        }

        // The circuit re-checks its user every half session interval (2 s here) and turns anonymous.
        await page.WaitForSelectorAsync("[data-signed-out='true']", new PageWaitForSelectorOptions { Timeout = 20_000 });
        Assert.Equal(0, await page.Locator("main table").CountAsync());
        await page.Context.CloseAsync();
    }

    /// <summary>Opens a filter's MudSelect and picks an option by its text.</summary>
    private static async Task ChooseAsync(IPage page, string filter, string option)
    {
        await page.Locator($"[data-filter='{filter}']").ClickAsync();
        await page.Locator(".mud-popover-open .mud-list-item").Filter(new LocatorFilterOptions { HasText = option }).First.ClickAsync();
    }
}
