namespace UsageDashboard.Catalog;

/// <summary>Settings of the plugin catalog (section <c>Plugins</c>).</summary>
public sealed class PluginCatalogOptions
{
    /// <summary>
    /// More plugin catalogs (CSV files with the columns of the embedded Meltano Hub catalog: category, name,
    /// variant, namespace, pip_url), e.g. a company's private plugins; the embedded catalog is always loaded.
    /// </summary>
    public List<string> ExtraCatalogs { get; set; } = [];
}
