using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using UsageDashboard.Catalog;

namespace UsageDashboard.Tests.Catalog;

public sealed class PluginNamesTests
{
    // The digests of reference/telemetry-formats §2.6 (tap-github, meltanolabs variant).
    private const string TapGithub = "0e07fc5775c55bbd811663147b37937cc91a7c3489aba607da118ea56cf1a75a";
    private const string TapGithubNamespace = "15dc43b6305fca18f17dbaecf7c4ec8662cb4e4cf606472d904b55d02c2d9d0d";
    private const string Meltanolabs = "c6c8d47bbfa6ca311eec82139052d313298bb4fc605236093ebe3af06b38f90f";
    private const string PipUrlTapGithub = "5bd1b63646f43719f5e3cfb06637814f1f262bffc865e972d8c9473bbb6ad42e";

    private static readonly PluginNames s_names = new(CreateCatalog());

    private static PluginCatalog CreateCatalog(params string[] extra) =>
        PluginCatalog.FromOptions(Options.Create(new PluginCatalogOptions { ExtraCatalogs = [.. extra] }),
            new TestEnvironment(), NullLogger<PluginCatalog>.Instance);

    [Fact]
    public void Catalog_NoConfiguration_EmbeddedHubCatalogResolvesAllFourDigests()
    {
        var catalog = CreateCatalog();

        Assert.Equal(1190, catalog.Entries.Count);
        Assert.Equal("tap-github", catalog.Name(TapGithub));
        Assert.Equal("tap_github", catalog.Namespace(TapGithubNamespace));
        Assert.Equal("meltanolabs", catalog.Variant(Meltanolabs));
        Assert.Equal("meltanolabs-tap-github", catalog.PipUrl(PluginCatalog.Sha256Hex("meltanolabs-tap-github")));
        // §2.6's pip_url digest is no hub pip_url: a pip_url of the sender's own.
        Assert.Null(catalog.PipUrl(PipUrlTapGithub));
    }

    [Fact]
    public void Resolve_HubNameAndVariant_NameVariantAndHubKey()
    {
        var name = s_names.Resolve(PluginNames.StoredName(TapGithub, Meltanolabs), "extractors");

        Assert.Equal("tap-github (meltanolabs)", name.Display);
        Assert.Equal("tap-github", name.PageKey);
        Assert.Equal("tap-github--meltanolabs", name.HubKey);
        Assert.False(name.IsPrivate);
    }

    [Fact]
    public void Resolve_UnknownDigest_PrivateAndNeverPublished()
    {
        var digest = PluginCatalog.Sha256Hex("tap-acme-internal");

        var name = s_names.Resolve(PluginNames.StoredName(digest, Meltanolabs), "extractors");

        Assert.Equal("private extractor · " + digest[..6], name.Display);
        Assert.True(name.IsPrivate);
        Assert.Null(name.HubKey);
    }

    [Fact]
    public void VersionLabel_PipUrlDigests_DefaultOrCustomNeverAVersionNumber()
    {
        var stored = PluginNames.StoredName(TapGithub, Meltanolabs);
        var defaultPipUrl = PluginCatalog.Sha256Hex("meltanolabs-tap-github");

        Assert.Equal("default pip_url", s_names.VersionLabel(stored, defaultPipUrl));
        // §2.6's pip_url is not that variant's default.
        Assert.Equal("custom pip_url · 5bd1b6", s_names.VersionLabel(stored, PipUrlTapGithub));
        Assert.Equal("default pip_url", s_names.PublicVersion(stored, defaultPipUrl));
        Assert.Null(s_names.PublicVersion(stored, PipUrlTapGithub));
        Assert.Equal("1.4.2", s_names.VersionLabel("tap-github", "1.4.2"));
    }

    [Fact]
    public void Text_StoredNameAndVersionInAReason_ReadAsLabels()
    {
        var stored = PluginNames.StoredName(TapGithub, Meltanolabs);
        var reason = $"{stored} {PluginCatalog.Sha256Hex("meltanolabs-tap-github")} failed 38% of 410 runs; {PluginCatalog.Sha256Hex("tap-secret")} too";

        var text = s_names.Text(reason);

        Assert.StartsWith("tap-github (meltanolabs, default pip_url) failed 38% of 410 runs; private plugin · ", text, StringComparison.Ordinal);
        Assert.DoesNotMatch("[0-9a-f]{64}", text);
    }

    [Fact]
    public void ExtraCatalogs_CompanyCatalog_ItsPluginsResolve()
    {
        var path = Path.Combine(Path.GetTempPath(), $"extra-catalog-{Guid.NewGuid():N}.csv");
        File.WriteAllText(path, "category,name,variant,namespace,pip_url\nextractors,tap-acme-internal,acme,tap_acme,git+https://git.acme.example/tap-acme.git\n");
        try
        {
            var names = new PluginNames(CreateCatalog(path));
            var stored = PluginNames.StoredName(PluginCatalog.Sha256Hex("tap-acme-internal"), PluginCatalog.Sha256Hex("acme"));

            Assert.Equal("tap-acme-internal (acme)", names.Resolve(stored).Display);
            Assert.Equal("default pip_url", names.VersionLabel(stored, PluginCatalog.Sha256Hex("git+https://git.acme.example/tap-acme.git")));
            Assert.Equal("tap-github", names.Catalog.Name(TapGithub));
        }
        finally
        {
            File.Delete(path);
        }
    }

    private sealed class TestEnvironment : IHostEnvironment
    {
        public string EnvironmentName { get; set; } = "Test";
        public string ApplicationName { get; set; } = "UsageDashboard";
        public string ContentRootPath { get; set; } = Path.GetTempPath();
        public Microsoft.Extensions.FileProviders.IFileProvider ContentRootFileProvider { get; set; } = new Microsoft.Extensions.FileProviders.NullFileProvider();
    }
}
