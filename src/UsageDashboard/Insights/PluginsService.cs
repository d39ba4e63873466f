using Npgsql;
using UsageDashboard.Catalog;
using UsageDashboard.Rollups;

namespace UsageDashboard.Insights;

/// <summary>
/// Queries behind <c>/plugins</c> and <c>/plugins/{plugin}</c> and their API, from the plugin-day,
/// plugin-month and plugin-error rollups (a plugin's own outcome where the source reports it, else its
/// run's; OS, tool version and error type are its run's).
/// Names and versions are read through <see cref="PluginNames"/>: Meltano's digests become public names
/// and pip_url labels here, and a Meltano plugin's page shows its variants side by side.
/// </summary>
public sealed class PluginsService(NpgsqlDataSource dataSource, TimeProvider time, RollupSource rollups, PluginNames names, RollupCache? cache = null)
{
    private readonly RollupCache _cache = cache ?? new RollupCache(dataSource, rollups);

    public const int PageLimit = 200;
    public const int ApiLimit = 1000;

    public DateOnly Today => DateOnly.FromDateTime(time.GetUtcNow().UtcDateTime);

    public async Task<PluginsData> GetAsync(InsightQuery query, int limit, CancellationToken ct)
    {
        var tools = InsightsSql.ToolsAsync(dataSource, ct);
        var months = _cache.PluginMonthsAsync(query.Tool, query.From, query.To, ct);
        var dayRows = await _cache.PluginDaysAsync(query.Tool, query.From, query.To, ct);
        var monthRows = await months;
        // Codes are read once every row is in memory, so every value the rows hold has its code.
        var codes = _cache.Codes;
        var filter = ReachFilter.For(query, codes);
        var days = Collapse.PluginDays.For(dayRows, filter, _cache);
        // A plugin is (tool, name, type): counts and versions from the plugin-day rows, installations from the
        // plugin-month rows, counted under one group number per (name, type) pair.
        var pairs = new Dictionary<(int Name, int Type), int>();
        var counts = new Dictionary<(string Tool, int Pair), (Tally Tally, HashSet<int> Versions)>();
        foreach (var segment in days)
        {
            foreach (var row in segment.Rows)
            {
                if (!ReachCounts.InRange(segment.Month, row.Day, query.From, query.To) || !filter.Matches(in row))
                {
                    continue;
                }
                if (!pairs.TryGetValue((row.Name, row.Type), out var pair))
                {
                    pairs[(row.Name, row.Type)] = pair = pairs.Count;
                }
                if (!counts.TryGetValue((segment.Tool, pair), out var c))
                {
                    counts[(segment.Tool, pair)] = c = (new Tally(), []);
                }
                c.Tally.Add(row.Runs, row.Succeeded, row.Failed, row.Aborted);
                c.Versions.Add(row.Version);
            }
        }
        var reach = ReachCounts.Distinct(monthRows, query.From, query.To, filter,
            (PluginMonthRow r) => pairs.TryGetValue((r.Name, r.Type), out var g) ? g : -1,
            (tool, f) => _cache.PluginReach(tool, query.From, f),
            key => pairs.TryGetValue(((int)(key >> 32), (int)key), out var g) ? g : -1);
        var pairNames = pairs.ToDictionary(p => p.Value, p => (Name: codes.Text(p.Key.Name)!, Type: codes.Text(p.Key.Type)!));
        // Ranked by installations, then runs: volume, never the rate, so small samples can't top the list.
        var rows = counts
            .Select(c => Stats(c.Key.Tool, pairNames[c.Key.Pair].Name, pairNames[c.Key.Pair].Type, c.Value.Tally.ToOutcomes(),
                reach.GetValueOrDefault(c.Key), c.Value.Versions.Select(v => codes.Text(v)!).ToList()))
            .OrderByDescending(p => p.Installations).ThenByDescending(p => p.Outcomes.Runs)
            .ThenBy(p => p.Name, StringComparer.Ordinal).ThenBy(p => p.Tool, StringComparer.Ordinal).ThenBy(p => p.Type, StringComparer.Ordinal)
            .Take(limit)
            .ToList();
        return new PluginsData(query, Today, rows, await tools);
    }

