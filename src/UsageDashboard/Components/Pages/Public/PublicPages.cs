using System.Globalization;
using Microsoft.AspNetCore.Components;
using Microsoft.AspNetCore.Components.Web;
using Microsoft.Extensions.Options;
using UsageDashboard.Hub;
using UsageDashboard.Public;

namespace UsageDashboard.Components.Pages.Public;

/// <summary>Routes of the public pages.</summary>
public static class PublicLinks
{
    public static string Tool(string tool) => "/public/" + Uri.EscapeDataString(tool);

    public static string Plugin(string tool, string plugin) => Tool(tool) + "/plugins/" + Uri.EscapeDataString(plugin);
}

/// <summary>
/// The anonymous public pages: rendered once to HTML by <see cref="HtmlRenderer"/> (static, no circuit, no
/// form, no script), kept as bytes with a strong ETag for <see cref="HubOptions.SnapshotTtl"/>, and served
/// with <c>Cache-Control: public</c> and 304s, like the hub API. Only tools named in <c>Public:Tools</c> exist;
/// everything else, and every plugin the hub does not publish with numbers, is a 404.
/// </summary>
public static class PublicPages
{
    public static RouteGroupBuilder MapPublicPages(this IEndpointRouteBuilder app)
    {
        var group = app.MapGroup("/public").AllowAnonymous().ExcludeFromDescription();

        group.MapGet("/{tool}", (string tool, int? days, HttpContext http, PublicService pages, CancellationToken ct) =>
            ServeAsync(http, pages, $"t\u0001{tool}\u0001{days}", days, async d =>
                await pages.GetToolAsync(tool, d, ct) is { } view ? await RenderAsync<PublicToolPage>(http, view) : null));

        group.MapGet("/{tool}/plugins/{plugin}", (string tool, string plugin, int? days, HttpContext http, PublicService pages, CancellationToken ct) =>
            ServeAsync(http, pages, $"p\u0001{tool}\u0001{plugin}\u0001{days}", days, async d =>
                await pages.GetPluginAsync(tool, plugin, d, ct) is { } view ? await RenderAsync<PublicPluginPage>(http, view) : null));

        return group;
    }

    private static async Task<IResult> ServeAsync(HttpContext http, PublicService pages, string key, int? days, Func<int, Task<string?>> render)
    {
        if (days is { } d && !HubHistoryService.Ranges.Contains(d))
        {
            return Results.BadRequest(new { error = "invalid_range", message = "days is 30, 90 or 365." });
        }
        var body = await pages.PageAsync(key, async () => await render(days ?? 30) is { } html ? "<!DOCTYPE html>\n" + html : null);
        return body is null
            ? Results.NotFound()
            : new PublicPageResult(body, http.RequestServices.GetRequiredService<IOptions<HubOptions>>().Value.CacheSeconds);
    }

    private static async Task<string> RenderAsync<TPage>(HttpContext http, object view) where TPage : IComponent
    {
        await using var renderer = new HtmlRenderer(http.RequestServices, http.RequestServices.GetRequiredService<ILoggerFactory>());
        return await renderer.Dispatcher.InvokeAsync(async () =>
        {
            var output = await renderer.RenderComponentAsync<TPage>(ParameterView.FromDictionary(new Dictionary<string, object?> { ["View"] = view }));
            return output.ToHtmlString();
        });
    }

    /// <summary>A cached page: public caching, strong ETag, 304 when the client holds it; never a cookie.</summary>
    private sealed class PublicPageResult(HubBody body, int cacheSeconds) : IResult
    {
        public Task ExecuteAsync(HttpContext http)
        {
            var headers = http.Response.Headers;
            headers.CacheControl = "public, max-age=" + cacheSeconds.ToString(CultureInfo.InvariantCulture);
            headers.ETag = body.ETag;
            headers.Vary = "Accept-Encoding";
            if (HubResult.Matches(http.Request.Headers.IfNoneMatch.ToString(), body.ETag))
            {
                http.Response.StatusCode = StatusCodes.Status304NotModified;
                return Task.CompletedTask;
            }
            http.Response.StatusCode = StatusCodes.Status200OK;
            http.Response.ContentType = "text/html; charset=utf-8";
            http.Response.ContentLength = body.Bytes.Length;
            return http.Response.Body.WriteAsync(body.Bytes).AsTask();
        }
    }
}
