using UsageDashboard.Catalog;
using UsageDashboard.Store;

namespace UsageDashboard.Demo;

/// <summary>
/// Generates realistic telemetry for dbt, Meltano, Evidently and Jetty, shaped like what each tool sends
/// (see docs on the wire formats): an installation base that grows and churns, weekday/weekend and
/// daily rhythms, releases adopted gradually, platform mixes that shift over time, CI and interactive
/// use. Pure and deterministic: the same options give the same events in the same order, because every
/// choice, id and timestamp comes from one <see cref="Random"/> seeded with <see cref="DemoOptions.Seed"/>.
/// Two incidents are planted so the dashboard has something to find; their facts are the constants below.
/// </summary>
public static partial class DemoDataGenerator
{
    /// <summary>The UTC months (their first days) the events of <paramref name="options"/> fall in.</summary>
    public static IReadOnlyList<DateTime> Months(DemoOptions options)
    {
        var first = options.End.AddDays(-options.Days);
        var months = new List<DateTime>();
        for (var m = new DateTime(first.Year, first.Month, 1, 0, 0, 0, DateTimeKind.Utc); m < options.End; m = m.AddMonths(1))
        {
            months.Add(m);
        }
        return months;
    }

    public const string Source = "demo";

    /// <summary>
    /// Incident (a): Meltano sends no plugin versions, so a broken release shows as an unpinned pip_url
    /// that starts failing: tap-github (meltanolabs) installed from its hub default pip_url fails far more
    /// often from <see cref="BrokenPluginReleaseDaysBeforeEnd"/> days before the end.
    /// </summary>
    public const string BrokenPluginName = "tap-github";
    public const string BrokenPluginVariant = "meltanolabs";
    public const string BrokenPluginType = "extractors";
    /// <remarks>
    /// One day: the detector compares the last 6 hours with the week before them, so a break the demo
    /// load ends a day into is flagged (with its onset) by the first evaluation; ten days in, the week
    /// before is as broken as now and only the peers could tell, and Meltano's custom pins are too few.
    /// </remarks>
    public const int BrokenPluginReleaseDaysBeforeEnd = 1;
    public const double BrokenPluginFailureRate = 0.45;
    /// <summary>How often Meltano runs fail when no broken plugin is involved.</summary>
    public const double PluginFailureRate = 0.02;

    /// <summary>Incident (a'): one variant pinned by some projects to a custom pip_url (an old tag) that fails throughout.</summary>
    public const string PinnedPluginName = "tap-postgres";
    public const string PinnedPluginVariant = "transferwise";
    public const string PinnedPipUrl = "git+https://github.com/transferwise/pipelinewise.git@v0.40.0#subdirectory=singer-connectors/tap-postgres";
    public const double PinnedFailureRate = 0.3;

    /// <summary>Incident (b): a dbt release that fails often on one OS only.</summary>
    public const string BrokenTool = DemoCatalog.Dbt;
    public const string BrokenToolVersion = "1.10.1";
    public const string BrokenOs = "windows";
    public const int BrokenToolReleaseDaysBeforeEnd = 21;
    public const double BrokenToolFailureRate = 0.25;
    /// <summary>How often dbt invocations fail otherwise (before a per-command risk factor: tests fail more).</summary>
    public const double ToolFailureRate = 0.03;

    /// <summary>
    /// Share of Meltano runs that execute plugins (run, elt, invoke) and never send an end event (killed
    /// container, closed laptop); about 1.5% of all Meltano runs. The store marks them aborted after Runs:AbortAfter.
    /// </summary>
    public const double MeltanoAbortRate = 0.022;

    /// <summary>Streams about <see cref="DemoOptions.Events"/> events (within a few per mille), roughly in time order.</summary>
    public static IEnumerable<TelemetryEvent> Generate(DemoOptions options) => Generate(options, null);

