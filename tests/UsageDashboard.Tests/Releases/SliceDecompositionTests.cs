using UsageDashboard.Health;
using UsageDashboard.Releases;

namespace UsageDashboard.Tests.Releases;

public sealed class SliceDecompositionTests
{
    private static readonly string[] s_dims = ["os", "runtime", "command"];

    private static SliceCounts CreateCell(string os, string runtime, string command, long baseJudged, long baseFailures, long judged, long failures) =>
        new([os, runtime, command], new Outcomes(baseJudged, baseFailures), new Outcomes(judged, failures));

    [Fact]
    public void Decompose_ExcessInOneCell_RanksItFirstWithExactExcessAndShare()
    {
        var d = SliceDecomposition.Decompose(s_dims,
        [
            CreateCell("linux", "python 3.11", "run", 2000, 40, 1000, 20),
            CreateCell("windows", "python 3.12", "run", 1000, 20, 500, 110),
            CreateCell("macos", "python 3.12", "test", 1000, 20, 500, 10),
        ]);

        var top = d.Slices[0];
        Assert.Equal("windows · python 3.12 · run", top.Label);
        Assert.Equal(10, top.Expected, 9);
        Assert.Equal(100, top.Excess, 9);
        Assert.Equal(1.0, top.Share, 9);
        Assert.True(top.ExcessLow > 0 && top.ExcessHigh > 100);
        Assert.Equal(0, d.Slices[1].Excess, 9);
        Assert.Equal(0, d.Slices[2].Excess, 9);
        Assert.Equal(100, d.TotalExcess, 9);
        Assert.Equal("windows · python 3.12 · run", d.Headline!.Label);
        Assert.Equal(1.0, d.ByDimension["os"][0].Share, 9);
    }

    [Fact]
    public void Decompose_TwoCellsCarryExcess_SharesSplitExactly()
    {
        var d = SliceDecomposition.Decompose(s_dims,
        [
            CreateCell("windows", "python 3.12", "run", 1000, 10, 1000, 70),
            CreateCell("windows", "python 3.11", "test", 1000, 10, 1000, 50),
            CreateCell("linux", "python 3.11", "run", 1000, 10, 1000, 10),
        ]);

        Assert.Equal(60, d.Slices[0].Excess, 9);
        Assert.Equal(0.6, d.Slices[0].Share, 9);
        Assert.Equal(40, d.Slices[1].Excess, 9);
        Assert.Equal(0.4, d.Slices[1].Share, 9);
        // All the excess is on windows, spread over two runtimes and two commands: the headline names the OS alone.
        Assert.Equal("windows", d.Headline!.Label);
        Assert.Equal(100, d.Headline.Excess, 9);
        Assert.Equal(1.0, d.Headline.Share, 9);
    }

    [Fact]
    public void Decompose_CellWithFewBaselineRuns_ExpectedAtPooledBaselineRate()
    {
        var d = SliceDecomposition.Decompose(s_dims,
        [
            CreateCell("linux", "python 3.11", "run", 990, 20, 100, 2),
            CreateCell("windows", "python 3.12", "seed", 10, 5, 100, 12),
        ]);

        // 10 baseline runs are too few for a rate of its own (5 of 10 would excuse anything): the pooled 25/1000.
        var windows = d.Slices.Single(s => s.Key[0] == "windows");
        Assert.Equal(2.5, windows.Expected, 9);
        Assert.Equal(9.5, windows.Excess, 9);
    }

    [Fact]
    public void Decompose_CellBelowMinimumSample_PooledIntoOtherNotRanked()
    {
        var d = SliceDecomposition.Decompose(s_dims,
        [
            CreateCell("linux", "python 3.11", "run", 1000, 10, 1000, 10),
            CreateCell("windows", "python 3.12", "seed", 1000, 10, 20, 15),
        ]);

        Assert.DoesNotContain(d.Slices, s => s.Key[0] == "windows");
        Assert.NotNull(d.Other);
        Assert.Equal(14.8, d.Other!.Excess, 9);
        Assert.Equal(1.0, d.Other.Share, 9);
    }

    [Fact]
    public void Decompose_NoChange_NoHeadline()
    {
        var d = SliceDecomposition.Decompose(s_dims, [CreateCell("linux", "python 3.11", "run", 1000, 10, 1000, 10)]);

        Assert.Null(d.Headline);
        Assert.Equal(0, d.Slices[0].Share);
    }

    [Fact]
    public void Simulate_FiveSeeds_InjectedSliceRanksFirstInEveryScenario()
    {
        var rows = ReleaseSimulator.Run(seeds: 5);

        Assert.All(rows, r => Assert.True(r.Pass, $"{r.Scenario}: {r.Measure} = {r.Result} (target {r.Target})"));
    }

    [Fact]
    public void Parse_VersionsOrPeriods_ReadsBothOrRejectsMix()
    {
        Assert.Equal("1.0", ComparePair.Parse("1.0", "2.0", null, out _)!.FromVersion);
        var periods = ComparePair.Parse("2026-11-01..2026-11-07", "2026-11-08..2026-11-14", "abc", out _)!;
        Assert.Equal(new DateOnly(2026, 11, 8), periods.ToPeriod!.Value.From);
        Assert.Equal("abc", periods.ToVersion);
        Assert.Null(ComparePair.Parse("1.0", "2026-11-08..2026-11-14", null, out var error));
        Assert.NotNull(error);
        Assert.Null(ComparePair.Parse("2026-11-08..0001-01-01", "2026-11-08..2026-11-14", null, out _));
        Assert.Null(ComparePair.Parse(null, "2.0", null, out _));
    }

    [Fact]
    public void RuntimeLabel_PatchVersion_MajorMinor() =>
        Assert.Equal("python 3.11", ReleaseService.RuntimeLabel("python", "3.11.9"));

}
