using System.Text.Json;
using UsageDashboard.Ingestion;

namespace UsageDashboard.Tests.Ingestion;

/// <summary>The pure pieces, without a database.</summary>
public sealed class MapperTests
{
    [Theory]
    [InlineData("source_ip", true)]
    [InlineData("X-Forwarded-For", true)]
    [InlineData("$ip", true)]
    [InlineData("github_token", true)]
    [InlineData("apiKey", true)]
    [InlineData("error_message", true)]
    [InlineData("path_count", false)]
    [InlineData("project_count", false)]
    [InlineData("metrics", false)]
    public void IsSensitiveKey_CommonSpellings_Recognised(string key, bool sensitive) => Assert.Equal(sensitive, Privacy.IsSensitiveKey(key));

    [Theory]
    [InlineData("203.0.113.1", true)]
    [InlineData("10.0.0.1:8080", true)]
    [InlineData("2001:db8::1", true)]
    [InlineData("[2001:db8::1]:443", true)]
    [InlineData("1.10.2", false)]
    [InlineData("3.9.16", false)]
    [InlineData("999.1.1.1", false)]
    [InlineData("12:30:00", false)]
    public void LooksLikeIpAddress_VersionsAreNotAddresses(string value, bool isAddress) => Assert.Equal(isAddress, Privacy.LooksLikeIpAddress(value));

    [Fact]
    public void Clean_NulAndLoneSurrogates_SafeForPostgres()
    {
        Assert.Equal("ab\uFFFDc", Privacy.Clean("a\0b\uD800c", 100));
        Assert.Equal("😀", Privacy.Clean("😀x", 2));
        Assert.Equal("", Privacy.Clean("😀", 1));
    }

    [Theory]
    [InlineData("Linux-6.8.0-1012-aws-x86_64-with-glibc2.39", "linux", "6.8.0")]
    [InlineData("macOS-14.5-arm64-arm-64bit", "mac", "14.5")]
    [InlineData("Windows-10-10.0.19045-SP0", "windows", "10")]
    [InlineData("Darwin-23.5.0-arm64-arm-64bit", "mac", "23.5.0")]
    public void Platform_PythonPlatformStrings_NameAndVersion(string platform, string name, string version) =>
        Assert.Equal((name, version), Canon.Platform(platform));

    [Theory]
    [InlineData("ValueError", "ValueError")]
    [InlineData("dbt.exceptions.DbtRuntimeError", "dbt.exceptions.DbtRuntimeError")]
    [InlineData("could not connect to 10.0.0.5: timeout", "error")]
    public void ErrorType_OnlyClassNamesKept(string value, string expected) => Assert.Equal(expected, Canon.ErrorType(value));

    [Theory]
    [InlineData("eyJhIjoxfQ==")]
    [InlineData("eyJhIjoxfQ")]
    public void DecodeBase64_WithOrWithoutPadding_Decoded(string text) =>
        Assert.Equal("{\"a\":1}", System.Text.Encoding.UTF8.GetString(SnowplowMapper.DecodeBase64(text)!));

    [Fact]
    public void UnwrapFirestore_TypedValues_PlainJson()
    {
        using var doc = JsonDocument.Parse("""
            {"fields": {"s": {"stringValue": "x"}, "i": {"integerValue": "42"}, "d": {"doubleValue": 1.5}, "b": {"booleanValue": true},
             "n": {"nullValue": null}, "t": {"timestampValue": "2022-11-11T00:16:03.399191000Z"}, "g": {"geoPointValue": {"latitude": 1, "longitude": 2}},
             "m": {"mapValue": {"fields": {"a": {"arrayValue": {"values": [{"stringValue": "v"}]}}}}}}}
            """);

        using var plain = JettyMapper.UnwrapFirestore(doc.RootElement);

        Assert.Equal("""{"s":"x","i":42,"d":1.5,"b":true,"n":null,"t":"2022-11-11T00:16:03.399191000Z","g":null,"m":{"a":["v"]}}""", plain.RootElement.GetRawText());
    }

    [Fact]
    public void HashId_SameInput_SameUuidVersion8()
    {
        var a = CanonicalEvents.HashId("content", "dbt", "x");

        Assert.Equal(a, CanonicalEvents.HashId("content", "dbt", "x"));
        Assert.NotEqual(a, CanonicalEvents.HashId("content", "meltano", "x"));
        Assert.Equal('8', a.ToString()[14]);
    }

    [Fact]
    public void TryParseTimestamp_NanosecondsAndOffsets_Utc()
    {
        Assert.True(Canon.TryParseTimestamp("2022-11-11T00:16:03.399191000Z", out var a));
        Assert.Equal(new DateTime(2022, 11, 11, 0, 16, 3, 399, DateTimeKind.Utc).AddTicks(1910), a);
        Assert.True(Canon.TryParseTimestamp("2026-08-21T11:20:13+02:00", out var b));
        Assert.Equal(new DateTime(2026, 8, 21, 9, 20, 13, DateTimeKind.Utc), b);
        Assert.False(Canon.TryParseTimestamp("yesterday", out _));
    }
}
