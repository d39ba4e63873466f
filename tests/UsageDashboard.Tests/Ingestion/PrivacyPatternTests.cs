using System.Text;
using UsageDashboard.Ingestion;

namespace UsageDashboard.Tests.Ingestion;

/// <summary>The pattern rules of Privacy and the identifier hashing, without a database.</summary>
public sealed class PrivacyPatternTests
{
    [Theory]
    [InlineData("user_email", true)]
    [InlineData("userEmail", true)]
    [InlineData("contact-mail", true)]
    [InlineData("page_url", true)]
    [InlineData("$current_url", true)]
    [InlineData("baseurl", true)]
    [InlineData("pip_url", true)]
    [InlineData("referer", true)]
    [InlineData("http_referrer", true)]
    [InlineData("project_dir", true)]
    [InlineData("profilesDir", true)]
    [InlineData("config_file", true)]
    [InlineData("filepath", true)]
    [InlineData("sourceIP", true)]
    [InlineData("IPAddress", true)]
    [InlineData("remote_address", true)]
    [InlineData("$geoip_city_name", true)]
    [InlineData("lat", true)]
    [InlineData("lon", true)]
    [InlineData("country_code", true)]
    [InlineData("location", true)]
    [InlineData("user_id", true)]
    [InlineData("distinct_id", true)]
    [InlineData("alice@example.org", true)]
    [InlineData("/home/alice/x.csv", true)]
    [InlineData("path_count", false)]
    [InlineData("num_files", false)]
    [InlineData("timezone", false)]
    [InlineData("locale", false)]
    [InlineData("platform", false)]
    [InlineData("profile", false)]
    [InlineData("connector_types", false)]
    [InlineData("adapter_type", false)]
    [InlineData("reference", false)]
    [InlineData("allocation", false)]
    [InlineData("machine", false)]
    [InlineData("project_id", false)]
    public void IsSensitiveKey_Patterns_MatchPlacesNotProductFacts(string key, bool sensitive) => Assert.Equal(sensitive, Privacy.IsSensitiveKey(key));

    [Theory]
    [InlineData("alice.liddell@example.org", true)]
    [InlineData("contact: bob+ci@corp.example.com please", true)]
    [InlineData("git@github.com:acme/private-repo.git", true)]
    [InlineData("https://intranet.acme.example/dash", true)]
    [InlineData("postgres://user:pw@db.internal:5432/x", true)]
    [InlineData("/home/alice/projects/x", true)]
    [InlineData("/Users/bob/dbt", true)]
    [InlineData("cannot open /var/data/customers.csv", true)]
    [InlineData(@"C:\Users\alice\meltano.yml", true)]
    [InlineData("C:/Users/alice", true)]
    [InlineData("~/secret-project", true)]
    [InlineData(@"\\fileserver\share", true)]
    [InlineData("198.51.100.23", true)]
    [InlineData("peer 198.51.100.23:443 refused", true)]
    [InlineData("2001:db8:85a3::8a2e:370:7334", true)]
    [InlineData("peer 2001:db8::1 refused", true)]
    [InlineData("52.5200,13.4050", true)]
    [InlineData("(48.8566, 2.3522)", true)]
    [InlineData("tap-postgres", false)]
    [InlineData("1.2.3", false)]
    [InlineData("1.10.2", false)]
    [InlineData("10.0.19045", false)]
    [InlineData("v2.0.0-rc.1", false)]
    [InlineData("application/json", false)]
    [InlineData("Europe/Berlin", false)]
    [InlineData("en_US", false)]
    [InlineData("Linux-6.8.0-1012-aws-x86_64-with-glibc2.39", false)]
    [InlineData("#20~22.04.1-Ubuntu SMP", false)]
    [InlineData("2026-11-01T12:00:00Z", false)]
    [InlineData("12:30:00", false)]
    [InlineData("e677e873-2870-49c5-bc28-c1a8be520465", false)]
    [InlineData("0e07fc5775c55bbd811663147b37937cc91a7c3489aba607da118ea56cf1a75a", false)]
    [InlineData("dbt.exceptions.DbtRuntimeError", false)]
    [InlineData("config set", false)]
    [InlineData("tap-github@1.2.3", false)]
    [InlineData("0.1", false)]
    public void LooksPersonal_Values_EmailsUrlsPathsAddressesGeolocationOnly(string value, bool personal) => Assert.Equal(personal, Privacy.LooksPersonal(value));

    private static IdentifierHasher CreateHasher(string key = "test-key") => new(Encoding.UTF8.GetBytes(key));

    [Fact]
    public void Personal_SameRawId_SameKeyedHashWithoutTheId()
    {
        var hasher = CreateHasher();

        var first = hasher.Personal("alice@example.org");
        var again = hasher.Personal(" alice@example.org ");

        Assert.Equal(first, again);
        Assert.StartsWith(IdentifierHasher.Prefix, first, StringComparison.Ordinal);
        Assert.Equal(34, first.Length);
        Assert.DoesNotContain("alice", first, StringComparison.Ordinal);
        Assert.NotEqual(first, hasher.Personal("bob@example.org"));
        Assert.NotEqual(first, CreateHasher("another-key").Personal("alice@example.org"));
    }

    [Theory]
    [InlineData("e677e873-2870-49c5-bc28-c1a8be520465", true)]
    [InlineData("0197f0e1-2b3c-7d4e-8f90-a1b2c3d4e5f6", true)]
    [InlineData("886313e1-3b8a-5372-9b90-0c9aee199e5d", false)]
    [InlineData("c232ab00-9414-11ec-b3c8-9e6bdeced846", false)]
    [InlineData("alice-laptop", false)]
    [InlineData("alice@example.org", false)]
    [InlineData("unidentified", false)]
    public void Installation_RandomUuidsKept_EverythingElseHashed(string raw, bool kept)
    {
        var stored = CreateHasher().Installation(raw);

        Assert.Equal(kept, stored == raw);
        Assert.Equal(!kept, stored.StartsWith(IdentifierHasher.Prefix, StringComparison.Ordinal));
        Assert.Equal(stored, CreateHasher().Installation(raw));
    }
}
