using MudBlazor;

namespace UsageDashboard.Components.Layout;

/// <summary>The user's light or dark choice, remembered in a cookie that wwwroot/js/theme.mjs writes.</summary>
public static class ThemeChoice
{
    public const string CookieName = "ud_theme";
    public const string Dark = "dark";
    public const string Light = "light";
}

/// <summary>The dashboard's palettes: MudBlazor's defaults with a calmer primary, and contrast checked in both modes.</summary>
public static class DashboardTheme
{
    public static readonly MudTheme Theme = new()
    {
        PaletteLight = new PaletteLight
        {
            Primary = "#1f5fbf",
            AppbarBackground = "#1f5fbf",
            Secondary = "#5c6b7a",
        },
        PaletteDark = new PaletteDark
        {
            Primary = "#8ab4f8",
            AppbarBackground = "#1e1e2d",
            Secondary = "#aab4be",
        },
        LayoutProperties = new LayoutProperties { DrawerWidthLeft = "220px" },
    };
}