    /// <summary>
    /// One ranking row as people read it: a Meltano (name, variant) as "tap-github (meltanolabs)" linking to
    /// the name's page, a private one as "private extractor · 3f2a9c"; no latest version for pip_url digests
    /// (Meltano sends none, and a digest has no order).
    /// </summary>
    private PluginStats Stats(string tool, string stored, string type, Outcomes outcomes, long installations, List<string> versions)
    {
        var name = names.Resolve(stored, type);
        var clear = versions.Where(v => !PluginCatalog.LooksHashed(v)).ToList();
        return new PluginStats(tool, name.Display, type, outcomes, installations, clear.Count > 0 ? VersionOrder.Latest(clear) : null)
        {
            Key = name.PageKey,
            Variant = name.Variant,
        };
    }

    public async Task<PluginDetailData> GetPluginAsync(InsightQuery query, string plugin, CancellationToken ct)
    {
        var grain = TimeBuckets.Auto(query);
        var buckets = TimeBuckets.For(query, grain, Today);
        // A public Meltano name stands for all its stored (name digest.variant digest) rows: the page shows the
        // variants side by side, each version key "stored-name pip_url-digest" until labelled below.
        var digestPrefix = !PluginCatalog.LooksHashed(plugin) && names.Catalog.Contains(plugin) ? PluginCatalog.Sha256Hex(plugin) : null;
        // Installations (in total, per version, per bucket) from the reach indexes where the filter allows, a public
        // Meltano name's over all its variants at once; otherwise the month rows are read by SQL below.
        var pageNames = new PluginPageNames(plugin, digestPrefix, _cache.Codes);
        var families = PluginPageNames.Families(_cache.Codes, names.Catalog);
        var indexed = await DetailReachFromIndexAsync(query, pageNames, families, buckets, ct);
        // Error types from the in-memory error rollups (as the command page's), loaded meanwhile.
        var errorTypes = digestPrefix is null
            ? ErrorTypes.ForPluginAsync(_cache, query, plugin, ct)
            : ErrorTypes.ForPluginFamilyAsync(_cache, query, pageNames, families, ct);
        var tools = InsightsSql.ToolsAsync(dataSource, ct);
        // Outcomes, the OS × version matrix, tools, types and first sightings from the in-memory plugin-day rows: every
        // month the tool has (first seen is over all time), the period's rows for the rest.
        // (A day inside each end: computed from runs, with rollups off, the bounds are shifted by a day.)
        var allDays = await _cache.PluginDaysAsync(query.Tool, DateOnly.MinValue.AddDays(1), DateOnly.MaxValue.AddDays(-1), ct);
        var days = PluginDetailDays.Sum(allDays, pageNames, query, ReachFilter.For(query, _cache.Codes), _cache.Codes);
        var reach = new BucketReach(query.From, query.To, buckets);
        if (indexed is null)
        {
            await ReadMonthRowsAsync(query, plugin, digestPrefix, reach, ct);
        }
        var (current, versionOutcomes, matrix, firstSeen, pluginTools, types) = days;
        var (installations, versionInstallations, adoption) = indexed ?? (reach.Installations, reach.ByValue(), reach.ByBucket());
        var errors = await errorTypes;
        if (versionOutcomes.Any(v => StoredOf(v.Version) is not null))
        {
            return Labelled(new PluginDetailData(query, Today, plugin, grain, current, installations,
                pluginTools.Order(StringComparer.Ordinal).ToList(), types.Order(StringComparer.Ordinal).ToList(),
                versionOutcomes.Select(v => new PluginVersionStats(v.Version, v.Outcomes, versionInstallations.GetValueOrDefault(v.Version),
                    firstSeen.TryGetValue(v.Version, out var f) ? f : null)).ToList(),
                matrix, errors,
                buckets.Select(b => new AdoptionBucket(b.Start, adoption.GetValueOrDefault(b.Start) ?? [])).ToList(),
                await tools));
        }
        return new PluginDetailData(query, Today, plugin, grain, current, installations,
            pluginTools.Order(StringComparer.Ordinal).ToList(), types.Order(StringComparer.Ordinal).ToList(),
            versionOutcomes.OrderByDescending(v => v.Version, VersionOrder.Instance).ThenBy(v => v.Version, StringComparer.Ordinal)
                .Select(v => new PluginVersionStats(v.Version, v.Outcomes, versionInstallations.GetValueOrDefault(v.Version),
                    firstSeen.TryGetValue(v.Version, out var f) ? f : null))
                .ToList(),
            // Rows arrive in whatever order the aggregate emits them; a fixed order keeps the API stable.
            matrix.OrderBy(c => c.Os, StringComparer.Ordinal).ThenBy(c => c.Version, StringComparer.Ordinal).ToList(),
            errors,
            buckets.Select(b => new AdoptionBucket(b.Start, adoption.GetValueOrDefault(b.Start) ?? [])).ToList(),
            await tools);
    }

