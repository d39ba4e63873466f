using MudBlazor.Services;
using Npgsql;
using UsageDashboard.Access;
using UsageDashboard.Catalog;
using UsageDashboard.Cli;
using UsageDashboard.Components;
using UsageDashboard.Database;
using UsageDashboard.Demo;
using UsageDashboard.Health;
using UsageDashboard.Hosting;
using UsageDashboard.Hub;
using UsageDashboard.Ingestion;
using UsageDashboard.Insights;
using UsageDashboard.Operations;
using UsageDashboard.Public;
using UsageDashboard.Components.Pages.Public;
using UsageDashboard.Releases;
using UsageDashboard.Rollups;
using UsageDashboard.Store;

if (CliApp.IsVerb(args))
{
    return await CliApp.RunAsync(args);
}

var builder = WebApplication.CreateBuilder(ConfigurationFiles.WithoutWatch(args));
// appsettings*.json still reload on change, polled: watching the content root would watch .data/ too.
ConfigurationFiles.PollForChanges(builder.Configuration, builder.Environment.ContentRootPath);
// The build output's static assets (compressed variants in obj/, npm files) are found through the
// development manifest, which the host reads only in Development: without it a Production start from the
// build output answers br/gzip requests with an empty 200. A publish output has no manifest, so this is a no-op there.
builder.WebHost.UseStaticWebAssets();

// Event store: configured server or project-local cluster, migrated and (locally) seeded before Kestrel listens
builder.Services.AddEventStore(builder.Configuration);
builder.Services.AddHostedService<DatabaseStartup>();
builder.Services.AddRunDerivation(builder.Configuration).AddRunSweeper();
builder.Services.AddEventPartitions(builder.Configuration).AddEventPartitionMaintenance();

// Access control: sign-in, roles, API tokens, managed write keys
builder.Services.AddAccessCore(builder.Configuration);
builder.Services.AddAccessWeb(builder.Configuration, builder.Environment);

// Demo data
builder.Services.AddDemoData();

// Ingestion: the collector endpoints, tools and write keys, limits and per-key rate limiting
builder.Services.AddIngestion(builder.Configuration).AddQuarantinePruning();

// Catalog: public plugin names (embedded Meltano Hub catalog), read-side resolution of Meltano's digests
builder.Services.AddPluginCatalog(builder.Configuration);

// Insights, read from rollups that a background refresher keeps equal to the runs
builder.Services.AddRollups(builder.Configuration);
builder.Services.AddInsights();
// Release diffs: excess failures of a release by slice, error types, adoption, rollbacks
builder.Services.AddReleases(builder.Configuration);

// Health: plugin-version failure detection, flags, webhooks
builder.Services.AddHealth(builder.Configuration);

// Hub: public plugin API and badges for the community hub
builder.Services.AddHub(builder.Configuration);
// Public pages: anonymous, static, cached usage pages of the tools named in Public:Tools
builder.Services.AddPublicPages(builder.Configuration);

// Operations: domain metrics, OpenTelemetry (Prometheus /metrics, OTLP), start-up checks
builder.Services.AddOperations(builder.Configuration);

// Web UI: interactive Blazor Server with MudBlazor (sign-in and public pages stay static), and the API description
builder.Services.AddDashboardUi(builder.Configuration);
builder.Services.AddMudServices();
builder.Services.AddOpenApi();
builder.Services.AddProblemDetails();

var app = builder.Build();

// Client address and scheme from X-Forwarded-* only when a configured proxy sent them (ForwardedHeaders:*)
app.UseForwardedHeaders();
// Prometheus scrape endpoint, when Operations:Metrics:Enabled, for loopback or allowed networks only
app.UseMetricsEndpoint(app.Configuration);
app.UseExceptionHandler(new ExceptionHandlerOptions { ExceptionHandler = DatabaseUnavailable.HandleAsync });
if (!app.Environment.IsDevelopment())
{
    app.UseHsts();
}
app.UseSecurityHeaders();
// Input checks at the edge: no NUL or lone surrogate in paths, query strings or forms; periods within bounds
app.UseTextInputCheck();
app.UseInsightPeriodCheck();
app.UseStatusCodePages();
app.MapStaticAssets();
app.UseAuthentication();
app.UseAuthorization();
app.UseAntiforgery();
app.UseRateLimiter();

// Public: health, ingestion (write keys), API description, sign-in, hub API and badges. Everything else needs a
// signed-in viewer or a token; read-scoped tokens reach only the read APIs.
app.MapHealthz();
app.MapIngestionApi();
app.MapOpenApi();
app.MapAccountEndpoints();
app.MapInsightsApi().RequireAuthorization(Policies.ApiReader);
app.MapReleaseApi().RequireAuthorization(Policies.ApiReader);
app.MapHealthApi();
app.MapHubApi();
app.MapPublicPages();
app.MapRazorComponents<App>().AddInteractiveServerRenderMode().RequireAuthorization(Policies.Viewer);

app.Lifetime.ApplicationStarted.Register(() =>
{
    foreach (var address in app.Urls)
    {
        Console.WriteLine($"UsageDashboard is running at {address}");
    }
});

try
{
    await app.RunAsync();
    return 0;
}
catch (LocalPostgresException e)
{
    await Console.Error.WriteLineAsync("error: " + e.Message);
    return 2;
}
catch (NpgsqlException e) when (e is not PostgresException)
{
    await Console.Error.WriteLineAsync($"error: the database did not answer ({e.Message}). Check ConnectionStrings__Events, or unset it to use the project-local PostgreSQL.");
    return 2;
}

/// <summary>The entry point, visible to WebApplicationFactory in the tests.</summary>
public partial class Program;
