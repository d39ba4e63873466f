using UsageDashboard.Insights;
using UsageDashboard.Rollups;
using UsageDashboard.Tests.Infrastructure;

namespace UsageDashboard.Tests.Rollups;

/// <summary>The refresher's folds against a full rebuild: runs that move day, month or OS.</summary>
public sealed partial class RollupExactnessTests
{
    [Fact]
    public async Task Refresh_AfterEveryWrite_TablesEqualAFullRebuild()
    {
        var before = await SnapshotAsync();

        await TestRollups.CreateRefresher(_db).RebuildAllAsync(default);

        Assert.Equal(before, await SnapshotAsync());
        Assert.NotEmpty(before);
    }

    [Fact]
    public async Task Refresh_RunMovedToThePreviousDay_CountedOnceOnTheNewDay()
    {
        var rows = await MonthRowsAsync("late-starter");

        Assert.Single(rows);
        Assert.Equal((new DateOnly(2026, 11, 1), 1 << 8, 0), rows[0]); // the 9th only, not the 10th it was first written on; it failed
    }

    [Fact]
    public async Task Refresh_RunMovedToThePreviousMonth_BitMovesToThatMonthsRow()
    {
        var rows = await MonthRowsAsync("month-crosser");

        Assert.Single(rows);
        Assert.Equal((new DateOnly(2026, 10, 1), 1 << 30, 1 << 30), rows[0]); // October 31st, a success; November's row is gone
    }

    [Fact]
    public async Task Refresh_RunChangedItsOs_OnlyTheNewOsKeepsIt()
    {
        await using var cmd = _db.DataSource.CreateCommand("""
            SELECT 'installation ' || m.os_name FROM rollup_installation_months m JOIN installations i ON i.id = m.installation_key
            WHERE i.installation_id = 'os-changer'
            UNION ALL
            SELECT 'command ' || d.os_name || ' ' || d.runs || ' ' || d.failed FROM rollup_command_days d
            WHERE d.tool = 'dbt' AND d.command = 'os-probe' AND d.day = '2026-11-12' AND d.os_name IN ('linux', 'windows')
            UNION ALL
            SELECT 'plugin ' || p.os_name || ' ' || p.runs FROM rollup_plugin_days p WHERE p.name = 'os-probe-adapter'
            ORDER BY 1
            """);
        var rows = new List<string>();
        await using var reader = await cmd.ExecuteReaderAsync();
        while (await reader.ReadAsync())
        {
            rows.Add(reader.GetString(0));
        }

        Assert.Equal(["command windows 1 1", "installation windows", "plugin windows 1"], rows);
    }

    /// <summary>An installation's installation-month rows: (month, days, ok_days), oldest first.</summary>
    private async Task<List<(DateOnly Month, int Days, int OkDays)>> MonthRowsAsync(string installationId)
    {
        await using var cmd = _db.DataSource.CreateCommand("""
            SELECT m.month, m.days, m.ok_days FROM rollup_installation_months m
            JOIN installations i ON i.id = m.installation_key WHERE i.installation_id = @id ORDER BY m.month
            """);
        cmd.Parameters.AddWithValue("id", installationId);
        var rows = new List<(DateOnly, int, int)>();
        await using var reader = await cmd.ExecuteReaderAsync();
        while (await reader.ReadAsync())
        {
            rows.Add((reader.GetFieldValue<DateOnly>(0), reader.GetInt32(1), reader.GetInt32(2)));
        }
        return rows;
    }

    [Theory]
    [InlineData("2026-02-01", "2026-01-15", "2026-03-10")] // the whole of a 28-day month
    [InlineData("2026-10-01", "2026-10-31", "2026-11-02")] // the last day only: bit 30, the highest
    [InlineData("2026-11-01", "2026-11-03", "2026-11-05")]
    [InlineData("2026-11-01", "2026-12-01", "2026-12-31")] // after the month: nothing
    [InlineData("2026-11-01", "2026-09-01", "2026-10-31")] // before it: nothing
    public async Task DayMask_Range_SetsTheRangesDaysOfTheMonth(string month, string from, string to)
    {
        var (m, f, t) = (DateOnly.Parse(month), DateOnly.Parse(from), DateOnly.Parse(to));
        var expected = 0;
        for (var day = m; day.Month == m.Month; day = day.AddDays(1))
        {
            expected |= day >= f && day <= t ? 1 << (day.Day - 1) : 0;
        }
        await using var cmd = _db.DataSource.CreateCommand("SELECT rollup_day_mask(@m, @f, @t)");
        cmd.Parameters.AddWithValue("m", m);
        cmd.Parameters.AddWithValue("f", f);
        cmd.Parameters.AddWithValue("t", t);

        Assert.Equal(expected, (int)(await cmd.ExecuteScalarAsync())!);
        Assert.Equal(expected, MonthMask.For(m, f, t));
    }

