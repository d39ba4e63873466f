using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using UsageDashboard.Access;
using UsageDashboard.Store;

namespace UsageDashboard.Tests.Infrastructure;

/// <summary>
/// The real app (Program) over a test database of its own, optionally with a fixed clock. In the default
/// <c>Testing</c> environment the tools accept the development write keys (<see cref="ToolsWithDevelopmentKeys"/>),
/// which only appsettings.Development.json holds; another environment gets the configuration files as they are.
/// </summary>
public sealed class AppFactory(string connectionString, TimeProvider? time = null, IReadOnlyDictionary<string, string?>? settings = null, string environment = "Testing")
    : WebApplicationFactory<Program>
{
    public static string RepoRoot { get; } = FindRepoRoot();

    /// <summary>The tools appsettings.Development.json gives a <c>dev-/// <summary>The keys appsettings.Development.json gives the four tools.</summary>lt;tool/// <summary>The keys appsettings.Development.json gives the four tools.</summary>gt;-write-key</c>.</summary>
    public static readonly IReadOnlyList<string> ToolsWithDevelopmentKeys = ["dbt", "meltano", "evidently", "jetty"];

    protected override void ConfigureWebHost(IWebHostBuilder builder)
    {
        builder.UseContentRoot(RepoRoot);
        builder.UseEnvironment(environment);
        if (environment == "Testing")
        {
            foreach (var tool in ToolsWithDevelopmentKeys)
            {
                builder.UseSetting($"Tools:{tool}:WriteKeys:0", $"dev-{tool}-write-key");
            }
        }
        builder.UseSetting("ConnectionStrings:Events", connectionString);
        builder.UseSetting("Demo:SeedLocalDatabase", "false");
        // Writes reach the rollups (and so the pages) within a fraction of a second instead of 10 s.
        builder.UseSetting("Rollups:RefreshEvery", "00:00:00.200");
        builder.UseSetting("Rollups:Cache:MaxStaleness", "00:00:00");
        // A test app serves a few requests; the start-up warm-up would only cost CPU (IngestionWarmUpTests turn it on).
        builder.UseSetting("Ingestion:WarmUpRounds", "0");
        foreach (var (key, value) in settings ?? new Dictionary<string, string?>())
        {
            builder.UseSetting(key, value);
        }
        if (time is not null)
        {
            builder.ConfigureServices(services => services.Replace(ServiceDescriptor.Singleton(time)));
        }
    }

    public const string TestPassword = "Correct-Horse-42";

    /// <summary>Folds every write so far into the rollups now, instead of waiting for the background refresher.</summary>
    public async Task RefreshRollupsAsync()
    {
        // The app's own background refresher may hold the refresh lock, and then this pass is skipped: wait
        // until no change is left unfolded (marks go in the same transaction as the rollup rows they cover).
        await using var dataSource = Npgsql.NpgsqlDataSource.Create(connectionString);
        for (var attempt = 0; attempt < 600; attempt++)
        {
            await Services.GetRequiredService<UsageDashboard.Rollups.RollupRefresher>().RefreshAsync(default);
            await using var pending = dataSource.CreateCommand("SELECT EXISTS (SELECT 1 FROM rollup_dirty)");
            if (!(bool)(await pending.ExecuteScalarAsync())!)
            {
                return;
            }
            await Task.Delay(50);
        }
        throw new TimeoutException("rollup changes were still unfolded after 30 s");
    }

    /// <summary>Creates a user with <paramref name="role"/> through the real services (unique email per call).</summary>
    public async Task<string> CreateUserAsync(string role, string? email = null)
    {
        email ??= $"{role}-{Guid.NewGuid():N}@example.test";
        await using var scope = Services.CreateAsyncScope();
        var result = await scope.ServiceProvider.GetRequiredService<UserAdminService>().AddAsync(email, role, TestPassword);
        Assert.True(result.Succeeded, string.Join("; ", result.Errors));
        return email;
    }

    /// <summary>
    /// An HTTP client that authenticates with a real personal API token of a new user with <paramref name="role"/>.
    /// The token's scope is admin by default, so it opens pages as its owner would; pass <see cref="TokenScopes.Read"/> for a script's token.
    /// </summary>
    public async Task<HttpClient> CreateClientAsAsync(string role, string tokenScope = TokenScopes.Admin)
    {
        var email = await CreateUserAsync(role);
        await using var scope = Services.CreateAsyncScope();
        var user = await scope.ServiceProvider.GetRequiredService<UserAdminService>().FindByEmailAsync(email);
        var token = await scope.ServiceProvider.GetRequiredService<TokenService>().CreateAsync(user!, "test", null, tokenScope, default);
        var client = CreateClient();
        client.DefaultRequestHeaders.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", token.Secret);
        return client;
    }

    /// <summary>Synchronous <see cref="CreateClientAsAsync"/>, for test-class constructors.</summary>
    public HttpClient CreateClientAs(string role) => CreateClientAsAsync(role).GetAwaiter().GetResult();

    private static string FindRepoRoot()
    {
        var dir = new DirectoryInfo(AppContext.BaseDirectory);
        while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "UsageDashboard.sln")))
        {
            dir = dir.Parent;
        }
        return dir?.FullName ?? throw new InvalidOperationException("repository root (UsageDashboard.sln) not found");
    }
}
