using System.Globalization;
using System.Text;
using System.Text.Json;
using Microsoft.Extensions.Options;
using UsageDashboard.Insights;

namespace UsageDashboard.Hub;

public static class HubApi
{
    private static readonly JsonSerializerOptions s_json = new(JsonSerializerDefaults.Web);

    /// <summary>
    /// The community hub's read-only API and badges: public, cross-origin, cacheable, with ETags.
    /// Explicitly anonymous: these are the only data routes that are.
    /// </summary>
    public static RouteGroupBuilder MapHubApi(this IEndpointRouteBuilder app)
    {
        var group = app.MapGroup("").WithTags("Hub").AllowAnonymous();

        group.MapGet("/api/hub/{tool}/plugins", async (string tool, HttpContext http, HubService hub) =>
        {
            var snapshot = await hub.GetAsync(tool);
            return snapshot is null
                ? NotFound(http, "unknown_tool", "No telemetry from a tool of that name.")
                : new HubResult(snapshot.List, "application/json; charset=utf-8", StatusCodes.Status200OK, CacheSeconds(http));
        }).WithName("GetHubPlugins").WithSummary("Every published plugin of a tool: usage, success rate and health over 30 days.");

        group.MapGet("/api/hub/{tool}/plugins/{plugin}", async (string tool, string plugin, HttpContext http, HubService hub) =>
        {
            var snapshot = await hub.GetAsync(tool);
            if (snapshot is null)
            {
                return NotFound(http, "unknown_tool", "No telemetry from a tool of that name.");
            }
            return snapshot.TryGet(plugin, out _, out var body)
                ? new HubResult(body, "application/json; charset=utf-8", StatusCodes.Status200OK, CacheSeconds(http))
                : NotFound(http, "unknown_plugin", "No published plugin of that name for this tool.");
        }).WithName("GetHubPlugin").WithSummary("One plugin with per-version figures.");

        group.MapGet("/api/hub/{tool}/plugins/{plugin}/history", async (string tool, string plugin, string? metric, string? grain, int? days,
            HttpContext http, HubHistoryService history) =>
        {
            metric = string.IsNullOrEmpty(metric) ? "runs" : metric;
            grain = string.IsNullOrEmpty(grain) ? "day" : grain;
            if (metric is not ("runs" or "installations" or "success-rate") || !HubHistoryService.Grains.Contains(grain) || !HubHistoryService.Ranges.Contains(days ?? 90))
            {
                return Error(http, StatusCodes.Status400BadRequest, "invalid_query", "metric is runs, installations or success-rate; grain is day or week; days is 30, 90 or 365.");
            }
            var h = await history.GetAsync(tool, plugin, days ?? 90, grain);
            return h is null
                ? NotFound(http, "unknown_plugin", "No published plugin of that name for this tool.")
                : new HubResult(HubBody.Of(JsonSerializer.SerializeToUtf8Bytes(HistoryJson(h, metric), s_json)), "application/json; charset=utf-8", StatusCodes.Status200OK, CacheSeconds(http));
        }).WithName("GetHubPluginHistory").WithSummary("A published plugin over time: ?metric=runs|installations|success-rate&grain=day|week&days=30|90|365, per published version.");

        group.MapGet("/badges/{tool}/{file}", async (string tool, string file, string? version, string? metric, string? style,
            HttpContext http, HubService hub) =>
        {
            var svg = file.EndsWith(".svg", StringComparison.Ordinal);
            if (!svg && !file.EndsWith(".json", StringComparison.Ordinal))
            {
                return NotFound(http, "unknown_format", "Badges are .svg or .json.");
            }
            var plugin = file[..file.LastIndexOf('.')];
            metric = string.IsNullOrEmpty(metric) ? "health" : metric;
            if (metric is not ("health" or "status" or "success-rate" or "installations") || !BadgeRenderer.IsStyle(style))
            {
                return BadgeResult(http, new Badge("badge", "invalid query", "lightgrey", IsError: true), svg, style, StatusCodes.Status400BadRequest);
            }
            var snapshot = await hub.GetAsync(tool);
            HubPlugin? found = null;
            var badge = snapshot is not null && snapshot.TryGet(plugin, out found, out _) ? HubService.BadgeFor(found, string.IsNullOrEmpty(version) ? null : version, metric) : null;
            return badge is null
                ? BadgeResult(http, new Badge(metric.Replace('-', ' '), "unknown", "lightgrey", IsError: true), svg, style, StatusCodes.Status404NotFound)
                : BadgeResult(http, badge, svg, style, StatusCodes.Status200OK);
        }).WithName("GetBadge").WithSummary("A shields.io-style badge (.svg) or shields.io endpoint JSON (.json): ?metric=health|status|success-rate|installations (status: \"broken since 1.4.2\" while a flag is open), ?version=, ?style=flat|flat-square.");

        return group;
    }

    private static int CacheSeconds(HttpContext http) => http.RequestServices.GetRequiredService<IOptions<HubOptions>>().Value.CacheSeconds;

