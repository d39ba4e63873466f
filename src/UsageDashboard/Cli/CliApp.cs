using System.CommandLine;
using System.Globalization;
using Spectre.Console;
using UsageDashboard.Access;
using UsageDashboard.Database;
using UsageDashboard.Demo;
using UsageDashboard.Health;
using UsageDashboard.Ingestion;
using UsageDashboard.Operations;
using UsageDashboard.Rollups;
using UsageDashboard.Store;

namespace UsageDashboard.Cli;

/// <summary>
/// <c>dotnet run --project src/UsageDashboard -- &lt;verb&gt;</c>. Every verb opens the same database the
/// app would (configured server, else the project-local cluster) and applies pending migrations first
/// unless <c>Database:MigrateOnStartup=false</c>.
/// </summary>
public static class CliApp
{
    private static readonly string[] s_verbs = ["seed-demo", "import", "migrate", "retention", "rebuild-rollups", "evaluate-health", "simulate-health", "users", "tokens", "help", "--help", "-h", "-?"];

    public static bool IsVerb(string[] args) => args.Length > 0 && s_verbs.Contains(args[0]);

    public static async Task<int> RunAsync(string[] args)
    {
        var root = new RootCommand("UsageDashboard: self-hosted usage insights for CLI tools. With no verb, serves the dashboard.");
        root.Subcommands.Add(SeedDemo());
        root.Subcommands.Add(Import());
        root.Subcommands.Add(Migrate());
        root.Subcommands.Add(Retention());
        root.Subcommands.Add(RebuildRollups());
        root.Subcommands.Add(EvaluateHealth());
        root.Subcommands.Add(SimulateHealth());
        root.Subcommands.Add(AccessCommands.Users(StartHostAsync));
        root.Subcommands.Add(AccessCommands.Tokens(StartHostAsync));
        var parse = root.Parse(args[0] == "help" ? ["--help"] : args);
        try
        {
            return await parse.InvokeAsync();
        }
        catch (LocalPostgresException e)
        {
            await Console.Error.WriteLineAsync("error: " + e.Message);
            return 2;
        }
    }

