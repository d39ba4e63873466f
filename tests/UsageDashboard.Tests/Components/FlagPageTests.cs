using Bunit;
using Microsoft.Extensions.DependencyInjection;
using MudBlazor;
using UsageDashboard.Access;
using UsageDashboard.Components.Pages.Health;
using UsageDashboard.Health;
using UsageDashboard.Store;
using UsageDashboard.Tests.Health;
using UsageDashboard.Tests.Infrastructure;

namespace UsageDashboard.Tests.Components;

/// <summary>The flag page's dialogs and handlers against the real app services and database.</summary>
public sealed class FlagPageTests : IClassFixture<FlagPageTests.Db>, IAsyncLifetime
{
    public sealed class Db : DatabaseFixture;

    private readonly Db _db;
    private AppFactory _app = null!;
    private AsyncServiceScope _scope;
    private BunitContext _ctx = null!;

    public FlagPageTests(Db db) => _db = db;

    public Task InitializeAsync()
    {
        _app = new AppFactory(_db.ConnectionString, new FakeTimeProvider(HealthFlowTests.Now),
            new Dictionary<string, string?> { ["Health:RunInBackground"] = "false" });
        _scope = _app.Services.CreateAsyncScope();
        _ctx = BunitHost.ForApp(_scope.ServiceProvider);
        return Task.CompletedTask;
    }

    public async Task DisposeAsync()
    {
        await _ctx.DisposeAsync();
        await _scope.DisposeAsync();
        await _app.DisposeAsync();
    }

    private async Task<long> OpenFlagAsync(string tool)
    {
        await HealthFlowTests.SeedBrokenReleaseAsync(_db, tool);
        await using var scope = _app.Services.CreateAsyncScope();
        await scope.ServiceProvider.GetRequiredService<HealthEvaluator>().EvaluateAsync(default);
        return Assert.Single(await FlagsAsync(tool), f => f.Kind == HealthSubject.PluginKind).Id;
    }

    private async Task<List<HealthFlag>> FlagsAsync(string tool)
    {
        await using var scope = _app.Services.CreateAsyncScope();
        return scope.ServiceProvider.GetRequiredService<UsageDbContext>().HealthFlags.Where(f => f.Tool == tool).OrderBy(f => f.Id).ToList();
    }

    [Fact]
    public async Task Acknowledge_MaintainerWritesNoteInDialog_FlagAcknowledgedWithNoteAndSnackbar()
    {
        var id = await OpenFlagAsync("acktool");
        var cut = BunitHost.RenderAs<FlagPage>(_ctx, BunitHost.User("maint@example.test", Roles.Maintainer), new Dictionary<string, object?> { ["Id"] = id });

        cut.WaitForElement("[data-action=acknowledge]").Click();
        cut.WaitForElement("[data-dialog=note] textarea").Input("Upstream API changed; fix in 1.4.3");
        cut.Find("[data-confirm]").Click();

        cut.WaitForAssertion(() => Assert.Contains("Acknowledged.", cut.Find("[data-message]").TextContent, StringComparison.Ordinal), TimeSpan.FromSeconds(10));
        var stored = (await FlagsAsync("acktool")).Single(f => f.Id == id);
        Assert.Equal((FlagStates.Acknowledged, "maint@example.test", "Upstream API changed; fix in 1.4.3"), (stored.State, stored.AcknowledgedBy, stored.AcknowledgeNote));
        Assert.Contains(_ctx.Services.GetRequiredService<ISnackbar>().ShownSnackbars, s => s.Message == "Acknowledged.");
        Assert.Contains("Upstream API changed; fix in 1.4.3", cut.Find("[data-history]").TextContent, StringComparison.Ordinal);
        Assert.Empty(cut.FindAll("[data-action=acknowledge]"));
    }

    [Fact]
    public async Task Resolve_DialogCancelled_NothingChanges()
    {
        var id = await OpenFlagAsync("canceltool");
        var cut = BunitHost.RenderAs<FlagPage>(_ctx, BunitHost.User("maint@example.test", Roles.Maintainer), new Dictionary<string, object?> { ["Id"] = id });

        cut.WaitForElement("[data-action=resolve]").Click();
        cut.WaitForElement("[data-cancel]").Click();

        cut.WaitForAssertion(() => Assert.Empty(cut.FindAll("[data-cancel]")));
        Assert.Equal(FlagStates.Open, (await FlagsAsync("canceltool")).Single(f => f.Id == id).State);
    }

    [Fact]
    public async Task Handlers_Viewer_NoActionsShownAndHandlerRefuses()
    {
        var id = await OpenFlagAsync("viewertool");
        var cut = BunitHost.RenderAs<FlagPage>(_ctx, BunitHost.User("viewer@example.test", Roles.Viewer), new Dictionary<string, object?> { ["Id"] = id });
        cut.WaitForElement("[data-flag]");
        Assert.Empty(cut.FindAll("[data-action]"));
        var page = cut.FindComponent<FlagPage>();

        var acknowledged = await page.InvokeAsync(() => page.Instance.AcknowledgeAsync("sneaky"));
        var resolved = await page.InvokeAsync(() => page.Instance.ResolveAsync("sneaky"));

        Assert.False(acknowledged);
        Assert.False(resolved);
        Assert.Equal(FlagStates.Open, (await FlagsAsync("viewertool")).Single(f => f.Id == id).State);
        Assert.Contains(_ctx.Services.GetRequiredService<ISnackbar>().ShownSnackbars, s => s.Message == "Only maintainers can change a flag.");
    }

    [Fact]
    public void FlagPage_UnknownId_SaysNotFound()
    {
        var cut = BunitHost.RenderAs<FlagPage>(_ctx, BunitHost.User("viewer@example.test", Roles.Viewer), new Dictionary<string, object?> { ["Id"] = 987_654_321L });

        cut.WaitForAssertion(() => Assert.Contains("no health flag with this number", cut.Find("[data-empty]").TextContent, StringComparison.Ordinal));
    }
}