    private static HubResult NotFound(HttpContext http, string error, string message) => Error(http, StatusCodes.Status404NotFound, error, message);

    private static HubResult Error(HttpContext http, int status, string error, string message) =>
        new(HubBody.Of(JsonSerializer.SerializeToUtf8Bytes(new { error, message }, s_json)), "application/json; charset=utf-8", status, CacheSeconds(http));

    /// <summary>The history's wire shape: one value per bucket for the metric, and per published version.</summary>
    private static object HistoryJson(HubHistory h, string metric)
    {
        object? Value(long installations, long runs, Rate rate) => metric switch
        {
            "installations" => installations,
            "runs" => runs,
            _ => rate.Value is { } v ? Math.Round(v, 6) : null,
        };
        double[]? Interval(Rate rate) => metric == "success-rate" && rate.Interval is { } i ? [Math.Round(i.Low, 6), Math.Round(i.High, 6)] : null;
        return new
        {
            tool = h.Tool,
            plugin = h.Plugin,
            metric,
            grain = h.Grain,
            from = Format.Date(h.From),
            to = Format.Date(h.To),
            updatedAt = h.AsOf,
            total = Value(h.Installations, h.Runs, h.SuccessRate),
            points = h.Buckets.Select(b => new
            {
                start = Format.Date(b.Start),
                value = Value(b.Installations, b.Runs, b.SuccessRate),
                interval = Interval(b.SuccessRate),
                versions = b.Versions.Select(v => new { version = v.Version, value = Value(v.Installations, v.Runs, v.SuccessRate), interval = Interval(v.SuccessRate) }),
            }),
        };
    }

    private static HubResult BadgeResult(HttpContext http, Badge badge, bool svg, string? style, int status)
    {
        var cacheSeconds = CacheSeconds(http);
        if (svg)
        {
            return new HubResult(HubBody.Of(Encoding.UTF8.GetBytes(BadgeRenderer.Render(badge, style))), "image/svg+xml; charset=utf-8", status, cacheSeconds);
        }
        // shields.io's endpoint schema rejects unknown keys: exactly these six.
        var json = JsonSerializer.SerializeToUtf8Bytes(new
        {
            schemaVersion = 1,
            label = badge.Label,
            message = badge.Message,
            color = badge.Color,
            isError = badge.IsError,
            cacheSeconds = Math.Max(300, cacheSeconds),
        }, s_json);
        return new HubResult(HubBody.Of(json), "application/json; charset=utf-8", status, cacheSeconds);
    }
}

/// <summary>
/// Writes a precomputed body with the hub's headers: CORS for any origin, public caching, a strong
/// ETag, and 304 Not Modified when the client already holds it.
/// </summary>
public sealed class HubResult(HubBody body, string contentType, int status, int cacheSeconds) : IResult
{
    public int StatusCode => status;

    public Task ExecuteAsync(HttpContext http)
    {
        http.RequestServices.GetRequiredService<Operations.AppMetrics>().HubRequest(http.GetEndpoint()?.Metadata.GetMetadata<IEndpointNameMetadata>()?.EndpointName ?? "other",
            status == StatusCodes.Status200OK && Matches(http.Request.Headers.IfNoneMatch.ToString(), body.ETag) ? StatusCodes.Status304NotModified : status);
        var headers = http.Response.Headers;
        headers.AccessControlAllowOrigin = "*";
        headers.CacheControl = "public, max-age=" + cacheSeconds.ToString(CultureInfo.InvariantCulture);
        headers.ETag = body.ETag;
        headers.Vary = "Accept-Encoding";
        if (contentType.StartsWith("image/svg", StringComparison.Ordinal))
        {
            // Opened directly, an SVG is a document: let it run nothing and load nothing.
            headers.ContentSecurityPolicy = "default-src 'none'; style-src 'unsafe-inline'";
        }
        if (status == StatusCodes.Status200OK && Matches(http.Request.Headers.IfNoneMatch.ToString(), body.ETag))
        {
            http.Response.StatusCode = StatusCodes.Status304NotModified;
            return Task.CompletedTask;
        }
        http.Response.StatusCode = status;
        http.Response.ContentType = contentType;
        http.Response.ContentLength = body.Bytes.Length;
        return http.Response.Body.WriteAsync(body.Bytes).AsTask();
    }

    /// <summary>If-None-Match: <c>*</c>, or a list of tags (weak ones compared weakly, as RFC 9110 says for GET).</summary>
    public static bool Matches(string ifNoneMatch, string etag)
    {
        if (string.IsNullOrWhiteSpace(ifNoneMatch))
        {
            return false;
        }
        foreach (var raw in ifNoneMatch.Split(','))
        {
            var tag = raw.Trim();
            if (tag == "*" || (tag.StartsWith("W/", StringComparison.Ordinal) ? tag[2..] : tag) == etag)
            {
                return true;
            }
        }
        return false;
    }
}
