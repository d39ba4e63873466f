using System.Globalization;
using System.Text;

namespace UsageDashboard.Insights;

public static class InsightsApi
{
    /// <summary><c>/api/insights/*</c>: every page's data as JSON (or CSV of its main table), from the pages' own services.</summary>
    public static RouteGroupBuilder MapInsightsApi(this IEndpointRouteBuilder app)
    {
        var group = app.MapGroup("/api/insights").WithTags("Insights");

        group.MapGet("/overview", async (HttpContext http, OverviewService overviews, FeaturesService features, CancellationToken ct) =>
        {
            var errors = new List<string>();
            var query = ParseQuery(http.Request.Query, overviews.Today, errors);
            var projecting = features.ProjectsAsync(query, ct);
            var data = await overviews.GetAsync(query, ct);
            var projects = await projecting;
            if (IsCsv(http))
            {
                return Csv("overview-daily.csv", ["day", "active_installations", "runs"],
                    data.Daily.Select(d => new[] { Format.Date(d.Day), Inv(d.ActiveInstallations), Inv(d.Runs) }));
            }
            return Results.Json(new
            {
                query = Describe(query),
                warnings = errors,
                activeInstallations = data.Current.ActiveInstallations,
                newInstallations = data.Current.NewInstallations,
                projects = ProjectsItem(projects),
                runs = data.Current.Runs,
                successRate = data.Current.SuccessRate.Value,
                successRateInterval = IntervalOf(data.Current.SuccessRate),
                judgedRuns = data.Current.SuccessRate.Total,
                previous = new
                {
                    from = Format.Date(query.PreviousPeriod.From),
                    to = Format.Date(query.PreviousPeriod.To),
                    activeInstallations = data.Previous.ActiveInstallations,
                    newInstallations = data.Previous.NewInstallations,
                    runs = data.Previous.Runs,
                    successRate = data.Previous.SuccessRate.Value,
                    judgedRuns = data.Previous.SuccessRate.Total,
                },
                daily = data.Daily.Select(d => new { day = Format.Date(d.Day), activeInstallations = d.ActiveInstallations, runs = d.Runs, inProgress = d.Day == data.Today }),
                topCommands = data.TopCommands.Select(CommandItem),
                tools = data.ToolComparison.Select(t => new
                {
                    tool = t.Tool,
                    activeInstallations = t.ActiveInstallations,
                    runs = t.Current.Runs,
                    failedRuns = t.Current.Failed,
                    abortedRuns = t.Current.Aborted,
                    judgedRuns = t.Current.Judged,
                    successRate = t.Current.SuccessRate.Value,
                    successRateInterval = IntervalOf(t.Current.SuccessRate),
                    panicsPerThousand = PanicsPerThousand(t.Tool, t.Current),
                    previous = new { activeInstallations = t.PreviousActiveInstallations, runs = t.Previous.Runs, successRate = t.Previous.SuccessRate.Value },
                }),
            });
        }).WithName("GetOverview").WithSummary("Headline numbers, daily active installations and top commands for a period.");

        group.MapGet("/commands", async (HttpContext http, CommandsService commands, CancellationToken ct) =>
        {
            var errors = new List<string>();
            var query = ParseQuery(http.Request.Query, commands.Today, errors);
            var data = await commands.GetAsync(query, CommandsService.ApiLimit, ct);
            if (IsCsv(http))
            {
                return Csv("commands.csv",
                    ["tool", "command", "runs", "failed_runs", "aborted_runs", "success_rate", "ci_low", "ci_high", "judged_runs", "installations",
                     "p50_ms", "p95_ms", "previous_runs", "previous_success_rate"],
                    data.Commands.Select(c => new[]
                    {
                        c.Tool, c.Command, Inv(c.Current.Runs), Inv(c.Current.Failed), Inv(c.Current.Aborted), Ratio(c.Current.SuccessRate.Value),
                        Ratio(c.Current.SuccessRate.Interval?.Low), Ratio(c.Current.SuccessRate.Interval?.High), Inv(c.Current.Judged),
                        Inv(c.Installations), Ratio(c.P50Ms), Ratio(c.P95Ms), Inv(c.Previous.Runs), Ratio(c.Previous.SuccessRate.Value),
                    }));
            }
            return Results.Json(new
            {
                query = Describe(query),
                warnings = errors,
                totalRuns = data.TotalRuns,
                items = data.Commands.Select(c => new
                {
                    tool = c.Tool,
                    command = c.Command,
                    runs = c.Current.Runs,
                    succeededRuns = c.Current.Succeeded,
                    failedRuns = c.Current.Failed,
                    abortedRuns = c.Current.Aborted,
                    judgedRuns = c.Current.Judged,
                    successRate = c.Current.SuccessRate.Value,
                    successRateInterval = IntervalOf(c.Current.SuccessRate),
                    smallSample = c.Current.SuccessRate.IsSmallSample,
                    panicsPerThousand = PanicsPerThousand(c.Tool, c.Current),
                    installations = c.Installations,
                    p50Ms = c.P50Ms,
                    p95Ms = c.P95Ms,
                    previous = new { runs = c.Previous.Runs, successRate = c.Previous.SuccessRate.Value, judgedRuns = c.Previous.Judged },
                }),
            });
        }).WithName("GetCommands").WithSummary("Runs, failures, success rate with interval, durations and trend per tool and command.");

        group.MapGet("/commands/{command}", async (string command, HttpContext http, CommandsService commands, CancellationToken ct) =>
        {
            var errors = new List<string>();
            var query = ParseQuery(http.Request.Query, commands.Today, errors);
            var data = await commands.GetCommandAsync(query, DashboardUrls.FromSegment(command), ct);
            if (IsCsv(http))
            {
                return Csv("command-versions.csv", ["command", "tool_version", "runs", "failed_runs", "aborted_runs", "success_rate", "ci_low", "ci_high", "judged_runs", "installations"],
                    data.Versions.Select(v => SliceCsv(data.Command, v)));
            }
            var buckets = TimeBuckets.For(query, data.Grain, data.Today);
            return Results.Json(new
            {
                query = Describe(query),
                warnings = errors,
                command = data.Command,
                runs = data.Current.Runs,
                failedRuns = data.Current.Failed,
                abortedRuns = data.Current.Aborted,
                successRate = data.Current.SuccessRate.Value,
                successRateInterval = IntervalOf(data.Current.SuccessRate),
                judgedRuns = data.Current.Judged,
                installations = data.Installations,
                p50Ms = data.P50Ms,
                p95Ms = data.P95Ms,
                previous = new { runs = data.Previous.Runs, successRate = data.Previous.SuccessRate.Value, judgedRuns = data.Previous.Judged },
                grain = TimeBuckets.Noun(data.Grain),
                series = data.Buckets.Select((b, i) => new
                {
                    start = Format.Date(b.Start), inProgress = buckets[i].InProgress, partial = buckets[i].Partial,
                    runs = b.Outcomes.Runs, failedRuns = b.Outcomes.Failed, abortedRuns = b.Outcomes.Aborted, byVersion = b.ByVersion, byOs = b.ByOs,
                }),
                items = data.Versions.Select(SliceItem),
                versions = data.Versions.Select(SliceItem),
                operatingSystems = data.OperatingSystems.Select(SliceItem),
                errorTypes = data.Errors.Select(ErrorItem),
            });
        }).WithName("GetCommand").WithSummary("One command: runs over time, by tool version and OS, top error types.");

        group.MapGet("/plugins", async (HttpContext http, PluginsService plugins, CancellationToken ct) =>
        {
            var errors = new List<string>();
            var query = ParseQuery(http.Request.Query, plugins.Today, errors);
            var data = await plugins.GetAsync(query, PluginsService.ApiLimit, ct);
            if (IsCsv(http))
            {
                return Csv("plugins.csv",
                    ["tool", "plugin", "type", "installations", "runs", "failed_runs", "aborted_runs", "success_rate", "ci_low", "ci_high", "judged_runs", "aborted_rate", "latest_version"],
                    data.Plugins.Select(p => new[]
                    {
                        p.Tool, p.Name, p.Type, Inv(p.Installations), Inv(p.Outcomes.Runs), Inv(p.Outcomes.Failed), Inv(p.Outcomes.Aborted),
                        Ratio(p.Outcomes.SuccessRate.Value), Ratio(p.Outcomes.SuccessRate.Interval?.Low), Ratio(p.Outcomes.SuccessRate.Interval?.High),
                        Inv(p.Outcomes.Judged), Ratio(p.Outcomes.AbortedRate.Value), p.LatestVersion ?? "",
                    }));
            }
            return Results.Json(new
            {
                query = Describe(query),
                warnings = errors,
                items = data.Plugins.Select(p => new
                {
                    tool = p.Tool,
                    plugin = p.Name,
                    key = p.Key,
                    variant = p.Variant,
                    type = p.Type,
                    installations = p.Installations,
                    runs = p.Outcomes.Runs,
                    succeededRuns = p.Outcomes.Succeeded,
                    failedRuns = p.Outcomes.Failed,
                    abortedRuns = p.Outcomes.Aborted,
                    judgedRuns = p.Outcomes.Judged,
                    successRate = p.Outcomes.SuccessRate.Value,
                    successRateInterval = IntervalOf(p.Outcomes.SuccessRate),
                    abortedRate = p.Outcomes.AbortedRate.Value,
                    smallSample = p.Outcomes.SuccessRate.IsSmallSample,
                    latestVersion = p.LatestVersion,
                }),
            });
        }).WithName("GetPlugins").WithSummary("Installations, runs, success and aborted rates with intervals, and latest version per plugin.");

        group.MapGet("/plugins/{plugin}", async (string plugin, HttpContext http, PluginsService plugins, CancellationToken ct) =>
        {
            var errors = new List<string>();
            var query = ParseQuery(http.Request.Query, plugins.Today, errors);
            var data = await plugins.GetPluginAsync(query, DashboardUrls.FromSegment(plugin), ct);
            if (IsCsv(http))
            {
                return Csv("plugin-versions.csv",
                    ["plugin", "version", "runs", "failed_runs", "aborted_runs", "success_rate", "ci_low", "ci_high", "judged_runs", "installations", "first_seen"],
                    data.Versions.Select(v => new[]
                    {
                        data.DisplayName ?? data.Plugin, v.Version, Inv(v.Outcomes.Runs), Inv(v.Outcomes.Failed), Inv(v.Outcomes.Aborted), Ratio(v.Outcomes.SuccessRate.Value),
                        Ratio(v.Outcomes.SuccessRate.Interval?.Low), Ratio(v.Outcomes.SuccessRate.Interval?.High), Inv(v.Outcomes.Judged),
                        Inv(v.Installations), v.FirstSeen?.ToString("yyyy-MM-ddTHH:mm:ssZ", CultureInfo.InvariantCulture) ?? "",
                    }));
            }
            var buckets = TimeBuckets.For(query, data.Grain, data.Today);
            return Results.Json(new
            {
                query = Describe(query),
                warnings = errors,
                plugin = data.DisplayName ?? data.Plugin,
                tools = data.PluginTools,
                types = data.Types,
                installations = data.Installations,
                runs = data.Current.Runs,
                failedRuns = data.Current.Failed,
                abortedRuns = data.Current.Aborted,
                judgedRuns = data.Current.Judged,
                successRate = data.Current.SuccessRate.Value,
                successRateInterval = IntervalOf(data.Current.SuccessRate),
                abortedRate = data.Current.AbortedRate.Value,
                items = data.Versions.Select(v => new
                {
                    version = v.Version,
                    runs = v.Outcomes.Runs,
                    failedRuns = v.Outcomes.Failed,
                    abortedRuns = v.Outcomes.Aborted,
                    judgedRuns = v.Outcomes.Judged,
                    successRate = v.Outcomes.SuccessRate.Value,
                    successRateInterval = IntervalOf(v.Outcomes.SuccessRate),
                    smallSample = v.Outcomes.SuccessRate.IsSmallSample,
                    installations = v.Installations,
                    firstSeen = v.FirstSeen,
                }),
                matrix = data.Matrix.Select(c => new
                {
                    os = c.Os, version = c.Version, runs = c.Outcomes.Runs, judgedRuns = c.Outcomes.Judged,
                    failureRate = c.Outcomes.FailureRate.Value, failureRateInterval = IntervalOf(c.Outcomes.FailureRate),
                }),
                errorTypes = data.Errors.Select(ErrorItem),
                grain = TimeBuckets.Noun(data.Grain),
                adoption = data.Adoption.Select((a, i) => new
                {
                    start = Format.Date(a.Start), inProgress = buckets[i].InProgress, partial = buckets[i].Partial, installationsByVersion = a.InstallationsByVersion,
                }),
            });
        }).WithName("GetPlugin").WithSummary("One plugin: per-version outcomes, OS × version failures, error types, version adoption.");

        group.MapGet("/installations", async (HttpContext http, InstallationsService installations, FeaturesService features, CancellationToken ct) =>
        {
            var errors = new List<string>();
            var query = ParseQuery(http.Request.Query, installations.Today, errors);
            var rule = ActiveRule.Parse(http.Request.Query["active"], errors);
            var projecting = features.ProjectsAsync(query, ct);
            var data = await installations.GetAsync(query, rule, ct);
            var projects = await projecting;
            if (IsCsv(http))
            {
                return Csv("installations-daily.csv", ["day", "active_installations"],
                    data.Daily.Select(d => new[] { Format.Date(d.Start), Inv(d.Installations) }));
            }
            var days = TimeBuckets.For(query, Grain.Day, data.Today);
            var weeks = TimeBuckets.For(query, Grain.Week, data.Today);
            var months = TimeBuckets.For(query, Grain.Month, data.Today);
            return Results.Json(new
            {
                query = Describe(query),
                warnings = errors,
                activeRule = ActiveRule.Token(rule),
                activeRuleDefinition = ActiveRule.Definition(rule),
                activeInstallations = data.Active,
                newInstallations = data.New,
                projects = ProjectsItem(projects),
                excludedByRule = new
                {
                    anyEvent = data.Exclusions.AnyEvent,
                    success = data.Exclusions.WithoutSuccess,
                    noci = data.Exclusions.CiOnly,
                    multiday = data.Exclusions.SingleDay,
                },
                items = data.Daily.Select((p, i) => Point(p, days[i])),
                daily = data.Daily.Select((p, i) => Point(p, days[i])),
                weekly = data.Weekly.Select((p, i) => Point(p, weeks[i])),
                monthly = data.Monthly.Select((p, i) => Point(p, months[i])),
                lifecycle = data.Lifecycle.Select(l => new { week = Format.Date(l.Week), @new = l.New, returning = l.Returning, resurrected = l.Resurrected, dormant = l.Dormant }),
                cohorts = data.Cohorts.Select(c => new { week = Format.Date(c.Week), size = c.Size, retained = c.Retained }),
                versionAdoption = data.Adoption.Select(a => new { start = Format.Date(a.Start), installationsByVersion = a.InstallationsByVersion }),
            });
        }).WithName("GetInstallations").WithSummary("Active installations (daily, weekly, monthly) under a chosen rule, lifecycle, cohort retention and version adoption.");

        group.MapGet("/environments", async (HttpContext http, EnvironmentsService environments, CancellationToken ct) =>
        {
            var errors = new List<string>();
            var query = ParseQuery(http.Request.Query, environments.Today, errors);
            var data = await environments.GetAsync(query, ct);
            if (IsCsv(http))
            {
                return Csv("environments.csv", ["dimension", "value", "installations", "runs"],
                    data.Dimensions.SelectMany(d => d.Values.Select(v => new[] { DimensionToken(d.Dimension), v.Value, Inv(v.Installations), Inv(v.Runs) })));
            }
            var buckets = TimeBuckets.For(query, data.Grain, data.Today);
            return Results.Json(new
            {
                query = Describe(query),
                warnings = errors,
                installations = data.Installations,
                grain = TimeBuckets.Noun(data.Grain),
                items = data.Dimensions.SelectMany(d => d.Values.Select(v => new
                {
                    dimension = DimensionToken(d.Dimension), value = v.Value, installations = v.Installations, runs = v.Runs,
                    succeededRuns = v.Outcomes?.Succeeded, failedRuns = v.Outcomes?.Failed, abortedRuns = v.Outcomes?.Aborted,
                    judgedRuns = v.Outcomes?.Judged, successRate = v.Outcomes?.SuccessRate.Value,
                    successRateInterval = v.Outcomes is { } o ? IntervalOf(o.SuccessRate) : null,
                    // Jetty reports panics only (PanicRate): its number is panics per 1,000 invocations.
                    panicsPerThousand = v.Outcomes is { } p ? PanicsPerThousand(query.Tool, p) : null,
                })),
                overTime = data.Dimensions.ToDictionary(d => DimensionToken(d.Dimension), d => d.OverTime.Select((b, i) => new
                {
                    start = Format.Date(b.Start), inProgress = buckets[i].InProgress, partial = buckets[i].Partial, installations = b.InstallationsByVersion,
                })),
            });
        }).WithName("GetEnvironments").WithSummary("Installations by OS, OS version, runtime, runtime version and tool version, now and over time.");

        group.MapGet("/properties", async (HttpContext http, FeaturesService features, CancellationToken ct) =>
        {
            var errors = new List<string>();
            var query = ParseQuery(http.Request.Query, features.Today, errors);
            var name = http.Request.Query["key"].ToString().Trim();
            if (FeatureCatalog.Find(query.Tool, name) is not { } key)
            {
                return Results.Json(new
                {
                    error = "unknown_key",
                    message = name.Length == 0 ? "Name a key: ?key=…" : $"'{name}' is not an allowlisted key{(query.Tool is null ? "" : $" of {query.Tool}")}.",
                    allowed = query.Tool is not null && FeatureCatalog.Allowlist.TryGetValue(query.Tool, out var own)
                        ? (object)own : FeatureCatalog.Allowlist,
                }, statusCode: StatusCodes.Status400BadRequest);
            }
            var table = await features.GetKeyAsync(query, key, ct);
            if (IsCsv(http))
            {
                return Csv($"property-{key.Key}.csv",
                    ["key", "value", "label", "runs", "failed_runs", "aborted_runs", "success_rate", "ci_low", "ci_high", "judged_runs", "installations", "projects"],
                    table.Values.Select(v => new[]
                    {
                        key.Key, v.Value, v.Display, Inv(v.Runs), Inv(v.Failed), Inv(v.Aborted), Ratio(v.SuccessRate.Value),
                        Ratio(v.SuccessRate.Interval?.Low), Ratio(v.SuccessRate.Interval?.High), Inv(v.Judged), Inv(v.Installations), Inv(v.Projects),
                    }));
            }
            return Results.Json(new
            {
                query = Describe(query),
                warnings = errors,
                key = key.Key,
                title = key.Title,
                source = key.Source,
                items = table.Values.Select(v => new
                {
                    value = v.Value,
                    label = v.Display,
                    runs = v.Runs,
                    succeededRuns = v.Succeeded,
                    failedRuns = v.Failed,
                    abortedRuns = v.Aborted,
                    judgedRuns = v.Judged,
                    successRate = v.SuccessRate.Value,
                    successRateInterval = IntervalOf(v.SuccessRate),
                    smallSample = v.SuccessRate.IsSmallSample,
                    installations = v.Installations,
                    projects = v.Projects,
                }),
            });
        }).WithName("GetProperty").WithSummary("Runs, success rate with interval, installations and projects per value of one allowlisted feature key (docs: README).");

        return group;
    }

