using Microsoft.Extensions.Configuration.Json;
using Microsoft.Extensions.FileProviders;

namespace UsageDashboard.Hosting;

/// <summary>
/// Keeps <c>appsettings*.json</c> reloading on change, by polling those files instead of watching the content
/// root. ASP.NET Core's default watches the whole content root with a recursive FileSystemWatcher: on Linux
/// one inotify watch per directory (482 in a checkout with the bench stores), and because the project-local
/// PostgreSQL cluster lives under <c>.data/</c>, an inotify event for every page PostgreSQL writes. During HTTP
/// batch ingest that was 3.4 % of the machine's CPU in the app's watcher thread and about 2 % more in the
/// database's kernel time (perf, docs/benchmarks.md). Polling stats just the watched files, every 4 s.
/// </summary>
public static class ConfigurationFiles
{
    /// <summary>Turns the host's own watching off; <see cref="PollForChanges"/> then turns reload back on, by polling.</summary>
    public const string NoWatchArgument = "--hostBuilder:reloadConfigOnChange=false";

    /// <summary>The app's arguments with <see cref="NoWatchArgument"/> first (so an explicit argument still wins).</summary>
    public static string[] WithoutWatch(string[] args) => [NoWatchArgument, .. args];

    /// <summary>
    /// Replaces every JSON file source that does not reload (all of them, after <see cref="WithoutWatch"/>) with
    /// the same file, reloaded by polling, in the same position, so precedence (environment and arguments
    /// over files) is unchanged.
    /// </summary>
    public static void PollForChanges(IConfigurationBuilder configuration, string contentRoot)
    {
        var sources = configuration.Sources;
        for (var i = 0; i < sources.Count; i++)
        {
            if (sources[i] is JsonConfigurationSource { ReloadOnChange: false, Path: not null } json)
            {
                var root = json.FileProvider is PhysicalFileProvider physical ? physical.Root : contentRoot;
                sources[i] = new JsonConfigurationSource
                {
                    // Active polling: configuration reload registers a callback, which a passive polling token never calls.
                    FileProvider = new PhysicalFileProvider(root) { UsePollingFileWatcher = true, UseActivePolling = true },
                    Path = json.Path,
                    Optional = json.Optional,
                    ReloadOnChange = true,
                    ReloadDelay = json.ReloadDelay,
                };
            }
        }
    }
}
