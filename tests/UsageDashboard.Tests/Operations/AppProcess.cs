using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;

namespace UsageDashboard.Tests.Operations;

/// <summary>
/// The app started as an operator starts it: <c>dotnet UsageDashboard.dll</c> in its own process, settings
/// by environment variable, listening on a free port; its output lines are kept for assertions.
/// </summary>
public sealed class AppProcess : IAsyncDisposable
{
    private readonly Process _process;

    private AppProcess(Process process) => _process = process;

    public ConcurrentQueue<string> Output { get; } = new();

    public Uri Address { get; private set; } = null!;

    public string OutputText => string.Join('\n', Output);

    /// <summary>Starts <paramref name="dll"/> with <paramref name="environment"/> and waits for /readyz to answer 200.</summary>
    public static async Task<AppProcess> StartAsync(string dll, string workingDirectory, IReadOnlyDictionary<string, string> environment, string[]? args = null)
    {
        var start = new ProcessStartInfo("dotnet", [dll, .. args ?? []])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            WorkingDirectory = workingDirectory,
        };
        start.Environment["ASPNETCORE_ENVIRONMENT"] = "Production";
        start.Environment["Demo__SeedLocalDatabase"] = "false";
        start.Environment["Ingestion__WarmUpRounds"] = "0";
        start.Environment["Urls"] = "http://127.0.0.1:0";
        foreach (var (key, value) in environment)
        {
            start.Environment[key] = value;
        }
        var app = new AppProcess(Process.Start(start)!);
        var listening = new TaskCompletionSource<Uri>(TaskCreationOptions.RunContinuationsAsynchronously);
        app._process.OutputDataReceived += (_, e) =>
        {
            if (e.Data is null)
            {
                return;
            }
            app.Output.Enqueue(e.Data);
            const string Running = "UsageDashboard is running at ";
            var at = e.Data.IndexOf(Running, StringComparison.Ordinal);
            if (at >= 0)
            {
                // A wildcard bind is reached over loopback.
                var address = e.Data[(at + Running.Length)..].Trim().Replace("0.0.0.0", "127.0.0.1", StringComparison.Ordinal).Replace("[::]", "127.0.0.1", StringComparison.Ordinal);
                listening.TrySetResult(new Uri(address));
            }
        };
        app._process.ErrorDataReceived += (_, e) => app.Output.Enqueue(e.Data ?? "");
        app._process.BeginOutputReadLine();
        app._process.BeginErrorReadLine();
        try
        {
            app.Address = await listening.Task.WaitAsync(TimeSpan.FromSeconds(120));
            await app.WaitReadyAsync();
        }
        catch (Exception e) when (e is TimeoutException)
        {
            await app.DisposeAsync();
            throw new TimeoutException("the app did not become ready:\n" + app.OutputText, e);
        }
        return app;
    }

    private async Task WaitReadyAsync()
    {
        using var http = new HttpClient { BaseAddress = Address };
        var deadline = DateTime.UtcNow.AddSeconds(120);
        while (DateTime.UtcNow < deadline)
        {
            if ((await http.GetAsync("/readyz")).StatusCode == HttpStatusCode.OK)
            {
                return;
            }
            await Task.Delay(200);
        }
        throw new TimeoutException("/readyz never answered 200");
    }

    /// <summary>Runs a CLI verb of <paramref name="dll"/> to its end; returns its exit code and output.</summary>
    public static Task<(int ExitCode, string Output)> RunVerbAsync(string dll, string workingDirectory, IReadOnlyDictionary<string, string> environment, params string[] args) =>
        RunVerbWithInputAsync(dll, workingDirectory, environment, null, args);

    /// <summary>A verb that reads <paramref name="input"/> from standard input (a password).</summary>
    public static async Task<(int ExitCode, string Output)> RunVerbWithInputAsync(string dll, string workingDirectory, IReadOnlyDictionary<string, string> environment, string? input, params string[] args)
    {
        var start = new ProcessStartInfo("dotnet", [dll, .. args])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
            WorkingDirectory = workingDirectory,
        };
        start.Environment["ASPNETCORE_ENVIRONMENT"] = "Production";
        start.Environment["DOTNET_ENVIRONMENT"] = "Production";
        foreach (var (key, value) in environment)
        {
            start.Environment[key] = value;
        }
        using var process = Process.Start(start)!;
        if (input is not null)
        {
            await process.StandardInput.WriteLineAsync(input);
        }
        process.StandardInput.Close();
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        try
        {
            await process.WaitForExitAsync().WaitAsync(TimeSpan.FromMinutes(3));
        }
        catch (TimeoutException)
        {
            process.Kill(entireProcessTree: true);
            throw;
        }
        return (process.ExitCode, await stdout + await stderr);
    }

    public async ValueTask DisposeAsync()
    {
        if (!_process.HasExited)
        {
            _process.Kill(entireProcessTree: true);
        }
        await _process.WaitForExitAsync();
        _process.Dispose();
    }
}
