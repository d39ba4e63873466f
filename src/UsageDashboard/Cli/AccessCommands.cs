using System.CommandLine;
using System.Globalization;
using UsageDashboard.Access;

namespace UsageDashboard.Cli;

/// <summary><c>users add|list|remove</c> and <c>tokens create [--scope read|admin]|revoke</c>.</summary>
internal static class AccessCommands
{
    public static Command Users(Func<CancellationToken, Task<CliHost>> startHost)
    {
        var users = new Command("users", "Manage who may sign in to the dashboards.");

        var email = new Option<string>("--email") { Description = "The user's email (their sign-in name)", Required = true };
        var role = new Option<string>("--role") { Description = "viewer, maintainer or admin", DefaultValueFactory = _ => Roles.Viewer };
        var passwordStdin = new Option<bool>("--password-stdin") { Description = "Read the password from standard input (it never goes on the command line)" };
        var add = new Command("add", "Add a user with a role.") { email, role, passwordStdin };
        add.SetAction(async (parse, ct) =>
        {
            if (!parse.GetValue(passwordStdin))
            {
                await Console.Error.WriteLineAsync("error: pass --password-stdin and give the password on standard input (e.g. from a password manager), never as an argument.");
                return 2;
            }
            var password = (await Console.In.ReadLineAsync(ct))?.TrimEnd('\r', '\n') ?? "";
            await using var host = await startHost(ct);
            await using var scope = host.Services.CreateAsyncScope();
            var result = await scope.ServiceProvider.GetRequiredService<UserAdminService>().AddAsync(parse.GetValue(email)!, parse.GetValue(role)!, password);
            return Report(result, $"added {parse.GetValue(email)} as {parse.GetValue(role)}");
        });

        var list = new Command("list", "List users and their roles.");
        list.SetAction(async (_, ct) =>
        {
            await using var host = await startHost(ct);
            await using var scope = host.Services.CreateAsyncScope();
            foreach (var u in await scope.ServiceProvider.GetRequiredService<UserAdminService>().ListAsync())
            {
                Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{u.Email}\t{u.Role}\t{u.CreatedAt:yyyy-MM-dd}{(u.LockedOut ? "\tlocked out" : "")}"));
            }
            return 0;
        });

        var removeEmail = new Option<string>("--email") { Description = "The user to remove", Required = true };
        var remove = new Command("remove", "Remove a user (and their tokens).") { removeEmail };
        remove.SetAction(async (parse, ct) =>
        {
            await using var host = await startHost(ct);
            await using var scope = host.Services.CreateAsyncScope();
            var result = await scope.ServiceProvider.GetRequiredService<UserAdminService>().RemoveAsync(parse.GetValue(removeEmail)!);
            return Report(result, $"removed {parse.GetValue(removeEmail)}");
        });

        users.Subcommands.Add(add);
        users.Subcommands.Add(list);
        users.Subcommands.Add(remove);
        return users;
    }

    public static Command Tokens(Func<CancellationToken, Task<CliHost>> startHost)
    {
        var tokens = new Command("tokens", "Personal API tokens for /api/insights/*.");

        var email = new Option<string>("--email") { Description = "The token's owner", Required = true };
        var name = new Option<string>("--name") { Description = "What the token is for", Required = true };
        var expiresIn = new Option<string?>("--expires-in") { Description = "Lifetime such as 90d, 12h or 30m (default: never expires)" };
        var tokenScope = new Option<string>("--scope")
        {
            Description = "read (the default: /api/insights/* and /api/health/flags only) or admin (also pages, forms and admin endpoints, as the owner's role allows)",
            DefaultValueFactory = _ => UsageDashboard.Store.TokenScopes.Read,
        };
        tokenScope.AcceptOnlyFromAmong([.. UsageDashboard.Store.TokenScopes.All]);
        var create = new Command("create", "Create a token; it is printed once, as the last line.") { email, name, expiresIn, tokenScope };
        create.SetAction(async (parse, ct) =>
        {
            TimeSpan? lifetime = null;
            if (parse.GetValue(expiresIn) is { } text)
            {
                if (ParseLifetime(text) is not { } parsed)
                {
                    await Console.Error.WriteLineAsync($"error: --expires-in '{text}' is not a lifetime such as 90d, 12h or 30m");
                    return 2;
                }
                lifetime = parsed;
            }
            await using var host = await startHost(ct);
            await using var scope = host.Services.CreateAsyncScope();
            var user = await scope.ServiceProvider.GetRequiredService<UserAdminService>().FindByEmailAsync(parse.GetValue(email)!);
            if (user is null)
            {
                await Console.Error.WriteLineAsync($"error: no user '{parse.GetValue(email)}'");
                return 1;
            }
            var token = await scope.ServiceProvider.GetRequiredService<TokenService>().CreateAsync(user, parse.GetValue(name)!, lifetime, parse.GetValue(tokenScope)!, ct);
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"token {token.Id} '{token.Name}' ({token.Scope}) for {user.Email}, expires {(token.ExpiresAt is { } e ? e.ToString("yyyy-MM-dd HH:mm 'UTC'", CultureInfo.InvariantCulture) : "never")}; it is shown only now:"));
            Console.WriteLine(token.Secret);
            return 0;
        });

        var id = new Option<long>("--id") { Description = "The token's id (see the admin page or the create output)", Required = true };
        var revoke = new Command("revoke", "Revoke a token.") { id };
        revoke.SetAction(async (parse, ct) =>
        {
            await using var host = await startHost(ct);
            await using var scope = host.Services.CreateAsyncScope();
            var revoked = await scope.ServiceProvider.GetRequiredService<TokenService>().RevokeAsync(parse.GetValue(id), null, ct);
            if (!revoked)
            {
                await Console.Error.WriteLineAsync("error: no active token with that id");
                return 1;
            }
            Console.WriteLine("revoked");
            return 0;
        });

        tokens.Subcommands.Add(create);
        tokens.Subcommands.Add(revoke);
        return tokens;
    }

    /// <summary>"90d", "12h", "30m" → a lifetime; anything else → null.</summary>
    internal static TimeSpan? ParseLifetime(string text)
    {
        text = text.Trim();
        if (text.Length < 2 || !int.TryParse(text[..^1], NumberStyles.None, CultureInfo.InvariantCulture, out var n) || n <= 0)
        {
            return null;
        }
        return text[^1] switch
        {
            'd' => TimeSpan.FromDays(n),
            'h' => TimeSpan.FromHours(n),
            'm' => TimeSpan.FromMinutes(n),
            _ => null,
        };
    }

    private static int Report(UserChange change, string success)
    {
        if (change.Succeeded)
        {
            Console.WriteLine(success);
            return 0;
        }
        Console.Error.WriteLine("error: " + string.Join(" ", change.Errors));
        return 1;
    }
}