    /// <summary>
    /// Installations from the plugin-month rows over the period, read by SQL into <paramref name="reach"/>: for a filter
    /// or a store (rollups off) the reach indexes cannot answer.
    /// </summary>
    private async Task ReadMonthRowsAsync(InsightQuery query, string plugin, string? digestPrefix, BucketReach reach, CancellationToken ct)
    {
        await using var conn = await dataSource.OpenConnectionAsync(ct);
        await using var cmd = conn.CreateCommand();
        var monthFilters = RunFilterSql.Dimensions(query, cmd, "m");
        var months = rollups.PluginMonths(cmd, query.From, query.To);
        cmd.CommandText = $"""
            SELECT m.installation_key, m.month, m.days & rollup_day_mask(m.month, @from_day, @to_day), {VersionKey("m")}
            FROM {months} m
            WHERE {RollupSql.ActiveIn("m", "@from_day", "@to_day")} AND {NameMatch("m")}{monthFilters};
            """;
        cmd.Parameters.AddWithValue("from_day", query.From);
        cmd.Parameters.AddWithValue("to_day", query.To);
        cmd.Parameters.AddWithValue("plugin", plugin);
        cmd.Parameters.AddWithValue("digest", NpgsqlTypes.NpgsqlDbType.Text, (object?)digestPrefix ?? DBNull.Value);
        cmd.Parameters.AddWithValue("digest_prefix", NpgsqlTypes.NpgsqlDbType.Text, digestPrefix is null ? DBNull.Value : digestPrefix + ".");
        await using var reader = await cmd.ExecuteReaderAsync(ct);
        while (await reader.ReadAsync(ct))
        {
            reach.Add(reader.GetInt32(0), reader.GetFieldValue<DateOnly>(1), reader.GetInt32(2), reader.GetString(3));
        }
    }

    /// <summary>
    /// The plugin rows <c>@plugin</c> stands for: itself, and for a public Meltano name its digest alone and
    /// every "digest.variant digest" (starts_with keeps it one index range on name).
    /// </summary>
    private static string NameMatch(string alias) =>
        $"({alias}.name = @plugin OR {alias}.name = @digest OR starts_with({alias}.name, @digest_prefix))";

    /// <summary>The version column, for Meltano's digests prefixed by the stored name (so variants stay apart).</summary>
    private static string VersionKey(string alias) =>
        $"CASE WHEN {alias}.name ~ '^[0-9a-f]{{64}}' THEN {alias}.name || ' ' || coalesce(nullif({alias}.version, ''), 'unknown') ELSE coalesce(nullif({alias}.version, ''), 'unknown') END";

    private static string? StoredOf(string versionKey) => versionKey.IndexOf(' ', StringComparison.Ordinal) is > 0 and var i ? versionKey[..i] : null;

    /// <summary>A Meltano version key ("stored-name pip-digest") as people read it: "meltanolabs · default pip_url".</summary>
    private string VersionLabel(string key, string plugin)
    {
        if (StoredOf(key) is not { } stored)
        {
            return key;
        }
        var version = key[(stored.Length + 1)..];
        var name = names.Resolve(stored);
        var pip = version == "unknown" ? "no pip_url" : names.VersionLabel(stored, version);
        if (name.Variant is not null)
        {
            return $"{name.Variant} · {pip}";
        }
        // A private plugin's page, or a variant no catalog lists.
        return name.IsPrivate || stored == plugin || !PluginNames.TrySplit(stored, out _, out var variantDigest) || variantDigest is null
            ? pip
            : $"private variant · {variantDigest[..6]} · {pip}";
    }

