using System.Security.Cryptography;
using UsageDashboard.Database;

namespace UsageDashboard.Access;

/// <summary>
/// Development only (registered only there): on the first start with no users, creates a local admin
/// and prints its credentials, so the README's run command leads straight to a signed-in dashboard.
/// The credentials are also written to the git-ignored .data folder.
/// </summary>
public sealed class DevelopmentAdmin(IServiceProvider services, IHostEnvironment environment, ILogger<DevelopmentAdmin> logger) : IHostedService
{
    public const string Email = "admin@localhost";

    public async Task StartAsync(CancellationToken cancellationToken)
    {
        await services.GetRequiredService<EventsDatabaseHolder>().OpenAsync(cancellationToken);
        await using var scope = services.CreateAsyncScope();
        var admin = scope.ServiceProvider.GetRequiredService<UserAdminService>();
        await admin.EnsureRolesAsync();
        if (await admin.AnyAsync())
        {
            return;
        }
        // 18 random characters plus a fixed tail that meets the password rules.
        var password = Convert.ToBase64String(RandomNumberGenerator.GetBytes(14)).TrimEnd('=').Replace('+', 'x').Replace('/', 'y') + "Aa1";
        var result = await admin.AddAsync(Email, Roles.Admin, password);
        if (!result.Succeeded)
        {
            logger.LogWarning("Could not create the development admin: {Errors}", string.Join("; ", result.Errors));
            return;
        }
        var folder = Path.Combine(environment.ContentRootPath, ".data");
        Directory.CreateDirectory(folder);
        await File.WriteAllTextAsync(Path.Combine(folder, "admin-credentials.txt"), $"{Email}\n{password}\n", cancellationToken);
        Console.WriteLine();
        Console.WriteLine("  Development admin created (this machine only):");
        Console.WriteLine($"    email:    {Email}");
        Console.WriteLine($"    password: {password}");
        Console.WriteLine("  Also saved in .data/admin-credentials.txt. Add users with: dotnet run --project src/UsageDashboard -- users add ...");
        Console.WriteLine();
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
}
