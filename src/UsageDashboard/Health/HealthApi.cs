using UsageDashboard.Access;
using UsageDashboard.Catalog;

namespace UsageDashboard.Health;

public static class HealthApi
{
    /// <summary><c>/api/health/*</c>: flags for viewers (read-scoped tokens too), evaluation on demand for maintainers.</summary>
    public static RouteGroupBuilder MapHealthApi(this IEndpointRouteBuilder app)
    {
        var group = app.MapGroup("/api/health").WithTags("Health").RequireAuthorization(Policies.ApiReader);

        group.MapPost("/evaluate", async (HealthEvaluator evaluator, CancellationToken ct) =>
        {
            var r = await evaluator.EvaluateAsync(ct);
            return TypedResults.Ok(new
            {
                subjects = r.Subjects,
                opened = r.Opened,
                escalated = r.Escalated,
                resolved = r.Resolved,
                active = r.Active,
                elapsedMs = Math.Round(r.Elapsed.TotalMilliseconds, 1),
            });
        }).RequireAuthorization(Policies.Maintainer).RequireAntiforgeryForCookies()
          .WithName("EvaluateHealth").WithSummary("Run plugin-health detection now; answers what changed.");

        group.MapGet("/flags", async (HealthFlagService flags, PluginNames names, TimeProvider time, string? tool, CancellationToken ct) =>
        {
            var list = await flags.ListAsync(time.GetUtcNow().UtcDateTime.AddDays(-30), tool, ct);
            return TypedResults.Ok(new
            {
                items = list.Select(f => new
                {
                    id = f.Id, tool = f.Tool, kind = f.Kind,
                    name = f.Kind == HealthSubject.PluginKind ? names.Resolve(f.Name).Display : f.Name,
                    version = f.Kind == HealthSubject.PluginKind ? names.VersionLabel(f.Name, f.Version) : f.Version,
                    title = f.Kind == HealthSubject.PluginKind ? FlagView.TitleOf(f, names) : f.Tool + " " + f.Version,
                    severity = f.Severity, state = f.State,
                    method = f.Method, reason = names.Text(f.Reason), openedAt = f.OpenedAt, updatedAt = f.UpdatedAt, acknowledgedBy = f.AcknowledgedBy,
                    resolvedAt = f.ResolvedAt, resolvedBy = f.ResolvedBy, diffUrl = DiffUrl(f.Evidence),
                }),
            });
        }).WithName("GetHealthFlags").WithSummary("Active flags and those resolved in the last 30 days.");

        return group;
    }

    /// <summary>The release diff a flag links to (stored in its evidence since release diffs exist; older flags have none).</summary>
    private static string? DiffUrl(string evidence)
    {
        try
        {
            using var doc = System.Text.Json.JsonDocument.Parse(evidence);
            return doc.RootElement.TryGetProperty("diffUrl", out var url) && url.ValueKind == System.Text.Json.JsonValueKind.String ? url.GetString() : null;
        }
        catch (System.Text.Json.JsonException)
        {
            return null;
        }
    }
}
