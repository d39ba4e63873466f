using System.Text.Json;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.Extensions.Primitives;
using Microsoft.OpenApi;
using UsageDashboard.Access;
using UsageDashboard.Hosting;

namespace UsageDashboard.Ingestion;

public static class IngestionApi
{
    /// <summary>The 1×1 transparent GIF a Snowplow collector answers <c>GET /i</c> with.</summary>
    private static readonly byte[] s_pixel = Convert.FromBase64String("R0lGODlhAQABAPAAAP///wAAACH5BAEAAAAALAAAAAABAAEAAAICRAEAOw==");

    /// <summary>
    /// The collector: the native endpoint, Jitsu classic s2s (Evidently ≥ 0.4), the Snowplow tracker
    /// protocol (dbt, Meltano) and the published event schema. Rate limited per write key.
    /// </summary>
    public static RouteGroupBuilder MapIngestionApi(this IEndpointRouteBuilder app)
    {
        // The collector checks its own input (bodies and query alike) and counts what it refuses in the quarantine counters.
        var group = app.MapGroup("").WithTags("Ingestion").RequireRateLimiting(IngestionExtensions.RateLimitPolicy)
            .WithMetadata(TextInputCheck.ChecksItsOwnInput.Instance);

        group.MapPost("/api/v1/events", PostEventsAsync)
            .WithName("PostEvents")
            .WithSummary("Send events in the native format (also accepts the Jetty usage event and the Evidently 0.1 CLI event unchanged).")
            .WithDescription("Body: one event object, a JSON array of events, or NDJSON (application/x-ndjson). Authenticate with `Authorization: Bearer <write key>` or `X-Write-Key`. At most 1 MiB and 1,000 events per request, 64 KiB per event. Events that cannot be normalised are quarantined and listed in `rejected`; the others are stored. A 2xx means every accepted event is durable.")
            .WithRequestBody<NativeEvent>(array: true, "application/json", "application/x-ndjson")
            .Produces<IngestResponse>(StatusCodes.Status200OK)
            .Produces<IngestResponse>(StatusCodes.Status422UnprocessableEntity)
            .WithErrorResponses();

        foreach (var path in new[] { "/api/v1/s2s/event", "/api/v1/s2s/events" })
        {
            group.MapPost(path, PostJitsuAsync)
                .WithName(path.EndsWith('s') ? "PostJitsuEvents" : "PostJitsuEvent")
                .WithSummary("Jitsu classic server-to-server API, as Evidently ≥ 0.4 sends it.")
                .WithDescription("Token in the `token` query parameter or the `X-Auth-Token` header (a write key). Body: an object, an array, or `{template, events}`. Answers `{\"status\":\"ok\"}` like a Jitsu server.")
                .WithRequestBody<JsonElement>(array: false, "application/json")
                .Produces<JitsuResponse>(StatusCodes.Status200OK)
                .Produces<ErrorResponse>(StatusCodes.Status422UnprocessableEntity)
                .WithErrorResponses();
        }

        group.MapPost(SnowplowPostPath, PostSnowplowAsync)
            .WithName("PostSnowplow")
            .WithSummary("Snowplow tracker protocol, POST (payload_data 1-0-x), as dbt and Meltano send it.")
            .WithDescription("No key: events are attributed by their app id (`aid`, Tools:<tool>:SnowplowAppIds); an unknown app id is quarantined. Answers 200 like a Snowplow collector once the events are durable, quarantined or not.")
            .WithRequestBody<JsonElement>(array: false, "application/json")
            .Produces(StatusCodes.Status200OK, contentType: "text/plain")
            .Produces<ErrorResponse>(StatusCodes.Status422UnprocessableEntity)
            .WithErrorResponses();

        group.MapMethods("/i", [HttpMethods.Get, HttpMethods.Head], GetSnowplowPixelAsync)
            .WithName("GetSnowplowPixel")
            .WithSummary("Snowplow tracker protocol, GET: one event in the query string; answers a 1×1 GIF.")
            .Produces(StatusCodes.Status200OK, contentType: "image/gif")
            .Produces<ErrorResponse>(StatusCodes.Status422UnprocessableEntity)
            .WithErrorResponses();

        app.MapGet("/api/v1/schema/event.json", () => TypedResults.Text(EventSchema.Json, "application/schema+json"))
            .WithTags("Ingestion")
            .WithName("GetEventSchema")
            .WithSummary("The JSON Schema of a native event (docs/schema/event.schema.json).");

        return group;
    }

