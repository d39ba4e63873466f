using AngleSharp;
using AngleSharp.Dom;
using Microsoft.AspNetCore.Components;
using Microsoft.AspNetCore.Components.Web;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using MudBlazor.Services;
using Npgsql;
using UsageDashboard.Insights;

namespace UsageDashboard.Tests.Infrastructure;

/// <summary>
/// Renders a component with the framework's own static renderer and parses the HTML with AngleSharp.
/// Services come from the same AddInsights() Program.cs calls, so tests never drift from production wiring.
/// </summary>
public static class ComponentRenderer
{
    public static async Task<IDocument> RenderAsync<TComponent>(IDictionary<string, object?> parameters) where TComponent : IComponent
    {
        var services = new ServiceCollection()
            .AddLogging()
            .AddSingleton(TimeProvider.System)
            // Views are pure: nothing may touch the database while rendering, so the source points nowhere.
            .AddSingleton(_ => NpgsqlDataSource.Create("Host=unused.invalid"))
            .AddInsights()
            // The filter bar and charts navigate and call JS only once interactive: static rendering needs just the services.
            .AddMudServices()
            .AddSingleton<NavigationManager, StaticNavigationManager>()
            .AddSingleton<Microsoft.JSInterop.IJSRuntime, NoJSRuntime>()
            .BuildServiceProvider();
        await using var _ = services;
        await using var renderer = new HtmlRenderer(services, services.GetRequiredService<ILoggerFactory>());
        var html = await renderer.Dispatcher.InvokeAsync(async () =>
            (await renderer.RenderComponentAsync<TComponent>(ParameterView.FromDictionary(parameters))).ToHtmlString());
        var context = BrowsingContext.New(Configuration.Default);
        return await context.OpenAsync(req => req.Content(html));
    }

    /// <summary>Every chart element carries a parseable ECharts option.</summary>
    public static void AssertChartsValid(IDocument doc)
    {
        foreach (var chart in doc.QuerySelectorAll(".chart"))
        {
            var json = chart.GetAttribute("data-chart");
            Assert.False(string.IsNullOrEmpty(json));
            using var parsed = System.Text.Json.JsonDocument.Parse(json);
            Assert.True(parsed.RootElement.TryGetProperty("series", out _));
        }
    }
}

internal sealed class StaticNavigationManager : NavigationManager
{
    public StaticNavigationManager() => Initialize("http://localhost/", "http://localhost/");
}

internal sealed class NoJSRuntime : Microsoft.JSInterop.IJSRuntime
{
    public ValueTask<TValue> InvokeAsync<TValue>(string identifier, object?[]? args) => throw new InvalidOperationException("no JS while rendering statically");

    public ValueTask<TValue> InvokeAsync<TValue>(string identifier, CancellationToken cancellationToken, object?[]? args) => throw new InvalidOperationException("no JS while rendering statically");
}
