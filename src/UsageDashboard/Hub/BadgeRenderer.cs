using System.Globalization;
using System.Text;

namespace UsageDashboard.Hub;

/// <summary>A badge's content: what shields.io's endpoint JSON carries, and what the SVG shows.</summary>
public sealed record Badge(string Label, string Message, string Color, bool IsError = false);

/// <summary>
/// Renders badges in the shields.io look (badge-maker's <c>flat</c> and <c>flat-square</c>): Verdana
/// 11 px, text drawn at 10× and scaled down for crisp kerning, widths from a per-character table.
/// Every piece of text is XML-escaped and stripped of characters XML cannot carry, so nothing from a
/// URL or from telemetry can break out of the document.
/// </summary>
public static class BadgeRenderer
{
    public const string Flat = "flat";
    public const string FlatSquare = "flat-square";
    public const int MaxTextLength = 64;

    /// <summary>shields.io's named colours, so the JSON and the SVG agree.</summary>
    private static readonly Dictionary<string, string> s_colors = new(StringComparer.Ordinal)
    {
        ["brightgreen"] = "#4c1",
        ["green"] = "#97ca00",
        ["yellowgreen"] = "#a4a61d",
        ["yellow"] = "#dfb317",
        ["orange"] = "#fe7d37",
        ["red"] = "#e05d44",
        ["blue"] = "#007ec6",
        ["lightgrey"] = "#9f9f9f",
        ["grey"] = "#555",
    };

    /// <summary>Advance widths of ASCII 32..126 in Verdana at 11 px (the font shields.io measures with).</summary>
    private static readonly double[] s_widths =
    [
        3.87, 4.33, 5.05, 9.0, 7.0, 11.84, 7.99, 2.95, 4.99, 4.99, 7.0, 9.0, 4.0, 4.99, 4.0, 4.99,
        7.0, 7.0, 7.0, 7.0, 7.0, 7.0, 7.0, 7.0, 7.0, 7.0, 4.99, 4.99, 9.0, 9.0, 9.0, 6.0,
        11.0, 7.52, 7.54, 7.68, 8.48, 6.96, 6.32, 8.53, 8.27, 4.63, 5.0, 7.62, 6.12, 9.27, 8.23, 8.66,
        6.63, 8.66, 7.65, 7.52, 6.78, 8.05, 7.52, 10.88, 7.54, 6.77, 7.54, 4.99, 4.99, 4.99, 9.0, 7.0,
        7.0, 6.61, 6.85, 5.73, 6.85, 6.55, 3.87, 6.85, 6.96, 3.02, 3.79, 6.51, 3.02, 10.7, 6.96, 6.68,
        6.85, 6.85, 4.69, 5.73, 4.33, 6.96, 6.51, 9.0, 6.51, 6.51, 5.78, 6.98, 4.99, 6.98, 9.0,
    ];

    public static bool IsStyle(string? style) => style is null or "" or Flat or FlatSquare;

    public static string ColorHex(string color) => s_colors.GetValueOrDefault(color, "#9f9f9f");

    public static string Render(Badge badge, string? style = Flat)
    {
        var label = Clean(badge.Label);
        var message = Clean(badge.Message);
        var square = style == FlatSquare;
        var labelWidth = label.Length == 0 ? 0 : (int)Math.Ceiling(TextWidth(label)) + 10;
        var messageWidth = (int)Math.Ceiling(TextWidth(message)) + 10;
        var width = labelWidth + messageWidth;
        var color = ColorHex(badge.Color);
        var title = label.Length == 0 ? message : label + ": " + message;

        var sb = new StringBuilder(1200);
        var inv = CultureInfo.InvariantCulture;
        sb.Append(inv, $"<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{width}\" height=\"20\" role=\"img\" aria-label=\"{Escape(title)}\">");
        sb.Append("<title>").Append(Escape(title)).Append("</title>");
        if (!square)
        {
            sb.Append("<linearGradient id=\"s\" x2=\"0\" y2=\"100%\"><stop offset=\"0\" stop-color=\"#bbb\" stop-opacity=\".1\"/><stop offset=\"1\" stop-opacity=\".1\"/></linearGradient>");
        }
        sb.Append(inv, $"<clipPath id=\"r\"><rect width=\"{width}\" height=\"20\" rx=\"{(square ? 0 : 3)}\" fill=\"#fff\"/></clipPath>");
        sb.Append("<g clip-path=\"url(#r)\">");
        sb.Append(inv, $"<rect width=\"{labelWidth}\" height=\"20\" fill=\"#555\"/>");
        sb.Append(inv, $"<rect x=\"{labelWidth}\" width=\"{messageWidth}\" height=\"20\" fill=\"{color}\"/>");
        if (!square)
        {
            sb.Append(inv, $"<rect width=\"{width}\" height=\"20\" fill=\"url(#s)\"/>");
        }
        sb.Append("</g>");
        sb.Append("<g fill=\"#fff\" text-anchor=\"middle\" font-family=\"Verdana,Geneva,DejaVu Sans,sans-serif\" text-rendering=\"geometricPrecision\" font-size=\"110\">");
        if (label.Length > 0)
        {
            AppendText(sb, label, labelWidth / 2.0, labelWidth - 10, square);
        }
        AppendText(sb, message, labelWidth + messageWidth / 2.0, messageWidth - 10, square);
        sb.Append("</g></svg>");
        return sb.ToString();
    }

    private static void AppendText(StringBuilder sb, string text, double centre, int textWidth, bool square)
    {
        var inv = CultureInfo.InvariantCulture;
        var x = (centre * 10).ToString("0", inv);
        var length = (textWidth * 10).ToString(inv);
        var escaped = Escape(text);
        if (!square)
        {
            // The shadow that gives flat badges their depth.
            sb.Append(inv, $"<text aria-hidden=\"true\" x=\"{x}\" y=\"150\" fill=\"#010101\" fill-opacity=\".3\" transform=\"scale(.1)\" textLength=\"{length}\">{escaped}</text>");
        }
        sb.Append(inv, $"<text x=\"{x}\" y=\"140\" transform=\"scale(.1)\" fill=\"#fff\" textLength=\"{length}\">{escaped}</text>");
    }

    public static double TextWidth(string text)
    {
        double width = 0;
        foreach (var c in text)
        {
            // Outside ASCII: the width of a wide lowercase letter, so the text never overflows.
            width += c is >= ' ' and <= '~' ? s_widths[c - ' '] : 7.5;
        }
        return width;
    }

    /// <summary>Drops characters XML 1.0 cannot hold (controls, lone surrogates) and caps the length.</summary>
    public static string Clean(string text)
    {
        var sb = new StringBuilder(Math.Min(text.Length, MaxTextLength));
        for (var i = 0; i < text.Length && sb.Length < MaxTextLength; i++)
        {
            var c = text[i];
            if (char.IsHighSurrogate(c) && i + 1 < text.Length && char.IsLowSurrogate(text[i + 1]))
            {
                sb.Append(c).Append(text[++i]);
            }
            else if (!char.IsSurrogate(c) && (c >= ' ' || c == '\t') && c != '\uFFFE' && c != '\uFFFF')
            {
                sb.Append(c == '\t' ? ' ' : c);
            }
        }
        return sb.ToString();
    }

    public static string Escape(string text) => text
        .Replace("&", "&amp;", StringComparison.Ordinal)
        .Replace("<", "&lt;", StringComparison.Ordinal)
        .Replace(">", "&gt;", StringComparison.Ordinal)
        .Replace("\"", "&quot;", StringComparison.Ordinal)
        .Replace("'", "&apos;", StringComparison.Ordinal);
}
