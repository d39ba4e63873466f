using UsageDashboard.Insights;

namespace UsageDashboard.Tests.Rollups;

/// <summary>Distinct installations and the overview against hand-written SQL over raw runs.</summary>
public sealed partial class RollupExactnessTests
{
    /// <summary>
    /// Independent of the rollups and of the bit-set counting: distinct installations straight from <c>runs</c>
    /// with count(DISTINCT), per day, per OS and per command, against what the pages show.
    /// </summary>
    [Theory]
    [MemberData(nameof(Seeds))]
    public async Task DistinctInstallations_RandomFilters_EqualHandWrittenCountDistinct(int seed)
    {
        var query = RandomQuery(seed);
        var (_, commands, _, installations, environments) = Services(rollups: true);

        var active = await installations.GetAsync(query, ActiveRuleKind.AnyEvent, default);
        var byOs = (await environments.GetAsync(query, default)).Dimensions.Single(d => d.Dimension == EnvironmentDimension.Os).Values;
        var byCommand = (await commands.GetAsync(query, 1000, default)).Commands;

        await using var cmd = _db.DataSource.CreateCommand();
        var where = RawWhere(query, cmd);
        cmd.CommandText = $"""
            SELECT count(DISTINCT (r.tool, r.installation_id)) FROM runs r WHERE {where}{ActiveBuilds(query)};
            SELECT (r.occurred_at AT TIME ZONE 'UTC')::date, count(DISTINCT (r.tool, r.installation_id)) FROM runs r WHERE {where}{ActiveBuilds(query)} GROUP BY 1;
            SELECT coalesce(r.os_name, 'unknown'), count(DISTINCT (r.tool, r.installation_id)) FROM runs r WHERE {where}{ActiveBuilds(query)} GROUP BY 1;
            SELECT r.tool, coalesce(r.command, '(none)'), count(DISTINCT r.installation_id) FROM runs r WHERE {where} GROUP BY 1, 2;
            """;
        await using var reader = await cmd.ExecuteReaderAsync();
        await reader.ReadAsync();
        Assert.Equal(reader.GetInt64(0), active.Active);
        await reader.NextResultAsync();
        var daily = new Dictionary<DateOnly, long>();
        while (await reader.ReadAsync())
        {
            daily[reader.GetFieldValue<DateOnly>(0)] = reader.GetInt64(1);
        }
        Assert.Equal(daily.OrderBy(d => d.Key), active.Daily.Where(p => p.Installations > 0).Select(p => KeyValuePair.Create(p.Start, p.Installations)));
        await reader.NextResultAsync();
        var os = new Dictionary<string, long>();
        while (await reader.ReadAsync())
        {
            os[reader.GetString(0)] = reader.GetInt64(1);
        }
        Assert.Equal(os.OrderBy(o => o.Key, StringComparer.Ordinal), byOs.Select(v => KeyValuePair.Create(v.Value, v.Installations)).OrderBy(o => o.Key, StringComparer.Ordinal));
        await reader.NextResultAsync();
        var compared = 0;
        while (await reader.ReadAsync())
        {
            var row = byCommand.Single(c => c.Tool == reader.GetString(0) && c.Command == reader.GetString(1));
            Assert.Equal(reader.GetInt64(2), row.Installations);
            compared++;
        }
        Assert.Equal(byCommand.Count, compared);
    }

    /// <summary>Independent of the rollup SQL: headline numbers straight from <c>runs</c> with count(DISTINCT).</summary>
    [Theory]
    [MemberData(nameof(Seeds))]
    public async Task Overview_RandomFilters_EqualsHandWrittenRawQuery(int seed)
    {
        var query = RandomQuery(seed);
        var (overview, _, _, _, _) = Services(rollups: true);

        var data = await overview.GetAsync(query, default);

        await using var cmd = _db.DataSource.CreateCommand();
        var where = RawWhere(query, cmd);
        cmd.CommandText = $"""
            SELECT count(DISTINCT (r.tool, r.installation_id)) FILTER (WHERE true{ActiveBuilds(query)}), count(*), count(*) FILTER (WHERE r.status = 'succeeded'),
                   count(*) FILTER (WHERE r.status = 'failed'), count(*) FILTER (WHERE r.status = 'aborted')
            FROM runs r WHERE {where}
            """;
        await using var reader = await cmd.ExecuteReaderAsync();
        await reader.ReadAsync();
        Assert.Equal(reader.GetInt64(0), data.Current.ActiveInstallations);
        Assert.Equal(reader.GetInt64(1), data.Current.Runs);
        Assert.Equal(reader.GetInt64(2), data.Current.Succeeded);
        Assert.Equal(reader.GetInt64(3), data.Current.Failed);
        Assert.Equal(reader.GetInt64(4), data.Current.Aborted);
    }
}
