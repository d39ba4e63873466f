using UsageDashboard.Catalog;

namespace UsageDashboard.Tests.Infrastructure;

/// <summary>The embedded Meltano Hub catalog, as the app loads it with no extra catalogs.</summary>
public static class TestCatalog
{
    public static readonly PluginNames Names = new(new PluginCatalog(PluginCatalog.Embedded()));
}