    /// <summary>
    /// As <see cref="Generate(DemoOptions)"/>; with <paramref name="meltanoWire"/>, also collects the Snowplow
    /// events Meltano's events were mapped from (in generation order), for tests of the real path.
    /// </summary>
    internal static IEnumerable<TelemetryEvent> Generate(DemoOptions options, List<byte[]>? meltanoWire)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(options.Events);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(options.Days);
        if (options.End.Kind != DateTimeKind.Utc)
        {
            throw new ArgumentException("DemoOptions.End must be a UTC time.", nameof(options));
        }
        return new Simulation(options, meltanoWire).Run();
    }

    private enum Kind
    {
        Dev,
        Prod,
        Ci,
    }

    /// <summary>One machine or project sending telemetry, with everything that stays fixed about it.</summary>
    private sealed class Installation
    {
        public required string Id { get; init; }
        public required string Tool { get; init; }
        public required Kind Kind { get; init; }
        public required int FirstDay { get; init; }
        public required int LastDay { get; init; }
        public required bool OneShot { get; init; }
        public required double Weight { get; init; }
        public required DateTime JoinedAt { get; init; }
        /// <summary>How long after a release this installation typically upgrades.</summary>
        public required TimeSpan UpgradeLag { get; init; }
        /// <summary>Set for installations that pinned their versions and never upgrade past this moment's releases.</summary>
        public required DateTime? PinnedAt { get; init; }
        public required string OsName { get; init; }
        public required string OsVersion { get; init; }
        public required string Python { get; init; }
        public required DateTime PythonUpgradeAt { get; init; }
        public required string PythonAfter { get; init; }
        public required double UtcOffset { get; init; }
        /// <summary>UTC hours when scheduled (CI, prod) runs fire.</summary>
        public required int[] ScheduleHours { get; init; }
        public string? Adapter { get; init; }
        public (MeltanoPlugin Extractor, MeltanoPlugin Loader)[] Pipelines { get; init; } = [];
        public MeltanoProject? Meltano { get; init; }
        public PluginRef[] Connectors { get; init; } = [];
    }

    /// <summary>A release ladder placed on the calendar of one generation.</summary>
    private sealed class Ladder
    {
        private readonly DateTime[] _at;
        private readonly string[] _versions;

        public Ladder(IReadOnlyList<Release> releases, DateTime end)
        {
            _at = releases.Select(r => end.AddDays(-r.DaysBeforeEnd)).ToArray();
            _versions = releases.Select(r => r.Version).ToArray();
        }

        /// <summary>The newest release out by <paramref name="t"/>; the oldest one for anything earlier.</summary>
        public string At(DateTime t)
        {
            var i = _at.Length - 1;
            while (i > 0 && _at[i] > t)
            {
                i--;
            }
            return _versions[i];
        }
    }

    private sealed partial class Simulation
    {
        /// <summary>Events per run before any are generated: dbt and Meltano send two, the others one.</summary>
        private const double EventsPerRunPrior = 1.8;

        private static readonly Weighted<string> s_tools = new(
            (DemoCatalog.Dbt, 0.42), (DemoCatalog.Meltano, 0.23), (DemoCatalog.Evidently, 0.18), (DemoCatalog.Jetty, 0.17));
        private static readonly Weighted<Kind> s_kinds = new((Kind.Dev, 0.6), (Kind.Prod, 0.18), (Kind.Ci, 0.22));
        private static readonly Weighted<int> s_localHours = new(DemoCatalog.LocalHourWeights.Select((w, h) => (h, w)).ToArray());

        private readonly Random _random;
        private readonly int _target;
        private readonly DateTime _start;
        private readonly DateTime _end;
        private readonly DateTime _firstDay;
        private readonly int _dayCount;
        private readonly Ladder _dbt;
        private readonly Ladder _adapters;
        private readonly Ladder _meltano;
        private readonly Ladder _evidently;
        private readonly Ladder _jetty;
        private readonly MeltanoWire _wire = new();
        private readonly DateTime _breakAt;
        private readonly Dictionary<(CatalogEntry, string), MeltanoPlugin> _meltanoPlugins = [];
        // PluginRef is immutable, so events share one instance per (name, type, version).
        private readonly Dictionary<(string Name, string Type, string? Version), PluginRef> _pluginRefs = [];
        private readonly List<Installation> _installations = [];
        private readonly DemoFeatures _features;

        public Simulation(DemoOptions options, List<byte[]>? meltanoWire)
        {
            _wire.Kept = meltanoWire;
            _random = new Random(options.Seed);
            _features = new DemoFeatures(options.Seed);
            _target = options.Events;
            _end = TruncateToMillisecond(options.End);
            _start = _end.AddDays(-options.Days);
            _firstDay = _start.Date;
            _dayCount = (int)Math.Ceiling((_end - _firstDay).TotalDays);
            _dbt = new Ladder(DemoCatalog.DbtReleases, _end);
            _adapters = new Ladder(DemoCatalog.AdapterReleases, _end);
            _meltano = new Ladder(DemoCatalog.MeltanoReleases, _end);
            _evidently = new Ladder(DemoCatalog.EvidentlyReleases, _end);
            _jetty = new Ladder(DemoCatalog.JettyReleases, _end);
            _breakAt = _end.AddDays(-BrokenPluginReleaseDaysBeforeEnd);
        }

        public IEnumerable<TelemetryEvent> Run()
        {
            CreateInstallations();
            var dayWeights = new double[_dayCount];
            var active = new double[_dayCount + 1];
            var oneShotsByDay = new List<Installation>?[_dayCount];
            foreach (var inst in _installations)
            {
                if (inst.OneShot)
                {
                    (oneShotsByDay[inst.FirstDay] ??= []).Add(inst);
                    continue;
                }
                active[inst.FirstDay] += inst.Weight;
                active[inst.LastDay + 1] -= inst.Weight;
            }
            var running = 0.0;
            for (var d = 0; d < _dayCount; d++)
            {
                running += active[d];
                var (from, to) = Window(d);
                var covered = Math.Max(0, (to - from).TotalDays);
                var weekend = _firstDay.AddDays(d).DayOfWeek is DayOfWeek.Saturday or DayOfWeek.Sunday;
                // Weekends run at ~40% of a weekday: fewer people at work, CI still on its schedule.
                dayWeights[d] = running * covered * (weekend ? 0.4 : 1.0);
            }
            var weightFromDay = new double[_dayCount + 1];
            for (var d = _dayCount - 1; d >= 0; d--)
            {
                weightFromDay[d] = weightFromDay[d + 1] + dayWeights[d];
            }

            long emitted = 0;
            long runs = 0;
            var dayEvents = new List<TelemetryEvent>(_target / Math.Max(1, _dayCount) * 2);
            var pool = new List<Installation>();
            var cumulative = new List<double>();
            for (var d = 0; d < _dayCount; d++)
            {
                var (from, to) = Window(d);
                if (to <= from)
                {
                    continue;
                }
                dayEvents.Clear();
                foreach (var inst in oneShotsByDay[d] ?? [])
                {
                    // Tried it once: set up, maybe a run or two, never seen again.
                    var count = 1 + _random.Next(3);
                    for (var k = 0; k < count; k++)
                    {
                        GenerateRun(inst, d, onboarding: k == 0, dayEvents);
                        runs++;
                    }
                }

                // Spread what is left of the target over the remaining days by weight, so the total
                // lands on target however the random run sizes fall.
                var dayTarget = weightFromDay[d] > 0 ? (_target - emitted) * dayWeights[d] / weightFromDay[d] : 0;
                var eventsSoFar = dayEvents.Count + _wire.PendingCount;
                var eventsPerRun = (emitted + eventsSoFar + (EventsPerRunPrior * 100)) / (runs + 100);
                var dayRuns = (int)Math.Round(Math.Max(0, dayTarget - eventsSoFar) / eventsPerRun);

                pool.Clear();
                cumulative.Clear();
                var sum = 0.0;
                foreach (var inst in _installations)
                {
                    if (!inst.OneShot && inst.FirstDay <= d && d <= inst.LastDay)
                    {
                        sum += inst.Weight;
                        pool.Add(inst);
                        cumulative.Add(sum);
                    }
                }
                for (var i = 0; i < dayRuns && pool.Count > 0; i++)
                {
                    var x = _random.NextDouble() * sum;
                    var at = cumulative.BinarySearch(x);
                    at = at >= 0 ? at + 1 : ~at;
                    GenerateRun(pool[Math.Min(at, pool.Count - 1)], d, onboarding: false, dayEvents);
                    runs++;
                }

                _wire.MapPending(dayEvents);
                dayEvents.Sort(static (a, b) =>
                {
                    var c = a.OccurredAt.CompareTo(b.OccurredAt);
                    return c != 0 ? c : a.EventId.CompareTo(b.EventId);
                });
                foreach (var e in dayEvents)
                {
                    yield return e;
                }
                emitted += dayEvents.Count;
            }
        }

        /// <summary>The part of calendar day <paramref name="d"/> inside the generated history.</summary>
        private (DateTime From, DateTime To) Window(int d)
        {
            var dayStart = _firstDay.AddDays(d);
            var from = dayStart < _start ? _start : dayStart;
            var dayEnd = dayStart.AddDays(1);
            return (from, dayEnd > _end ? _end : dayEnd);
        }

        private void CreateInstallations()
        {
            // Scale the base with the volume: ~55 events per installation over the period on average,
            // heavy-tailed per installation (a few CI pipelines send most).
            var count = Math.Clamp(_target / 55, 40, 60_000);
            for (var i = 0; i < count; i++)
            {
                var tool = s_tools.Pick(_random);
                var kind = s_kinds.Pick(_random);
                var existing = _random.NextDouble() < 0.45;
                int firstDay;
                DateTime joinedAt;
                var oneShot = false;
                double lifetimeDays;
                if (existing)
                {
                    firstDay = 0;
                    joinedAt = _start.AddDays(-_random.NextDouble() * 400);
                    lifetimeDays = Exponential(150);
                }
                else
                {
                    // New installations arrive through the period, a little faster towards the end.
                    firstDay = Math.Min(_dayCount - 1, (int)(_dayCount * Math.Pow(_random.NextDouble(), 0.8)));
                    joinedAt = _firstDay.AddDays(firstDay + _random.NextDouble());
                    oneShot = kind == Kind.Dev && _random.NextDouble() < 0.3;
                    lifetimeDays = Exponential(120);
                }
                var lastDay = oneShot ? firstDay : (int)Math.Min(_dayCount - 1, firstDay + lifetimeDays);
                var joinedShare = Math.Clamp(1 - ((_end - joinedAt).TotalDays / 365), 0, 1);
                var osName = PickOs(kind);
                var python = PickShifted(DemoCatalog.PythonVersions, DemoCatalog.PythonShareOld, DemoCatalog.PythonShareNew, joinedShare);
                var pythonIndex = Array.IndexOf(DemoCatalog.PythonVersions, python);
                // Some installations move to a newer Python during the period, which shifts the mix further.
                var upgradesPython = pythonIndex < DemoCatalog.PythonVersions.Length - 1 && _random.NextDouble() < 0.15;
                var scheduleHours = new int[1 + _random.Next(3)];
                for (var h = 0; h < scheduleHours.Length; h++)
                {
                    scheduleHours[h] = _random.Next(24);
                }

                _installations.Add(new Installation
                {
                    Id = NewGuid().ToString(),
                    Tool = tool,
                    Kind = kind,
                    FirstDay = firstDay,
                    LastDay = lastDay,
                    OneShot = oneShot,
                    Weight = Math.Min(30, LogNormal(1, 1.0)) * kind switch { Kind.Ci => 1.8, Kind.Prod => 1.5, _ => 1.0 }
                        * tool switch { DemoCatalog.Dbt => 1.1, DemoCatalog.Evidently => 0.8, DemoCatalog.Jetty => 0.7, _ => 1.0 },
                    JoinedAt = joinedAt,
                    UpgradeLag = TimeSpan.FromDays(Exponential(kind switch { Kind.Ci => 10, Kind.Prod => 30, _ => 18 })),
                    PinnedAt = _random.NextDouble() < 0.15 ? joinedAt : null,
                    OsName = osName,
                    OsVersion = osName switch
                    {
                        "linux" => PickShifted(DemoCatalog.LinuxVersions, DemoCatalog.LinuxShareOld, DemoCatalog.LinuxShareNew, joinedShare),
                        "mac" => PickShifted(DemoCatalog.MacVersions, DemoCatalog.MacShareOld, DemoCatalog.MacShareNew, joinedShare),
                        _ => PickShifted(DemoCatalog.WindowsVersions, DemoCatalog.WindowsShareOld, DemoCatalog.WindowsShareNew, joinedShare),
                    },
                    Python = python,
                    PythonUpgradeAt = upgradesPython ? _start.AddDays(_random.NextDouble() * (_end - _start).TotalDays) : DateTime.MaxValue,
                    PythonAfter = upgradesPython ? DemoCatalog.PythonVersions[pythonIndex + 1] : python,
                    UtcOffset = DemoCatalog.UtcOffsets.Pick(_random),
                    ScheduleHours = scheduleHours,
                    Adapter = tool == DemoCatalog.Dbt ? DemoCatalog.DbtAdapters.Pick(_random) : null,
                    Pipelines = tool == DemoCatalog.Meltano ? CreatePipelines() : [],
                    Meltano = tool == DemoCatalog.Meltano ? CreateMeltanoProject(kind, osName, joinedShare) : null,
                    Connectors = tool == DemoCatalog.Jetty ? CreateConnectors() : [],
                });
            }
        }

        private PluginRef[] CreateConnectors()
        {
            var connectors = new List<PluginRef>();
            var wanted = 2 + _random.Next(3);
            for (var attempt = 0; attempt < 10 && connectors.Count < wanted; attempt++)
            {
                var name = DemoCatalog.JettyConnectors.Pick(_random);
                if (!connectors.Exists(c => c.Name == name))
                {
                    connectors.Add(Plugin(name, "connector", null));
                }
            }
            return [.. connectors];
        }

        private string PickOs(Kind kind)
        {
            var x = _random.NextDouble();
            return kind switch
            {
                Kind.Ci => x < 0.93 ? "linux" : x < 0.98 ? "windows" : "mac",
                Kind.Prod => x < 0.85 ? "linux" : x < 0.95 ? "windows" : "mac",
                _ => x < 0.35 ? "linux" : x < 0.8 ? "mac" : "windows",
            };
        }

        private void GenerateRun(Installation inst, int day, bool onboarding, List<TelemetryEvent> into)
        {
            var t = SampleTime(inst, day);
            switch (inst.Tool)
            {
                case DemoCatalog.Dbt:
                    DbtRun(inst, t, onboarding, into);
                    break;
                case DemoCatalog.Meltano:
                    MeltanoRun(inst, t, onboarding);
                    break;
                case DemoCatalog.Evidently:
                    EvidentlyRun(inst, t, onboarding, into);
                    break;
                default:
                    JettyRun(inst, t, onboarding, into);
                    break;
            }
        }

        private TelemetryEvent NewEvent(Installation inst, string eventName, string? runKey, DateTime at, string command,
            string status, string version, string? python, List<PluginRef> plugins)
        {
            var id = NewGuid();
            // Delivery delay: usually about a second, occasionally minutes (offline laptops, batching).
            var received = at.AddMilliseconds(Math.Min(600_000, Math.Round(LogNormal(800, 1.3))));
            return new TelemetryEvent
            {
                EventId = id,
                Tool = inst.Tool,
                Source = Source,
                InstallationId = inst.Id,
                OccurredAt = at,
                ReceivedAt = received > _end ? (at > _end ? at : _end) : received,
                EventName = eventName,
                RunKey = runKey ?? id.ToString(),
                Command = command,
                Status = status,
                ToolVersion = version,
                OsName = inst.OsName,
                OsVersion = inst.OsVersion,
                RuntimeName = python is null ? null : "python",
                RuntimeVersion = python,
                Environment = inst.Kind switch { Kind.Ci => "ci", Kind.Prod => "prod", _ => "dev" },
                IsCi = inst.Kind == Kind.Ci,
                Plugins = plugins,
            };
        }
    }
}
