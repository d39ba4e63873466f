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
public sealed class UserAdminService(UserManager<DashboardUser> users, RoleManager<IdentityRole> roles, TimeProvider time)
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

    public async Task<UserChange> SetRoleAsync(string email, string role)
    {
        if (!Roles.IsKnown(role))
        {
            return UserChange.Fail($"unknown role '{role}'");
        }
        var user = await users.FindByEmailAsync(email);
        if (user is null)
        {
            return UserChange.Fail($"no user '{email}'");
        }
        await EnsureRolesAsync();
        var current = await users.GetRolesAsync(user);
        if (current.Contains(Roles.Admin) && role != Roles.Admin && await CountAdminsAsync() <= 1)
        {
            return UserChange.Fail("this is the last admin; make another user admin first");
        }
        await users.RemoveFromRolesAsync(user, current);
        await users.AddToRoleAsync(user, role);
        return UserChange.Ok;
    }

    public async Task<UserChange> RemoveAsync(string email)
    {
        var user = await users.FindByEmailAsync(email);
        if (user is null)
        {
            return UserChange.Fail($"no user '{email}'");
        }
        if ((await users.GetRolesAsync(user)).Contains(Roles.Admin) && await CountAdminsAsync() <= 1)
        {
            return UserChange.Fail("this is the last admin; make another user admin first");
        }
        var deleted = await users.DeleteAsync(user);
        return deleted.Succeeded ? UserChange.Ok : new UserChange(false, deleted.Errors.Select(e => e.Description).ToList());
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