    /// <summary>
    /// Describes the request body in the OpenAPI document only. <c>Accepts</c> would also make routing
    /// answer a wrong content type by itself, without the JSON error body this API promises.
    /// </summary>
    private static RouteHandlerBuilder WithRequestBody<T>(this RouteHandlerBuilder builder, bool array, params string[] contentTypes) =>
        builder.AddOpenApiOperationTransformer(async (operation, context, ct) =>
        {
            IOpenApiSchema schema = await context.GetOrCreateSchemaAsync(typeof(T), null, ct);
            if (typeof(T) != typeof(JsonElement) && context.Document is { } document)
            {
                // A named component, so clients generated from the document get a NativeEvent type.
                document.AddComponent(typeof(T).Name, schema);
                schema = new OpenApiSchemaReference(typeof(T).Name, document);
            }
            IOpenApiSchema body = array
                ? new OpenApiSchema { OneOf = [schema, new OpenApiSchema { Type = JsonSchemaType.Array, Items = schema, MaxItems = 1000 }] }
                : schema;
            operation.RequestBody = new OpenApiRequestBody
            {
                Required = true,
                Content = contentTypes.ToDictionary(c => c, _ => new OpenApiMediaType { Schema = body }),
            };
        });

    private static RouteHandlerBuilder WithErrorResponses(this RouteHandlerBuilder builder) => builder
        .Produces<ErrorResponse>(StatusCodes.Status400BadRequest)
        .Produces<ErrorResponse>(StatusCodes.Status401Unauthorized)
        .Produces<ErrorResponse>(StatusCodes.Status413PayloadTooLarge)
        .Produces<ErrorResponse>(StatusCodes.Status415UnsupportedMediaType)
        .Produces<ErrorResponse>(StatusCodes.Status429TooManyRequests)
        .Produces<ErrorResponse>(StatusCodes.Status503ServiceUnavailable);

    internal static async Task<Results<Ok<IngestResponse>, JsonHttpResult<IngestResponse>, JsonHttpResult<ErrorResponse>>> PostEventsAsync(
        HttpContext http, Collector collector, CommitQueue queue, CancellationToken ct)
    {
        var allowed = await AllowedToolsAsync(http, collector, jitsu: false, ct);
        if (allowed.Count == 0)
        {
            return Unauthorized(http);
        }
        var contentType = http.Request.ContentType;
        var ndjson = RequestBody.IsNdjson(contentType);
        if (!ndjson && !RequestBody.IsJson(contentType))
        {
            return UnsupportedMediaType("application/json or application/x-ndjson");
        }
        var body = await RequestBody.ReadAsync(http.Request, collector.Options.MaxBodyBytes, ct);
        if (body is null)
        {
            return await RefuseAsync(http, RequestBody.TooLarge(collector.Options.MaxBodyBytes), StatusCodes.Status413PayloadTooLarge, allowed, ct);
        }
        using var parsed = RequestBody.Parse(body, ndjson, collector.Options.MaxEventsPerRequest, WireFormats.UnwrapNative, collector.Options);
        if (parsed.Error is { } error)
        {
            return await RefuseAsync(http, error, parsed.StatusCode, allowed, ct);
        }
        var batch = MapNative(collector, parsed.Items, allowed);
        var outcome = await queue.CommitAsync(batch, ct);
        if (outcome.Result is not { } result)
        {
            return Refused(http, outcome);
        }
        var response = new IngestResponse(result.Accepted, result.Duplicates, result.Rejected);
        // Every event rejected: 422 tells the client not to retry (they are quarantined, not lost).
        return parsed.Items.Count > 0 && result.Rejected.Count == parsed.Items.Count
            ? TypedResults.Json(response, statusCode: StatusCodes.Status422UnprocessableEntity)
            : TypedResults.Ok(response);
    }

    internal static async Task<Results<Ok<JitsuResponse>, JsonHttpResult<ErrorResponse>>> PostJitsuAsync(HttpContext http, Collector collector, CommitQueue queue, CancellationToken ct)
    {
        var allowed = await AllowedToolsAsync(http, collector, jitsu: true, ct);
        if (allowed.Count == 0)
        {
            return Unauthorized(http);
        }
        if (!RequestBody.IsJson(http.Request.ContentType))
        {
            return UnsupportedMediaType("application/json");
        }
        var body = await RequestBody.ReadAsync(http.Request, collector.Options.MaxBodyBytes, ct);
        if (body is null)
        {
            return await RefuseAsync(http, RequestBody.TooLarge(collector.Options.MaxBodyBytes), StatusCodes.Status413PayloadTooLarge, allowed, ct);
        }
        using var parsed = RequestBody.Parse(body, ndjson: false, collector.Options.MaxEventsPerRequest, root => WireFormats.UnwrapJitsu(root, collector.Options), collector.Options);
        if (parsed.Error is { } error)
        {
            return await RefuseAsync(http, error, parsed.StatusCode, allowed, ct);
        }
        var context = collector.CreateContext(allowed);
        var batch = collector.Map(parsed.Items, context, EvidentlyMapper.MapJitsu, "/api/v1/s2s/event", EvidentlyMapper.JitsuSource);
        if (await queue.CommitAsync(batch, ct) is { Result: null } refused)
        {
            return Refused(http, refused);
        }
        // Like Jitsu: the request succeeded; events that could not be normalised are in quarantine.
        return TypedResults.Ok(new JitsuResponse("ok"));
    }

