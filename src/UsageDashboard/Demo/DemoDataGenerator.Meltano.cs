using System.Globalization;
using UsageDashboard.Catalog;

namespace UsageDashboard.Demo;

/// <summary>The Meltano part of the simulation: hub plugins with their pip_urls, projects, and runs sent as Meltano sends them.</summary>
public static partial class DemoDataGenerator
{
    private sealed partial class Simulation
    {
        private (MeltanoPlugin Extractor, MeltanoPlugin Loader)[] CreatePipelines()
        {
            // Most projects load into one warehouse from one to three sources.
            var loader = MeltanoPluginFor(DemoCatalog.Loaders.Pick(_random));
            var x = _random.NextDouble();
            var pipelines = new (MeltanoPlugin, MeltanoPlugin)[x < 0.6 ? 1 : x < 0.88 ? 2 : 3];
            for (var i = 0; i < pipelines.Length; i++)
            {
                pipelines[i] = (MeltanoPluginFor(DemoCatalog.Extractors.Pick(_random)), loader);
            }
            return pipelines;
        }

        /// <summary>
        /// The variant a project adds (mostly the hub's first, sometimes another) and the pip_url it installs
        /// from: the variant's default, or for some projects a pin of their own.
        /// </summary>
        private MeltanoPlugin MeltanoPluginFor(string name)
        {
            var variants = DemoCatalog.MeltanoVariants[name];
            var variant = variants.Length > 1 && _random.NextDouble() < 0.15 ? variants[1 + _random.Next(variants.Length - 1)] : variants[0];
            if (name == PinnedPluginName)
            {
                // The incident: a share of tap-postgres projects use transferwise's variant pinned to an old tag.
                var pinned = Array.Find(variants, v => v.Variant == PinnedPluginVariant)!;
                if (_random.NextDouble() < 0.4)
                {
                    return Plugin(pinned, PinnedPipUrl);
                }
            }
            if (_random.NextDouble() < 0.08)
            {
                // A pin of the project's own: the default pip_url with a version or tag appended.
                var tag = string.Create(CultureInfo.InvariantCulture, $"0.{_random.Next(4)}.0");
                return Plugin(variant, variant.PipUrl.StartsWith("git+", StringComparison.Ordinal) && !variant.PipUrl.Contains('#', StringComparison.Ordinal)
                    ? variant.PipUrl + "@v" + tag
                    : variant.PipUrl.Contains('#', StringComparison.Ordinal) ? variant.PipUrl : variant.PipUrl + "==" + tag);
            }
            return Plugin(variant, variant.PipUrl);
        }

        private MeltanoPlugin Plugin(CatalogEntry entry, string pipUrl)
        {
            if (!_meltanoPlugins.TryGetValue((entry, pipUrl), out var plugin))
            {
                _meltanoPlugins[(entry, pipUrl)] = plugin = new MeltanoPlugin(entry, pipUrl);
            }
            return plugin;
        }

        private MeltanoProject CreateMeltanoProject(Kind kind, string osName, double joinedShare)
        {
            var (system, release) = osName switch
            {
                "linux" => ("Linux", PickShifted(DemoCatalog.LinuxVersions, DemoCatalog.LinuxShareOld, DemoCatalog.LinuxShareNew, joinedShare) + ".0-1017-aws"),
                // platform.release() on macOS is the Darwin kernel's version.
                "mac" => ("Darwin", PickShifted(["22.6.0", "23.6.0", "24.1.0"], DemoCatalog.MacShareOld, DemoCatalog.MacShareNew, joinedShare)),
                _ => ("Windows", PickShifted(DemoCatalog.WindowsVersions, DemoCatalog.WindowsShareOld, DemoCatalog.WindowsShareNew, joinedShare)),
            };
            // A project without a project_id (read-only or hand-made) reports a new random one per process.
            return new MeltanoProject(UuidV7(), UuidV7(), _random.NextDouble() < 0.03, system, release, kind == Kind.Ci);
        }

        /// <summary>
        /// Meltano, as it really sends: a started cli_event, then completed or failed and the exit_event,
        /// all with the process's contexts, as Snowplow tp2 events mapped by the collector's mapper; runs that
        /// execute plugins sometimes never end. No plugin versions: the pip_url digest is what changes.
        /// </summary>
        private void MeltanoRun(Installation inst, DateTime t, bool onboarding)
        {
            var command = onboarding ? "init" : DemoCatalog.MeltanoCommands.Pick(_random);
            var (extractor, loader) = inst.Pipelines[_random.Next(inst.Pipelines.Length)];
            MeltanoPlugin[] plugins = command switch
            {
                "run" or "elt" or "install" => [extractor, loader],
                "invoke" or "test" or "select" => [extractor],
                "config" or "add" => [_random.NextDouble() < 0.7 ? extractor : loader],
                _ => [],
            };
            var broken = t >= _breakAt && Array.Exists(plugins, p => p.Entry.Name == BrokenPluginName && p.Entry.Variant == BrokenPluginVariant && p.IsDefaultPipUrl);
            var pinned = Array.Exists(plugins, p => p.PipUrl == PinnedPipUrl);
            var failed = _random.NextDouble() < (broken ? BrokenPluginFailureRate : pinned ? PinnedFailureRate : PluginFailureRate);
            var aborted = command is "run" or "elt" or "invoke" && _random.NextDouble() < MeltanoAbortRate;
            var medianSeconds = command switch
            {
                "run" or "elt" => 240,
                "invoke" => 60,
                "install" => 45,
                "add" => 12,
                "config" => 3,
                _ => 2,
            };
            var durationMs = DurationMs(medianSeconds, failed);
            var (start, end) = Fit(t, durationMs);
            var project = inst.Meltano!;
            var process = new MeltanoProcess(project, command, plugins,
                VersionAt(_meltano, inst, t), PythonAt(inst, t), new Guid(UuidV7()), new Guid(UuidV7()), new Guid(UuidV7()),
                project.RandomProjectUuid ? UuidV7() : null);
            var errorType = failed ? ((broken || pinned) ? DemoCatalog.BrokenPluginErrors : DemoCatalog.MeltanoErrors).Pick(_random) : null;
            // Mapped (by the collector's mapper) with the rest of the day's, into the day's events.
            _wire.Event(process, NewGuid(), start, Received(start), "started", null, 0);
            if (aborted)
            {
                return;
            }
            var ended = end.AddMilliseconds(-1);
            _wire.Event(process, NewGuid(), ended, Received(ended), failed ? "failed" : "completed", errorType, durationMs);
            _wire.Event(process, NewGuid(), end, Received(end), null, errorType, durationMs);
        }

        /// <summary>Delivery delay: usually about a second, occasionally minutes (offline laptops, batching).</summary>
        private DateTime Received(DateTime at)
        {
            var received = at.AddMilliseconds(Math.Min(600_000, Math.Round(LogNormal(800, 1.3))));
            return received > _end ? (at > _end ? at : _end) : received;
        }

        /// <summary>A version-7 style UUID (time-ordered, as Meltano's uuid7) from the seeded generator.</summary>
        private string UuidV7()
        {
            Span<byte> bytes = stackalloc byte[16];
            _random.NextBytes(bytes);
            bytes[6] = (byte)((bytes[6] & 0x0F) | 0x70);
            bytes[8] = (byte)((bytes[8] & 0x3F) | 0x80);
            return new Guid(bytes, bigEndian: true).ToString();
        }
    }
}
