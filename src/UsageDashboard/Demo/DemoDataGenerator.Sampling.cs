using UsageDashboard.Store;

namespace UsageDashboard.Demo;

/// <summary>The simulation's draws: times, durations, versions, shares and ids, all from its one seeded <see cref="Random"/>.</summary>
public static partial class DemoDataGenerator
{
    private sealed partial class Simulation
    {
        /// <summary>When a run starts: scheduled runs on the hour, people during their working day.</summary>
        private DateTime SampleTime(Installation inst, int day)
        {
            var dayStart = _firstDay.AddDays(day);
            var (from, to) = Window(day);
            for (var attempt = 0; attempt < 5; attempt++)
            {
                double hourUtc;
                var scheduled = inst.Kind switch { Kind.Ci => 0.45, Kind.Prod => 0.7, _ => 0.0 };
                if (_random.NextDouble() < scheduled)
                {
                    // Cron fires on the hour; the job starts a few minutes later.
                    hourUtc = inst.ScheduleHours[_random.Next(inst.ScheduleHours.Length)] + (_random.NextDouble() * 0.08);
                }
                else
                {
                    hourUtc = s_localHours.Pick(_random) + _random.NextDouble() - inst.UtcOffset;
                }
                hourUtc = ((hourUtc % 24) + 24) % 24;
                var t = TruncateToMillisecond(dayStart.AddTicks((long)(hourUtc * TimeSpan.TicksPerHour)));
                if (t >= from && t < to)
                {
                    return t;
                }
            }
            return TruncateToMillisecond(from.AddTicks((long)(_random.NextDouble() * (to - from).Ticks)));
        }

        /// <summary>Keeps a run inside the history: one that would end after the end starts earlier instead.</summary>
        private (DateTime Start, DateTime End) Fit(DateTime start, long durationMs)
        {
            var end = start.AddMilliseconds(durationMs);
            if (end >= _end)
            {
                end = _end.AddMilliseconds(-1 - _random.Next(60_000));
                start = end.AddMilliseconds(-durationMs);
                if (start < _start)
                {
                    start = _start;
                }
            }
            return (start, end);
        }

        private long DurationMs(double medianSeconds, bool failed) =>
            // Failures tend to stop early.
            Math.Max(200, (long)LogNormal(medianSeconds * 1000 * (failed ? 0.4 : 1.0), 0.9));

        private static string VersionAt(Ladder ladder, Installation inst, DateTime t)
        {
            var effective = t - inst.UpgradeLag;
            if (inst.PinnedAt is { } pinned && pinned < effective)
            {
                effective = pinned;
            }
            return ladder.At(effective);
        }

        private static string PythonAt(Installation inst, DateTime t) => t >= inst.PythonUpgradeAt ? inst.PythonAfter : inst.Python;

        private PluginRef Plugin(string name, string type, string? version)
        {
            if (!_pluginRefs.TryGetValue((name, type, version), out var plugin))
            {
                plugin = new PluginRef { Name = name, Type = type, Version = version };
                _pluginRefs[(name, type, version)] = plugin;
            }
            return plugin;
        }

        /// <summary>Picks from <paramref name="values"/> with shares moving from old to new as <paramref name="share"/> goes 0 → 1.</summary>
        private string PickShifted(string[] values, double[] oldShares, double[] newShares, double share)
        {
            var x = _random.NextDouble();
            var sum = 0.0;
            for (var i = 0; i < values.Length; i++)
            {
                sum += (oldShares[i] * (1 - share)) + (newShares[i] * share);
                if (x < sum)
                {
                    return values[i];
                }
            }
            return values[^1];
        }

        /// <summary>A version-4 style Guid from the seeded generator (never Guid.NewGuid, which would break determinism).</summary>
        private Guid NewGuid()
        {
            Span<byte> bytes = stackalloc byte[16];
            _random.NextBytes(bytes);
            bytes[6] = (byte)((bytes[6] & 0x0F) | 0x40);
            bytes[8] = (byte)((bytes[8] & 0x3F) | 0x80);
            return new Guid(bytes, bigEndian: true);
        }

        private double Exponential(double mean) => -mean * Math.Log(1 - _random.NextDouble());

        private double LogNormal(double median, double sigma)
        {
            // Box-Muller; 1 - u keeps the logarithm away from zero.
            var u1 = 1 - _random.NextDouble();
            var u2 = _random.NextDouble();
            var normal = Math.Sqrt(-2 * Math.Log(u1)) * Math.Cos(2 * Math.PI * u2);
            return median * Math.Exp(sigma * normal);
        }

        private static DateTime TruncateToMillisecond(DateTime t) =>
            new(t.Ticks - (t.Ticks % TimeSpan.TicksPerMillisecond), DateTimeKind.Utc);
    }
}
