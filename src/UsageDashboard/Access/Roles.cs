namespace UsageDashboard.Access;

/// <summary>The three roles, each including the rights of the one before.</summary>
public static class Roles
{
    /// <summary>Browse the dashboards and export.</summary>
    public const string Viewer = "viewer";
    /// <summary>Also acknowledge and resolve health flags, trigger evaluation.</summary>
    public const string Maintainer = "maintainer";
    /// <summary>Also manage users, write keys and tokens.</summary>
    public const string Admin = "admin";

    public static readonly IReadOnlyList<string> All = [Viewer, Maintainer, Admin];

    public static bool IsKnown(string role) => All.Contains(role);
}

/// <summary>
/// Authorization policies; a higher role satisfies a lower policy. All but <see cref="ApiReader"/> refuse
/// read-scoped API tokens.
/// </summary>
public static class Policies
{
    /// <summary>The read APIs: any role, signed in or with a token of either scope.</summary>
    public const string ApiReader = "api-reader";
    public const string Viewer = "viewer";
    public const string Maintainer = "maintainer";
    public const string Admin = "admin";
}