    internal static InsightQuery ParseQuery(IQueryCollection q, DateOnly today, List<string> errors) =>
        InsightQuery.Parse(q["tool"], q["range"], q["from"], q["to"], q["env"], q["os"], q["version"], q["compare"], today, errors,
            q["runtime"], q["runtimeVersion"], q["environment"]);

    private static bool IsCsv(HttpContext http) => string.Equals(http.Request.Query["format"], "csv", StringComparison.OrdinalIgnoreCase);

    private static object Describe(InsightQuery q) => new
    {
        tool = q.Tool,
        range = q.Range,
        from = Format.Date(q.From),
        to = Format.Date(q.To),
        env = InsightQuery.EnvironmentToken(q.Environment),
        os = q.Os,
        version = q.Version,
        runtime = q.Runtime,
        runtimeVersion = q.RuntimeVersion,
        environment = q.ToolEnvironment,
        excludesDevBuilds = q.ExcludesDevBuilds,
        compare = q.ComparePrevious ? "previous" : null,
    };

    /// <summary>Distinct projects and organisations (null where no selected tool has them) and the runs left out of them.</summary>
    private static object ProjectsItem(ProjectCounts p) => new
    {
        projects = p.Projects,
        organisations = p.Organisations,
        excludedRuns = p.ExcludedRuns,
        excludedShare = p.ExcludedShare,
        excludedReason = p.ExcludedRuns > 0 ? "Meltano runs with a random project id (project_uuid_source = random) are not counted as projects" : null,
    };

