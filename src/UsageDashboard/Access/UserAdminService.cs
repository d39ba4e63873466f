using Microsoft.AspNetCore.Identity;
using Microsoft.EntityFrameworkCore;
using UsageDashboard.Store;

namespace UsageDashboard.Access;

public sealed record UserInfo(string Id, string Email, string Role, DateTime CreatedAt, bool LockedOut);

/// <summary>Result of a user change: success, or the reasons Identity gave (password rules, duplicates).</summary>
public sealed record UserChange(bool Succeeded, IReadOnlyList<string> Errors)
{
    public static readonly UserChange Ok = new(true, []);
    public static UserChange Fail(params string[] errors) => new(false, errors);
}

/// <summary>Users and their single role, for the admin pages and the CLI.</summary>
public sealed class UserAdminService(UserManager<DashboardUser> users, RoleManager<IdentityRole> roles, UsageDbContext db, TimeProvider time)
{
    public async Task EnsureRolesAsync()
    {
        foreach (var role in Roles.All)
        {
            if (!await roles.RoleExistsAsync(role))
            {
                await roles.CreateAsync(new IdentityRole(role));
            }
        }
    }

    public async Task<UserChange> AddAsync(string email, string role, string password)
    {
        if (!Roles.IsKnown(role))
        {
            return UserChange.Fail($"unknown role '{role}'; use one of {string.Join(", ", Roles.All)}");
        }
        await EnsureRolesAsync();
        var user = new DashboardUser { UserName = email, Email = email, EmailConfirmed = true, CreatedAt = time.GetUtcNow().UtcDateTime };
        var created = await users.CreateAsync(user, password);
        if (!created.Succeeded)
        {
            return new UserChange(false, created.Errors.Select(e => e.Description).ToList());
        }
        var added = await users.AddToRoleAsync(user, role);
        return added.Succeeded ? UserChange.Ok : new UserChange(false, added.Errors.Select(e => e.Description).ToList());
    }

    public async Task<UserChange> SetRoleAsync(string email, string role) =>
        await users.FindByEmailAsync(email) is { } user ? await SetRoleByIdAsync(user.Id, role) : UserChange.Fail($"no user '{email}'");

    public async Task<UserChange> RemoveAsync(string email) =>
        await users.FindByEmailAsync(email) is { } user ? await RemoveByIdAsync(user.Id) : UserChange.Fail($"no user '{email}'");

    /// <summary>Gives the user <paramref name="role"/>; their signed-in sessions pick it up within <see cref="AccessOptions.SessionValidationInterval"/>.</summary>
    public async Task<UserChange> SetRoleByIdAsync(string userId, string role)
    {
        if (!Roles.IsKnown(role))
        {
            return UserChange.Fail($"unknown role '{role}'");
        }
        await EnsureRolesAsync();
        return await UnderAdminLockAsync(userId, async user =>
        {
            var current = await users.GetRolesAsync(user);
            if (current.Contains(Roles.Admin) && role != Roles.Admin && await CountAdminsAsync() <= 1)
            {
                return UserChange.Fail("this is the last admin; make another user admin first");
            }
            await users.RemoveFromRolesAsync(user, current);
            await users.AddToRoleAsync(user, role);
            // Sessions carry roles in their cookie: a new stamp makes them sign in again.
            await users.UpdateSecurityStampAsync(user);
            return UserChange.Ok;
        });
    }

    /// <summary>Removes the user and their tokens; their signed-in sessions end within <see cref="AccessOptions.SessionValidationInterval"/>.</summary>
    public Task<UserChange> RemoveByIdAsync(string userId) => UnderAdminLockAsync(userId, async user =>
    {
        if ((await users.GetRolesAsync(user)).Contains(Roles.Admin) && await CountAdminsAsync() <= 1)
        {
            return UserChange.Fail("this is the last admin; make another user admin first");
        }
        await users.UpdateSecurityStampAsync(user);
        var deleted = await users.DeleteAsync(user);
        return deleted.Succeeded ? UserChange.Ok : new UserChange(false, deleted.Errors.Select(e => e.Description).ToList());
    });

    /// <summary>
    /// Runs a role change or removal in a transaction that holds a lock all of them take, so two admins
    /// demoting or removing each other at once cannot both pass the "not the last admin" check.
    /// </summary>
    private async Task<UserChange> UnderAdminLockAsync(string userId, Func<DashboardUser, Task<UserChange>> change)
    {
        await using var tx = await db.Database.BeginTransactionAsync();
        await db.Database.ExecuteSqlRawAsync("SELECT pg_advisory_xact_lock(hashtext('usage-dashboard:user-roles'))");
        // Read after the lock: the user (and their roles) as the previous change left them.
        var user = await users.FindByIdAsync(userId);
        if (user is null)
        {
            return UserChange.Fail("no such user");
        }
        var result = await change(user);
        if (result.Succeeded)
        {
            await tx.CommitAsync();
        }
        return result;
    }

    public async Task<IReadOnlyList<UserInfo>> ListAsync()
    {
        var all = await users.Users.AsNoTracking().OrderBy(u => u.Email).ToListAsync();
        var now = time.GetUtcNow();
        var result = new List<UserInfo>(all.Count);
        foreach (var u in all)
        {
            var role = (await users.GetRolesAsync(u)).OrderByDescending(r => Roles.All.ToList().IndexOf(r)).FirstOrDefault() ?? "";
            result.Add(new UserInfo(u.Id, u.Email ?? u.UserName ?? u.Id, role, u.CreatedAt, u.LockoutEnd is { } end && end > now));
        }
        return result;
    }

    public Task<DashboardUser?> FindByEmailAsync(string email) => users.FindByEmailAsync(email);

    public Task<bool> AnyAsync() => users.Users.AnyAsync();

    private async Task<int> CountAdminsAsync() => (await users.GetUsersInRoleAsync(Roles.Admin)).Count;
}