    internal static async Task<Results<ContentHttpResult, JsonHttpResult<ErrorResponse>>> PostSnowplowAsync(HttpContext http, Collector collector, CommitQueue queue, CancellationToken ct)
    {
        if (!RequestBody.IsJson(http.Request.ContentType))
        {
            return UnsupportedMediaType("application/json");
        }
        var body = await RequestBody.ReadAsync(http.Request, collector.Options.MaxBodyBytes, ct);
        if (body is null)
        {
            return await RefuseAsync(http, RequestBody.TooLarge(collector.Options.MaxBodyBytes), StatusCodes.Status413PayloadTooLarge, [], ct);
        }
        using var parsed = RequestBody.Parse(body, ndjson: false, collector.Options.MaxEventsPerRequest, WireFormats.UnwrapSnowplow, collector.Options);
        if (parsed.Error is { } error)
        {
            // 400 is one of the statuses the Snowplow emitters do not retry: a malformed body never gets better.
            return await RefuseAsync(http, error, parsed.StatusCode, [], ct);
        }
        if (await queue.CommitAsync(MapSnowplow(collector, parsed.Items, SnowplowPostPath), ct) is { Result: null } refused)
        {
            return Refused(http, refused);
        }
        NoCache(http.Response);
        return TypedResults.Text("ok", "text/plain");
    }

    internal static async Task<Results<FileContentHttpResult, JsonHttpResult<ErrorResponse>>> GetSnowplowPixelAsync(HttpContext http, Collector collector, CommitQueue queue, CancellationToken ct)
    {
        var query = http.Request.Query;
        if (query.Count > 0 && query.ContainsKey("e"))
        {
            if (UnstorableParameter(query) is { } error)
            {
                // 400 like a malformed POST body: a tracker does not retry it, and it would never get better.
                return await RefuseAsync(http, error, StatusCodes.Status400BadRequest, [], ct);
            }
            var json = QueryAsJson(query);
            using var document = JsonDocument.Parse(json, JsonValues.DocumentOptions);
            if (await queue.CommitAsync(MapSnowplow(collector, [document.RootElement], "/i"), ct) is { Result: null } refused)
            {
                return Refused(http, refused);
            }
        }
        NoCache(http.Response);
        return TypedResults.File(s_pixel, "image/gif");
    }

    private const string SnowplowPostPath = "/com.snowplowanalytics.snowplow/tp2";

    /// <summary>
    /// A request refused whole (body too large, malformed, over a limit, text PostgreSQL refuses), counted
    /// in the quarantine counters like a rejected event: under the write key's tool when it has one.
    /// </summary>
    private static async Task<JsonHttpResult<ErrorResponse>> RefuseAsync(HttpContext http, ErrorResponse error, int statusCode, IReadOnlyList<string> tools, CancellationToken ct)
    {
        await http.RequestServices.GetRequiredService<QuarantineStore>().CountRefusedAsync(tools.Count == 1 ? tools[0] : null, error.Error, ct);
        return TypedResults.Json(error, statusCode: statusCode);
    }

    /// <summary>A native-endpoint body's events, mapped as that endpoint maps them (the warm-up's too).</summary>
    internal static Collector.Batch MapNative(Collector collector, IReadOnlyList<JsonElement> items, IReadOnlyList<string> allowedTools) =>
        collector.Map(items, collector.CreateContext(allowedTools), WireFormats.MapNativeEndpoint, "/api/v1/events", NativeMapper.Source);

    /// <summary>Snowplow events received at <paramref name="endpoint"/>, attributed to a tool by their app id (the warm-up's too).</summary>
    internal static Collector.Batch MapSnowplow(Collector collector, IReadOnlyList<JsonElement> items, string endpoint = SnowplowPostPath) =>
        collector.Map(items, collector.CreateContext([.. collector.Tools.Tools]), (e, c) => SnowplowMapper.Map(e, c, collector.Tools), endpoint, SnowplowMapper.Source);