    private static object CommandItem(CommandRow r) => new
    {
        tool = r.Tool,
        command = r.Command,
        runs = r.Runs,
        succeededRuns = r.Succeeded,
        failedRuns = r.Failed,
        abortedRuns = r.Aborted,
        judgedRuns = r.SuccessRate.Total,
        successRate = r.SuccessRate.Value,
        successRateInterval = IntervalOf(r.SuccessRate),
        smallSample = r.SuccessRate.IsSmallSample,
        installations = r.Installations,
    };

    private static string DimensionToken(EnvironmentDimension d) => d switch
    {
        EnvironmentDimension.Os => "os",
        EnvironmentDimension.OsVersion => "os_version",
        EnvironmentDimension.Runtime => "runtime",
        EnvironmentDimension.RuntimeVersion => "runtime_version",
        _ => "tool_version",
    };

    private static object Point(ActivePoint p, Bucket b) => new
    {
        start = Format.Date(p.Start), activeInstallations = p.Installations, inProgress = b.InProgress, partial = b.Partial,
    };

    private static object SliceItem(SliceStats s) => new
    {
        name = s.Name,
        runs = s.Outcomes.Runs,
        failedRuns = s.Outcomes.Failed,
        abortedRuns = s.Outcomes.Aborted,
        judgedRuns = s.Outcomes.Judged,
        successRate = s.Outcomes.SuccessRate.Value,
        successRateInterval = IntervalOf(s.Outcomes.SuccessRate),
        smallSample = s.Outcomes.SuccessRate.IsSmallSample,
        installations = s.Installations,
    };