    private static Command SeedDemo()
    {
        var events = new Option<int>("--events") { Description = "How many events to generate", DefaultValueFactory = _ => 1_000_000 };
        var days = new Option<int>("--days") { Description = "How many days of history, ending now", DefaultValueFactory = _ => 90 };
        var seed = new Option<int>("--seed") { Description = "Random seed: the same seed gives the same data", DefaultValueFactory = _ => 42 };
        var command = new Command("seed-demo", "Fill the store with realistic demo telemetry for jetty, dbt, evidently and meltano.") { events, days, seed };
        command.Validators.Add(result =>
        {
            if (result.GetValue(events) <= 0)
            {
                result.AddError("--events must be a positive number");
            }
            if (result.GetValue(days) is <= 0 or > 3650)
            {
                result.AddError("--days must be between 1 and 3650");
            }
        });
        command.SetAction(async (parse, ct) =>
        {
            await using var host = await StartHostAsync(ct);
            var options = new DemoOptions
            {
                Events = parse.GetValue(events),
                Days = parse.GetValue(days),
                Seed = parse.GetValue(seed),
                End = host.Services.GetRequiredService<TimeProvider>().GetUtcNow().UtcDateTime,
            };
            var loader = host.Services.GetRequiredService<DemoLoader>();
            DemoLoadResult? result = null;
            await AnsiConsole.Progress()
                .Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(), new RemainingTimeColumn(), new SpinnerColumn())
                .StartAsync(async ctx =>
                {
                    var task = ctx.AddTask("Loading demo events", maxValue: options.Events);
                    var progress = new SynchronousProgress<long>(n => task.Value = n);
                    result = await loader.LoadAsync(options, progress, ct);
                    task.Value = options.Events;
                });
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"Loaded {result!.Events:N0} events ({result.Accepted:N0} new, {result.Duplicates:N0} already stored) in {result.Elapsed.TotalSeconds:F1} s: {result.EventsPerSecond:N0} events/s"));
            return 0;
        });
        return command;
    }

    private static Command Import()
    {
        var file = new Argument<FileInfo>("file") { Description = "NDJSON file: one event or one request body per line" };
        var tool = new Option<string?>("--tool") { Description = "Attribute every event to this configured tool" };
        var format = new Option<string>("--format") { Description = "auto, native, snowplow or jitsu", DefaultValueFactory = _ => WireFormats.Auto };
        format.AcceptOnlyFromAmong(WireFormats.Auto, WireFormats.Native, WireFormats.Snowplow, WireFormats.Jitsu);
        var rejects = new Option<FileInfo?>("--rejects") { Description = "Where rejected lines go, with their reasons (default: <file>.rejected.ndjson)" };
        var command = new Command("import", "Import NDJSON telemetry history through the collector's mappers; idempotent, so a re-import adds nothing.") { file, tool, format, rejects };
        command.Validators.Add(result =>
        {
            if (result.GetValue(file) is { Exists: false } f)
            {
                result.AddError($"{f.FullName} does not exist");
            }
        });
        command.SetAction(async (parse, ct) =>
        {
            var input = parse.GetValue(file)!;
            var rejectsPath = parse.GetValue(rejects)?.FullName ?? input.FullName + ".rejected.ndjson";
            await using var host = await StartHostAsync(ct);
            var importer = host.Services.GetRequiredService<EventImporter>();
            ImportResult? result = null;
            try
            {
                await AnsiConsole.Progress()
                    .Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(), new RemainingTimeColumn(), new SpinnerColumn())
                    .StartAsync(async ctx =>
                    {
                        var task = ctx.AddTask("Importing " + input.Name, maxValue: Math.Max(1, input.Length));
                        var progress = new SynchronousProgress<long>(n => task.Value = n);
                        result = await importer.ImportAsync(input.FullName, parse.GetValue(tool)?.ToLowerInvariant(), parse.GetValue(format)!, rejectsPath, progress, ct);
                        task.Value = task.MaxValue;
                    });
            }
            catch (ArgumentException e)
            {
                await Console.Error.WriteLineAsync("error: " + e.Message);
                return 1;
            }
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"Imported {result!.Events:N0} events from {result.Lines:N0} lines ({result.Accepted:N0} new, {result.Duplicates:N0} already stored, {result.Rejected:N0} rejected) in {result.Elapsed.TotalSeconds:F1} s: {result.EventsPerSecond:N0} events/s"));
            if (result.Rejected > 0)
            {
                Console.WriteLine("Rejected lines and their reasons: " + rejectsPath);
            }
            // The dashboards read rollups; fold the imported days in now rather than at the app's next refresh.
            var rollups = await host.Services.GetRequiredService<RollupRefresher>().RefreshAsync(ct);
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"Rollups refreshed in {rollups.Elapsed.TotalSeconds:F1} s"));
            return 0;
        });
        return command;
    }

    private static Command Migrate()
    {
        var command = new Command("migrate", "Apply pending database migrations and exit.");
        command.SetAction(async (_, ct) =>
        {
            await using var host = await StartHostAsync(ct);
            Console.WriteLine("The database schema is up to date.");
            return 0;
        });
        return command;
    }

    private static Command Retention()
    {
        var dryRun = new Option<bool>("--dry-run") { Description = "Only list the partitions that would be dropped; change nothing" };
        var command = new Command("retention", "Create the coming months' event partitions and drop raw-event months older than Retention:RawEventsDays (runs and installations are kept).") { dryRun };
        command.SetAction(async (parse, ct) =>
        {
            await using var host = await StartHostAsync(ct);
            var r = await host.Services.GetRequiredService<EventPartitions>().MaintainAsync(parse.GetValue(dryRun), ct);
            foreach (var name in r.Created)
            {
                Console.WriteLine("created " + name);
            }
            foreach (var p in r.Dropped)
            {
                Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"{(r.DryRun ? "would drop" : "dropped")} {p.Table} ({p.Month:yyyy-MM}, {p.Rows:N0} events)"));
            }
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"Keeping raw events of months that end after {r.Cutoff:yyyy-MM-dd HH:mm} UTC; {r.Dropped.Count} partitions {(r.DryRun ? "would be" : "were")} dropped."));
            return 0;
        });
        return command;
    }

    /// <summary>After a restore (or a suspected drift): every rollup recomputed from the runs, which are the truth.</summary>
    private static Command RebuildRollups()
    {
        var command = new Command("rebuild-rollups", "Recompute every rollup table from the runs (after restoring a backup, or to repair); pages read the result at once.");
        command.SetAction(async (_, ct) =>
        {
            await using var host = await StartHostAsync(ct);
            var elapsed = await host.Services.GetRequiredService<RollupRefresher>().RebuildAllAsync(ct);
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"Rebuilt every rollup from the runs in {elapsed.TotalSeconds:F1} s."));
            return 0;
        });
        return command;
    }

    private static Command EvaluateHealth()
    {
        var command = new Command("evaluate-health", "Run plugin-health detection once: open, escalate or resolve flags (webhooks are sent by the running app).");
        command.SetAction(async (_, ct) =>
        {
            await using var host = await StartHostAsync(ct);
            await using var scope = host.Services.CreateAsyncScope();
            var r = await scope.ServiceProvider.GetRequiredService<HealthEvaluator>().EvaluateAsync(ct);
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"Evaluated {r.Subjects:N0} plugin versions and releases in {r.Elapsed.TotalMilliseconds:F0} ms: {r.Opened} opened, {r.Escalated} escalated, {r.Resolved} resolved, {r.Active} active."));
            return 0;
        });
        return command;
    }

    /// <summary>The detection-quality table of docs/health.md, from simulated counts (no database needed).</summary>
    private static Command SimulateHealth()
    {
        var seeds = new Option<int>("--seeds") { Description = "How many random seeds (each adds 25 healthy plugins and 8 broken releases)", DefaultValueFactory = _ => 20 };
        var releases = new Option<bool>("--releases") { Description = "Measure the release diff's slice decomposition instead (the injected slice must rank first)" };
        var command = new Command("simulate-health", "Measure plugin-health detection on simulated hourly counts and print the quality table.") { seeds, releases };
        command.SetAction(parse =>
        {
            var started = System.Diagnostics.Stopwatch.GetTimestamp();
            var rows = parse.GetValue(releases)
                ? ReleaseSimulator.Run(Math.Max(1, parse.GetValue(seeds)))
                : HealthSimulator.Run(Math.Max(1, parse.GetValue(seeds)), new HealthOptions());
            Console.WriteLine("| scenario | measure | result | target | |");
            Console.WriteLine("|---|---|---|---|---|");
            foreach (var row in rows)
            {
                Console.WriteLine($"| {row.Scenario} | {row.Measure} | {row.Result} | {row.Target} | {(row.Pass ? "pass" : "FAIL")} |");
            }
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"({parse.GetValue(seeds)} seeds, {System.Diagnostics.Stopwatch.GetElapsedTime(started).TotalSeconds:F0} s)"));
            return rows.All(r => r.Pass) ? 0 : 1;
        });
        return command;
    }

    /// <summary>A host with the app's own registrations (no web server), database opened and migrated.</summary>
    internal static async Task<CliHost> StartHostAsync(CancellationToken ct)
    {
        // A verb runs once, so configuration never needs reloading; reloading would watch the content root
        // recursively, and with the local cluster's data under .data/ that is an inotify event per page
        // PostgreSQL writes (3.5% of the machine's CPU during seed-demo, in the profile).
        var configuration = new ConfigurationManager();
        configuration.AddInMemoryCollection([new("hostBuilder:reloadConfigOnChange", "false")]);
        var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings
        {
            ContentRootPath = FindContentRoot(),
            Args = [],
            Configuration = configuration,
        });
        builder.Logging.SetMinimumLevel(LogLevel.Warning);
        builder.Services.AddEventStore(builder.Configuration);
        builder.Services.AddAppMetrics();
        builder.Services.AddRunDerivation(builder.Configuration);
        builder.Services.AddEventPartitions(builder.Configuration);
        builder.Services.AddDemoData();
        builder.Services.AddRollups(builder.Configuration, background: false);
        builder.Services.AddAccessCore(builder.Configuration);
        builder.Services.AddHealth(builder.Configuration, background: false);
        builder.Services.AddIngestion(builder.Configuration);
        builder.Services.AddCliMetricsExport(builder.Configuration);
        var host = builder.Build();
        // A CLI host is never started, so the OTLP exporter's provider is created here; disposing the host
        // flushes what the verb counted (an import's events) before the process exits.
        _ = host.Services.GetService<OpenTelemetry.Metrics.MeterProvider>();
        await host.Services.PrepareDatabaseAsync(ct);
        return new CliHost(host);
    }

    /// <summary>The repository root holds appsettings.json; `dotnet run` starts there, a published app beside it.</summary>
    private static string FindContentRoot()
    {
        foreach (var candidate in new[] { Directory.GetCurrentDirectory(), AppContext.BaseDirectory })
        {
            if (File.Exists(Path.Combine(candidate, "appsettings.json")))
            {
                return candidate;
            }
        }
        return Directory.GetCurrentDirectory();
    }

    private sealed class SynchronousProgress<T>(Action<T> report) : IProgress<T>
    {
        public void Report(T value) => report(value);
    }
}

/// <summary>Disposes the host and with it the database (stopping a local cluster this process started).</summary>
public sealed class CliHost(IHost host) : IAsyncDisposable
{
    public IServiceProvider Services => host.Services;

    public async ValueTask DisposeAsync()
    {
        if (host is IAsyncDisposable asyncDisposable)
        {
            await asyncDisposable.DisposeAsync();
        }
        else
        {
            host.Dispose();
        }
    }
}