    [Fact]
    public async Task DurationBucket_PowersOfTwoAndBetween_SqlEqualsBucketOf()
    {
        // Bucket edges are where the two could part: 8·log2(ms + 1) is a whole number at ms + 1 = 2^k.
        var durations = Enumerable.Range(0, 40).SelectMany(k => new[] { (1L << k) - 2, (1L << k) - 1, 1L << k })
            .Concat(Enumerable.Range(0, 5_000).Select(i => (long)i * 7_919))
            .Where(ms => ms >= 0).Distinct().ToArray();
        await using var cmd = _db.DataSource.CreateCommand(
            $"SELECT r.duration_ms, {RollupSql.DurationBucket} FROM unnest(@ms) AS r(duration_ms)");
        cmd.Parameters.AddWithValue("ms", durations);
        var compared = 0;
        await using var reader = await cmd.ExecuteReaderAsync();
        while (await reader.ReadAsync())
        {
            Assert.Equal(DurationHistogram.BucketOf(reader.GetInt64(0)), reader.GetInt16(1));
            compared++;
        }
        Assert.Equal(durations.Length, compared);
    }

    [Fact]
    public async Task Commands_DurationPercentiles_WithinABucketOfExactPercentiles()
    {
        var query = InsightQuery.Parse(null, "90d", null, null, null, null, null, null, Today);
        var (_, commands, _, _, _) = Services(rollups: true);

        var data = await commands.GetAsync(query, 200, default);

        await using var cmd = _db.DataSource.CreateCommand("""
            SELECT r.tool, coalesce(r.command, '(none)'), percentile_cont(0.5) WITHIN GROUP (ORDER BY r.duration_ms),
                   percentile_cont(0.95) WITHIN GROUP (ORDER BY r.duration_ms)
            FROM runs r WHERE r.occurred_at >= @from AND r.occurred_at < @to AND r.duration_ms IS NOT NULL
            GROUP BY 1, 2 HAVING count(*) >= 50
            """);
        cmd.Parameters.AddWithValue("from", query.FromUtc);
        cmd.Parameters.AddWithValue("to", query.ToUtcExclusive);
        var compared = 0;
        await using var reader = await cmd.ExecuteReaderAsync();
        while (await reader.ReadAsync())
        {
            var row = data.Commands.Single(c => c.Tool == reader.GetString(0) && c.Command == reader.GetString(1));
            // One bucket is 2^(1/8) wide (9 %); the estimate may sit anywhere inside it.
            Assert.InRange(row.P50Ms!.Value, reader.GetDouble(2) / 1.1 - 1, reader.GetDouble(2) * 1.1 + 1);
            Assert.InRange(row.P95Ms!.Value, reader.GetDouble(3) / 1.1 - 1, reader.GetDouble(3) * 1.1 + 1);
            compared++;
        }
        Assert.True(compared >= 5, $"only {compared} commands with enough durations");
    }

    private Task<List<string>> SnapshotAsync() => TestRollups.SnapshotAsync(_db);
}

/// <summary>The histogram behind duration percentiles, on its own.</summary>
public sealed class DurationHistogramTests
{
    [Fact]
    public void Percentile_UniformDurations_WithinFivePercent()
    {
        var histogram = new DurationHistogram();
        for (var ms = 1; ms <= 10_000; ms++)
        {
            histogram.Add(DurationHistogram.BucketOf(ms), 1);
        }

        Assert.InRange(histogram.Percentile(0.5)!.Value, 5_000 / 1.05, 5_000 * 1.05);
        Assert.InRange(histogram.Percentile(0.95)!.Value, 9_500 / 1.05, 9_500 * 1.05);
    }

    [Fact]
    public void Percentile_BucketsAddedInAnyOrder_SameAsAscending()
    {
        var ascending = new DurationHistogram();
        var shuffled = new DurationHistogram();
        var buckets = Enumerable.Range(0, 200).Select(b => (Bucket: b, Count: (long)((b * 7) % 13) + 1)).ToList();
        foreach (var (bucket, count) in buckets)
        {
            ascending.Add(bucket, count);
        }
        // Descending first, then the rest at random: the histogram grows its array at both ends.
        foreach (var (bucket, count) in buckets.Skip(100).Reverse().Concat(buckets.Take(100).OrderBy(_ => Random.Shared.Next())))
        {
            shuffled.Add(bucket, count);
        }

        Assert.Equal(ascending.Count, shuffled.Count);
        foreach (var fraction in new[] { 0.0, 0.01, 0.5, 0.9, 0.99, 1.0 })
        {
            Assert.Equal(ascending.Percentile(fraction), shuffled.Percentile(fraction));
        }
    }

    [Fact]
    public void Percentile_NoDurations_Null() => Assert.Null(new DurationHistogram().Percentile(0.5));

    [Fact]
    public void BucketOf_AnyDuration_LiesWithinItsBucketBounds()
    {
        foreach (var ms in new long[] { 0, 2, 7, 100, 999, 65_000, 3_600_000, 86_400_000 })
        {
            var bucket = DurationHistogram.BucketOf(ms);
            Assert.InRange(ms, DurationHistogram.LowerBound(bucket) - 1e-6, DurationHistogram.LowerBound(bucket + 1));
        }
    }
}