    private static string[] SliceCsv(string owner, SliceStats s) =>
    [
        owner, s.Name, Inv(s.Outcomes.Runs), Inv(s.Outcomes.Failed), Inv(s.Outcomes.Aborted), Ratio(s.Outcomes.SuccessRate.Value),
        Ratio(s.Outcomes.SuccessRate.Interval?.Low), Ratio(s.Outcomes.SuccessRate.Interval?.High), Inv(s.Outcomes.Judged), Inv(s.Installations),
    ];

    private static object ErrorItem(ErrorTypeStats e) => new
    {
        errorType = e.ErrorType, runs = e.Runs, installations = e.Installations, lastSeen = e.LastSeen,
    };

    /// <summary>Jetty's panics per 1,000 invocations (<see cref="PanicRate"/>); null for other tools.</summary>
    private static double? PanicsPerThousand(string? tool, Outcomes outcomes) =>
        PanicRate.Applies(tool) && PanicRate.Of(outcomes).Value is { } share ? Math.Round(share * 1000, 3) : null;

    private static double[]? IntervalOf(Rate rate) => rate.Interval is { } i ? [Math.Round(i.Low, 6), Math.Round(i.High, 6)] : null;

    private static string Inv(long value) => value.ToString(CultureInfo.InvariantCulture);

