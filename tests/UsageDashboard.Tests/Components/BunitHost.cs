using System.Security.Claims;
using Bunit;
using Bunit.Rendering;
using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.Components;
using Microsoft.AspNetCore.Components.Authorization;
using Microsoft.Extensions.DependencyInjection;
using MudBlazor;
using MudBlazor.Services;
using Npgsql;
using UsageDashboard.Insights;

namespace UsageDashboard.Tests.Components;

/// <summary>
/// bUnit contexts wired the way Program.cs wires the app: MudBlazor's services, and either the views' own
/// registrations (<see cref="ForViews"/>) or a running app's services (<see cref="ForApp"/>) for pages that
/// call services against the test database.
/// </summary>
internal static class BunitHost
{
    public const string DataTableModule = "./Components/Shared/DataTable.razor.js";

    /// <summary>For the pure views: nothing may touch the database while rendering, so the source points nowhere.</summary>
    public static BunitContext ForViews()
    {
        var ctx = Create();
        ctx.Services.AddSingleton(TimeProvider.System)
            .AddSingleton(_ => NpgsqlDataSource.Create("Host=unused.invalid"))
            .AddInsights();
        return Interactive(ctx);
    }

    /// <summary>For pages: services the context lacks come from the app's scope (the real database, policies, Identity).</summary>
    public static BunitContext ForApp(IServiceProvider scope)
    {
        var ctx = Create();
        // bUnit registers placeholders for authorization that refuse to run; the app's policies are the ones under test.
        ctx.Services.AddSingleton(_ => scope.GetRequiredService<IAuthorizationService>());
        ctx.Services.AddSingleton(_ => scope.GetRequiredService<IAuthorizationPolicyProvider>());
        ctx.Services.AddFallbackServiceProvider(scope);
        return Interactive(ctx);
    }

    /// <summary>
    /// Components render as they do in the circuit (the chart, for one, leaves its option out of the markup then).
    /// Reaching the renderer seals the services, so this comes after every registration.
    /// </summary>
    private static BunitContext Interactive(BunitContext ctx)
    {
        ctx.Renderer.SetRendererInfo(new RendererInfo("Server", isInteractive: true));
        return ctx;
    }

    private static BunitContext Create()
    {
        var ctx = new BunitContext();
        ctx.JSInterop.Mode = JSRuntimeMode.Loose;
        ctx.Services.AddMudServices();
        return ctx;
    }

    /// <summary>A signed-in user as the cookie handler would make one.</summary>
    public static ClaimsPrincipal User(string name, string role, string? id = null) =>
        new(new ClaimsIdentity(
            [new Claim(ClaimTypes.Name, name), new Claim(ClaimTypes.Role, role), new Claim(ClaimTypes.NameIdentifier, id ?? name)],
            authenticationType: "Test"));

    /// <summary>
    /// Renders a page under a user, beside the providers the layout holds (dialogs and popovers only open with them).
    /// </summary>
    public static IRenderedComponent<ContainerFragment> RenderAs<TPage>(BunitContext ctx, ClaimsPrincipal user, IReadOnlyDictionary<string, object?>? parameters = null)
        where TPage : IComponent
    {
        var state = Task.FromResult(new AuthenticationState(user));
        RenderFragment page = b =>
        {
            b.OpenComponent<TPage>(0);
            foreach (var (name, value) in parameters ?? new Dictionary<string, object?>())
            {
                b.AddComponentParameter(1, name, value);
            }
            b.CloseComponent();
        };
        return ctx.Render(b =>
        {
            b.OpenComponent<MudPopoverProvider>(0);
            b.CloseComponent();
            b.OpenComponent<MudDialogProvider>(1);
            b.CloseComponent();
            b.OpenComponent<CascadingValue<Task<AuthenticationState>>>(2);
            b.AddComponentParameter(3, "Value", state);
            b.AddComponentParameter(4, "ChildContent", page);
            b.CloseComponent();
        });
    }

    /// <summary>
    /// The charts a view hands to the Chart component, read from its parameters (the contract with the
    /// component), each checked to be a parseable ECharts option with series.
    /// </summary>
    public static IReadOnlyList<UsageDashboard.Components.Shared.Chart> Charts<T>(IRenderedComponent<T> cut) where T : class, IComponent
    {
        var charts = cut.FindComponents<UsageDashboard.Components.Shared.Chart>().Select(c => c.Instance).ToList();
        foreach (var chart in charts)
        {
            using var parsed = System.Text.Json.JsonDocument.Parse(chart.OptionJson);
            Assert.True(parsed.RootElement.TryGetProperty("series", out _));
        }
        return charts;
    }
}
