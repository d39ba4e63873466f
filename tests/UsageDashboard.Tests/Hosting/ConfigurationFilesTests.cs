using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Configuration.Json;
using Microsoft.Extensions.Configuration.Memory;
using Microsoft.Extensions.FileProviders;
using UsageDashboard.Hosting;
using UsageDashboard.Tests.Infrastructure;

namespace UsageDashboard.Tests.Hosting;

public sealed class ConfigurationFilesTests : IDisposable
{
    private readonly string _folder = Directory.CreateTempSubdirectory("ud-config-").FullName;

    public void Dispose() => Directory.Delete(_folder, recursive: true);

    [Fact]
    public void PollForChanges_JsonSourcesAmongOthers_ReplacedInPlaceWithPollingReload()
    {
        var builder = new ConfigurationBuilder()
            .AddInMemoryCollection([new("A", "memory")])
            .AddJsonFile("appsettings.json", optional: true, reloadOnChange: false)
            .AddJsonFile(new PhysicalFileProvider(_folder), "secrets.json", optional: false, reloadOnChange: false)
            .AddEnvironmentVariables();

        var contentRoot = Directory.CreateDirectory(Path.Combine(_folder, "content")).FullName;
        ConfigurationFiles.PollForChanges(builder, contentRoot);

        Assert.IsType<MemoryConfigurationSource>(builder.Sources[0]);
        Assert.IsAssignableFrom<Microsoft.Extensions.Configuration.EnvironmentVariables.EnvironmentVariablesConfigurationSource>(builder.Sources[3]);
        var settings = Assert.IsType<JsonConfigurationSource>(builder.Sources[1]);
        var secrets = Assert.IsType<JsonConfigurationSource>(builder.Sources[2]);
        Assert.Equal(("appsettings.json", true, true), (settings.Path, settings.Optional, settings.ReloadOnChange));
        Assert.Equal(("secrets.json", false, true), (secrets.Path, secrets.Optional, secrets.ReloadOnChange));
        // Each file keeps its own folder: the content root's, or the one its source named.
        Assert.Equal(contentRoot + "/", Polling(settings).Root);
        Assert.Equal(Path.TrimEndingDirectorySeparator(_folder) + "/", Polling(secrets).Root);
    }

    [Fact]
    public async Task PollForChanges_FileEdited_ConfigurationReloads()
    {
        var file = Path.Combine(_folder, "appsettings.json");
        await File.WriteAllTextAsync(file, """{ "Tools": { "Name": "before" } }""");
        var builder = new ConfigurationBuilder().AddJsonFile("appsettings.json", optional: false, reloadOnChange: false);
        ConfigurationFiles.PollForChanges(builder, _folder);
        var configuration = builder.Build();
        Assert.Equal("before", configuration["Tools:Name"]);

        await File.WriteAllTextAsync(file, """{ "Tools": { "Name": "after" } }""");
        // The poll runs every 4 s; the file's write time must differ from the first read's, which it does by now.
        File.SetLastWriteTimeUtc(file, DateTime.UtcNow.AddSeconds(5));
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (configuration["Tools:Name"] != "after" && DateTime.UtcNow < deadline)
        {
            await Task.Delay(100);
        }

        Assert.Equal("after", configuration["Tools:Name"]);
    }

    [Fact]
    public async Task App_Started_HoldsNoInotifyWatch()
    {
        // The real app as its own process (WebApplicationFactory adds watched files of its own), over a content
        // root holding a folder tree like .data/'s, and a database that is down (the host starts regardless).
        var root = Directory.CreateDirectory(Path.Combine(_folder, "content")).FullName;
        File.Copy(Path.Combine(AppFactory.RepoRoot, "appsettings.json"), Path.Combine(root, "appsettings.json"));
        Directory.CreateDirectory(Path.Combine(root, ".data", "postgres", "data", "base", "1"));
        var start = new System.Diagnostics.ProcessStartInfo("dotnet", [typeof(Program).Assembly.Location, "--contentRoot", root])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            WorkingDirectory = root,
        };
        start.Environment["ConnectionStrings__Events"] = $"Host={Path.Combine(Path.GetTempPath(), "ud-no-server")};Port=5432;Username=postgres;Database=x;Timeout=2";
        start.Environment["Database__MigrateOnStartup"] = "false";
        start.Environment["Demo__SeedLocalDatabase"] = "false";
        start.Environment["Urls"] = "http://127.0.0.1:0";
        using var app = System.Diagnostics.Process.Start(start)!;
        try
        {
            var listening = new TaskCompletionSource();
            app.OutputDataReceived += (_, e) =>
            {
                if (e.Data?.Contains("Now listening", StringComparison.Ordinal) == true)
                {
                    listening.TrySetResult();
                }
            };
            app.BeginOutputReadLine();
            app.BeginErrorReadLine();
            await listening.Task.WaitAsync(TimeSpan.FromSeconds(60));

            var watches = Directory.EnumerateFiles($"/proc/{app.Id}/fdinfo")
                .Sum(f => { try { return File.ReadLines(f).Count(l => l.StartsWith("inotify", StringComparison.Ordinal)); } catch (IOException) { return 0; } });

            Assert.Equal(0, watches);
        }
        finally
        {
            app.Kill(entireProcessTree: true);
            await app.WaitForExitAsync();
        }
    }

    private static PhysicalFileProvider Polling(FileConfigurationSource source)
    {
        var provider = Assert.IsType<PhysicalFileProvider>(source.FileProvider);
        Assert.True(provider.UsePollingFileWatcher);
        Assert.True(provider.UseActivePolling);
        return provider;
    }
}