    /// <summary>Meltano's detail data with every version key replaced by its label, variants side by side (ordered by variant, then label).</summary>
    private PluginDetailData Labelled(PluginDetailData d)
    {
        string L(string key) => VersionLabel(key, d.Plugin);
        var display = names.Resolve(d.Plugin, d.Types.FirstOrDefault());
        return d with
        {
            DisplayName = display.IsPrivate || display.Variant is not null ? display.Display : d.Plugin,
            Versions = d.Versions.Select(v => v with { Version = L(v.Version) })
                .OrderByDescending(v => v.Version, VersionOrder.Instance).ThenBy(v => v.Version, StringComparer.Ordinal).ToList(),
            Matrix = d.Matrix.Select(c => c with { Version = L(c.Version) }).OrderBy(c => c.Os, StringComparer.Ordinal).ThenBy(c => c.Version, StringComparer.Ordinal).ToList(),
            Adoption = d.Adoption.Select(a => a with
            {
                InstallationsByVersion = a.InstallationsByVersion.GroupBy(kv => L(kv.Key), StringComparer.Ordinal).ToDictionary(g => g.Key, g => g.Sum(kv => kv.Value), StringComparer.Ordinal),
            }).ToList(),
        };
    }

    /// <summary>
    /// A plugin's installations in total, per version and per bucket and version from each tool's reach indexes
    /// (the same counts <see cref="BucketReach"/> makes from the month rows): the total from the plugin-name index, or
    /// for a public Meltano name from the family index (each installation once over all its variants); versions keyed
    /// as the SQL's version key. Null when the filter or a tool's segments need the rows.
    /// </summary>
    private async Task<(long, Dictionary<string, long>, Dictionary<DateOnly, Dictionary<string, long>>)?> DetailReachFromIndexAsync(
        InsightQuery query, PluginPageNames pageNames, Func<int, long> families, IReadOnlyList<Bucket> buckets, CancellationToken ct)
    {
        var codes = _cache.Codes;
        var filter = ReachFilter.For(query, codes);
        if (filter.IndexStream is not { } stream)
        {
            return null;
        }
        var segments = await _cache.PluginMonthsAsync(query.Tool, query.From, query.To, ct);
        string KeyText(long key) => PluginPageNames.VersionKey(codes.Text((int)(key >> 32))!, codes.Text((int)key)!);
        bool Wanted(long key) => pageNames.Contains((int)(key >> 32));
        long installations = 0;
        var versions = new Dictionary<string, long>(StringComparer.Ordinal);
        var byBucket = new Dictionary<DateOnly, Dictionary<string, long>>();
        foreach (var tool in segments.GroupBy(m => m.Tool, StringComparer.Ordinal))
        {
            var toolSegments = tool.ToList();
            var all = pageNames.Digest is null
                ? _cache.PluginNameReach(toolSegments, query.From, filter)
                : _cache.PluginFamilyReach(toolSegments, query.From, filter, families);
            var byVersion = _cache.PluginVersionReach(toolSegments, query.From, filter);
            if (all is null || byVersion is null || !all.Covers(query.From, query.To))
            {
                return null;
            }
            // After the index is built, so the name (or the family's digest) has its code if any row has it.
            var group = pageNames.Digest is null ? codes.Find(pageNames.Plugin) : pageNames.FamilyCode;
            installations += group <= 0 ? 0 : all.DistinctOf(stream, group, query.From, query.To);
            ReachCounts.AddByText(versions, byVersion.Distinct(stream, query.From, query.To, Wanted), codes, KeyText);
            ReachCounts.AddPerBucket(byBucket, byVersion, stream, buckets, query.From, query.To, codes, Wanted, KeyText);
        }
        return (installations, versions, byBucket);
    }
}