    private static string Ratio(double? value) => value is { } v ? Math.Round(v, 6).ToString("0.######", CultureInfo.InvariantCulture) : "";

    /// <summary>RFC 4180 CSV; fields that a spreadsheet would run as a formula are prefixed with a quote.</summary>
    internal static IResult Csv(string fileName, IReadOnlyList<string> header, IEnumerable<string[]> rows)
    {
        var sb = new StringBuilder();
        sb.AppendJoin(',', header.Select(CsvField)).Append("\r\n");
        foreach (var row in rows)
        {
            sb.AppendJoin(',', row.Select(CsvField)).Append("\r\n");
        }
        return Results.File(Encoding.UTF8.GetBytes(sb.ToString()), "text/csv; charset=utf-8", fileName);
    }

    internal static string CsvField(string value)
    {
        // Untrusted text (command names come from telemetry) must not become a spreadsheet formula.
        if (value.Length > 0 && value[0] is '=' or '+' or '-' or '@' or '\t' or '\r' && !double.TryParse(value, NumberStyles.Float, CultureInfo.InvariantCulture, out _))
        {
            value = "'" + value;
        }
        return value.IndexOfAny([',', '"', '\r', '\n']) >= 0 ? "\"" + value.Replace("\"", "\"\"", StringComparison.Ordinal) + "\"" : value;
    }
}