    /// <summary>The answer to a query whose parameter names or values hold text PostgreSQL refuses (a decoded <c>%00</c>), or null.</summary>
    private static ErrorResponse? UnstorableParameter(IQueryCollection query)
    {
        foreach (var (key, values) in query)
        {
            var problem = JsonScan.ProblemWith(key) ?? (StringValues.IsNullOrEmpty(values) ? null : JsonScan.ProblemWith(values[0] ?? ""));
            if (problem is not null)
            {
                return new ErrorResponse { Error = JsonScan.InvalidText, Message = JsonScan.Unstorable($"the query parameter {Privacy.Clean(key, 32)} holds {problem}") };
            }
        }
        return null;
    }

    /// <summary>Query parameters as the JSON object of strings a POSTed Snowplow event would be (first value of each).</summary>
    private static byte[] QueryAsJson(IQueryCollection query)
    {
        var buffer = new System.Buffers.ArrayBufferWriter<byte>(1024);
        using (var w = new Utf8JsonWriter(buffer))
        {
            w.WriteStartObject();
            foreach (var (key, values) in query)
            {
                if (!StringValues.IsNullOrEmpty(values))
                {
                    w.WriteString(Privacy.Clean(key, 128), Privacy.Clean(values[0] ?? "", 1024 * 1024));
                }
            }
            w.WriteEndObject();
        }
        return buffer.WrittenSpan.ToArray();
    }

    private static void NoCache(HttpResponse response)
    {
        response.Headers.CacheControl = "no-cache, no-store, must-revalidate";
        response.Headers.Pragma = "no-cache";
    }

    /// <summary>
    /// The write key: <c>Authorization: Bearer</c> or <c>X-Write-Key</c>; for Jitsu also where Jitsu
    /// clients put their token (query <c>token</c>, <c>X-Auth-Token</c>, <c>api_key</c>).
    /// </summary>
    /// <summary>The tools the request's write key may send for: keys from configuration, else keys managed on the admin page.</summary>
    private static async Task<IReadOnlyList<string>> AllowedToolsAsync(HttpContext http, Collector collector, bool jitsu, CancellationToken ct)
    {
        var key = WriteKey(http.Request, jitsu);
        var tools = collector.Tools.ToolsForKey(key);
        if (tools.Count == 0 && key is not null && key.StartsWith(WriteKeyService.Prefix, StringComparison.Ordinal)
            && await http.RequestServices.GetRequiredService<ManagedWriteKeys>().FindToolAsync(key, ct) is { } tool)
        {
            return [tool];
        }
        return tools;
    }

    internal static string? WriteKey(HttpRequest request, bool jitsu)
    {
        var authorization = request.Headers.Authorization.ToString();
        if (authorization.StartsWith("Bearer ", StringComparison.OrdinalIgnoreCase))
        {
            return authorization[7..].Trim();
        }
        if (request.Headers["X-Write-Key"] is { Count: > 0 } writeKey)
        {
            return writeKey.ToString().Trim();
        }
        if (!jitsu)
        {
            return null;
        }
        foreach (var candidate in new[] { request.Query["token"], request.Headers["X-Auth-Token"], request.Headers["api_key"] })
        {
            if (!StringValues.IsNullOrEmpty(candidate))
            {
                return candidate.ToString().Trim();
            }
        }
        return null;
    }

    private static JsonHttpResult<ErrorResponse> Unauthorized(HttpContext http)
    {
        http.Response.Headers.WWWAuthenticate = "Bearer";
        return TypedResults.Json(new ErrorResponse
        {
            Error = "unauthorized",
            Message = "a valid write key is required: Authorization: Bearer <key>, X-Write-Key, or (Jitsu) the token query parameter or X-Auth-Token",
        }, statusCode: StatusCodes.Status401Unauthorized);
    }

    /// <summary>A request the commit queue refused (full, database slow, data rejected by the database), with Retry-After where retrying helps.</summary>
    private static JsonHttpResult<ErrorResponse> Refused(HttpContext http, CommitOutcome outcome)
    {
        if (outcome.RetryAfterSeconds is { } seconds)
        {
            http.Response.Headers.RetryAfter = seconds.ToString(System.Globalization.CultureInfo.InvariantCulture);
        }
        return TypedResults.Json(outcome.Refusal!, statusCode: outcome.StatusCode);
    }

    private static JsonHttpResult<ErrorResponse> UnsupportedMediaType(string expected) =>
        TypedResults.Json(new ErrorResponse { Error = "unsupported_media_type", Message = "the content type must be " + expected }, statusCode: StatusCodes.Status415UnsupportedMediaType);
}
