using UsageDashboard.Components.Shared;

namespace UsageDashboard.Tests.Components;

public sealed class GridLogicTests
{
    [Theory]
    [InlineData("1,234", 1234)]
    [InlineData("45.2%", 45.2)]
    [InlineData("850 ms", 850)]
    [InlineData("1.2 s", 1200)]
    [InlineData("4.0 min", 240_000)]
    [InlineData("1.5 h", 5_400_000)]
    [InlineData("−13.3 pp", -13.3)]
    [InlineData("+50.0%", 50)]
    public void Number_FormattedCell_ValueInBaseUnit(string text, double expected) =>
        Assert.Equal(expected, SortKey.Number(text), 6);

    [Theory]
    [InlineData("–")]
    [InlineData("")]
    [InlineData(null)]
    [InlineData("not reported")]
    public void Number_NoNumber_SortsFirst(string? text) =>
        Assert.Equal(double.NegativeInfinity, SortKey.Number(text));

    [Fact]
    public void Build_UntrustedText_QuotedAndFormulaPrefixed()
    {
        GridColumn<string>[] columns = [new("Name", s => s), new("Length", s => s.Length.ToString(System.Globalization.CultureInfo.InvariantCulture))];

        var csv = GridCsv.Build(columns, ["a,b", "@SUM(A1)", "-2", "say \"hi\"", "+1 more"]);

        Assert.Equal("Name,Length\r\n\"a,b\",3\r\n'@SUM(A1),8\r\n-2,2\r\n\"say \"\"hi\"\"\",8\r\n'+1 more,7\r\n", csv);
    }

    [Fact]
    public void Matches_AnyColumnCaseInsensitive_EmptySearchMatchesAll()
    {
        GridColumn<(string A, string B)>[] columns = [new("A", r => r.A), new("B", r => r.B)];

        Assert.True(GridCsv.Matches(columns, ("dbt", "Run"), "run"));
        Assert.False(GridCsv.Matches(columns, ("dbt", "Run"), "seed"));
        Assert.True(GridCsv.Matches(columns, ("dbt", "Run"), "  "));
    }
}
