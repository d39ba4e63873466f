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
            // MudBlazor's 54% black misses WCAG AA (4.5:1) on its grey background; 68% passes on white and grey.
            TextSecondary = "rgba(0,0,0,0.68)",
            // Status colours dark enough for white text on filled chips and for outlined text on white (AA, 4.5:1);
            // MudBlazor's defaults (e.g. #00c853 under white) fail axe-core's colour-contrast rule.
            Success = "#1e7b34",
            Warning = "#9a5400",
            Info = "#0b63b6",
            Error = "#c62828",
        },
        PaletteDark = new PaletteDark
        {
            Primary = "#8ab4f8",
            // A light primary carries dark text on filled buttons (white on #8ab4f8 is 2:1).
            PrimaryContrastText = "rgba(0,0,0,0.87)",
            AppbarBackground = "#1e1e2d",
            Secondary = "#aab4be",
            // The same for the dark palette: MudBlazor's 50% white is below 4.5:1 on its dark surfaces.
            TextSecondary = "rgba(255,255,255,0.72)",
            // Light status colours under black text: readable filled, and as outlined text on the dark surfaces.
            Success = "#81c995",
            SuccessContrastText = "rgba(0,0,0,0.87)",
            Warning = "#fdd663",
            WarningContrastText = "rgba(0,0,0,0.87)",
            Info = "#8ab4f8",
            InfoContrastText = "rgba(0,0,0,0.87)",
            Error = "#f28b82",
            ErrorContrastText = "rgba(0,0,0,0.87)",
        },
        LayoutProperties = new LayoutProperties { DrawerWidthLeft = "220px" },
    };
}
