using System.Xml.Linq;
using UsageDashboard.Catalog;
using UsageDashboard.Hub;

namespace UsageDashboard.Tests.Hub;

public sealed class BadgeRendererTests
{
    private static readonly XNamespace s_svg = "http://www.w3.org/2000/svg";

    [Theory]
    [InlineData(BadgeRenderer.Flat)]
    [InlineData(BadgeRenderer.FlatSquare)]
    public void Render_Styles_WellFormedSvgWithLabelAndMessage(string style)
    {
        var svg = BadgeRenderer.Render(new Badge("health", "healthy", "brightgreen"), style);

        var doc = XDocument.Parse(svg);
        Assert.Equal(s_svg + "svg", doc.Root!.Name);
        Assert.Equal("health: healthy", doc.Root.Element(s_svg + "title")!.Value);
        Assert.Equal("20", doc.Root.Attribute("height")!.Value);
        Assert.Contains(doc.Descendants(s_svg + "rect"), r => r.Attribute("fill")?.Value == "#4c1");
        Assert.Equal(style == BadgeRenderer.Flat, doc.Descendants(s_svg + "linearGradient").Any());
        Assert.Equal(style == BadgeRenderer.Flat ? "3" : "0", doc.Descendants(s_svg + "clipPath").Single().Element(s_svg + "rect")!.Attribute("rx")!.Value);
    }

    [Fact]
    public void Render_HostileText_EscapedAndStillWellFormed()
    {
        var svg = BadgeRenderer.Render(new Badge("a<b&\"c'", "<script>alert(1)</script>\u0001\uD800", "red"));

        var doc = XDocument.Parse(svg);
        Assert.DoesNotContain("<script>", svg, StringComparison.Ordinal);
        Assert.Empty(doc.Descendants(s_svg + "script"));
        Assert.Equal("a<b&\"c': <script>alert(1)</script>", doc.Root!.Element(s_svg + "title")!.Value);
    }

    [Fact]
    public void Render_LongerMessage_WiderBadge()
    {
        var narrow = XDocument.Parse(BadgeRenderer.Render(new Badge("health", "ok", "green")));
        var wide = XDocument.Parse(BadgeRenderer.Render(new Badge("health", "insufficient data", "lightgrey")));

        Assert.True(int.Parse(wide.Root!.Attribute("width")!.Value, System.Globalization.CultureInfo.InvariantCulture)
            > int.Parse(narrow.Root!.Attribute("width")!.Value, System.Globalization.CultureInfo.InvariantCulture) + 50);
    }

    [Theory]
    [InlineData(950, "950")]
    [InlineData(1234, "1.2k")]
    [InlineData(34_567, "34k")]
    [InlineData(1_500_000, "1.5M")]
    public void Metric_Counts_ShieldsStyle(long n, string expected)
    {
        Assert.Equal(expected, HubService.Metric(n));
    }

    [Theory]
    [InlineData("1.10.0", "1.9.3")]
    [InlineData("2.0.0", "2.0.0-rc1")]
    [InlineData("v1.2", "1.1.9")]
    public void VersionComparer_PeopleOrder_FirstIsLater(string later, string earlier)
    {
        Assert.True(VersionComparer.Instance.Compare(later, earlier) > 0);
    }

    [Fact]
    public void Catalog_HashedName_ResolvesOnlyWhenListed()
    {
        var catalog = new PluginCatalog(PluginCatalog.ReadNames("category,name,variant\nextractors,tap-github,meltanolabs\n\"loaders\",\"target-x, quoted\",v\n"));

        Assert.Equal("tap-github", catalog.Resolve(PluginCatalog.Sha256Hex("tap-github")));
        Assert.Equal("target-x, quoted", catalog.Resolve(PluginCatalog.Sha256Hex("target-x, quoted")));
        Assert.Null(catalog.Resolve(PluginCatalog.Sha256Hex("tap-private")));
        Assert.Equal("tap-clear", catalog.Resolve("tap-clear"));
    }
}
