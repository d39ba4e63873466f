using Microsoft.AspNetCore.Components;
using UsageDashboard.Database;
using UsageDashboard.Insights;
using UsageDashboard.Rollups;

namespace UsageDashboard.Components.Shared;

/// <summary>What an insights page is doing: computing its first view, showing one, or unable to reach the database.</summary>
public enum InsightLoad
{
    Loading,
    Loaded,
    Unavailable,
}

/// <summary>
/// The glue every insights page shares: the URL's filters as query parameters, a reload whenever the URL
/// changes (filter bar, chart click, back/forward), a live refresh when the rollups fold new data (unless
/// paused), and the loading and database-unavailable states. A page only says how to compute its model.
/// </summary>
public abstract class InsightPage : ComponentBase, IDisposable
{
    [Inject] private NavigationManager Navigation { get; set; } = null!;
    [Inject] private RollupVersionWatch Versions { get; set; } = null!;
    [Inject] private TimeProvider Time { get; set; } = null!;

    [SupplyParameterFromQuery(Name = "tool")] public string? Tool { get; set; }
    [SupplyParameterFromQuery(Name = "range")] public string? Range { get; set; }
    [SupplyParameterFromQuery(Name = "from")] public string? From { get; set; }
    [SupplyParameterFromQuery(Name = "to")] public string? To { get; set; }
    [SupplyParameterFromQuery(Name = "env")] public string? Env { get; set; }
    [SupplyParameterFromQuery(Name = "os")] public string? Os { get; set; }
    [SupplyParameterFromQuery(Name = "version")] public string? Version { get; set; }
    [SupplyParameterFromQuery(Name = "compare")] public string? Compare { get; set; }
    [SupplyParameterFromQuery(Name = "runtime")] public string? Runtime { get; set; }
    [SupplyParameterFromQuery(Name = "runtimeVersion")] public string? RuntimeVersion { get; set; }
    [SupplyParameterFromQuery(Name = "environment")] public string? ToolEnvironment { get; set; }

    private CancellationTokenSource? _loading;
    private string? _loadedUrl;
    private long _generation;

    public InsightLoad State { get; private set; } = InsightLoad.Loading;
    /// <summary>When the numbers shown were computed.</summary>
    public DateTimeOffset? AsOf { get; private set; }
    /// <summary>A recompute is under way while the previous view stays on screen.</summary>
    public bool Refreshing { get; private set; }
    /// <summary>Live updates are off: the numbers stay as they are until the filters change.</summary>
    public bool Paused { get; private set; }
    /// <summary>The last reload failed because the database was unavailable (the previous view, if any, stays).</summary>
    public bool Failed { get; private set; }
    /// <summary>What the URL's filters could not use, shown by the filter bar.</summary>
    protected IReadOnlyList<string> Errors { get; private set; } = [];
    /// <summary>Whether a view has been computed (the page keeps showing it while it recomputes).</summary>
    public abstract bool HasModel { get; }

    /// <summary>Computes the page's view; returns the assignment to make if this load is still the current one.</summary>
    protected abstract Task<Action> LoadAsync(List<string> errors, CancellationToken ct);

    /// <summary>The URL's filters as one query, parse problems added to <paramref name="errors"/>.</summary>
    protected InsightQuery ParseQuery(DateOnly today, List<string> errors) =>
        InsightQuery.Parse(Tool, Range, From, To, Env, Os, Version, Compare, today, errors, Runtime, RuntimeVersion, ToolEnvironment);

    protected override void OnInitialized() => Versions.Changed += OnRollupsChanged;

    protected override async Task OnParametersSetAsync()
    {
        // Route and query parameters both live in the URL: the same URL is the same view.
        if (Navigation.Uri == _loadedUrl)
        {
            return;
        }
        _loadedUrl = Navigation.Uri;
        await ReloadAsync();
    }

    /// <summary>Recomputes the view (the retry button, the live refresh).</summary>
    public async Task ReloadAsync()
    {
        var generation = ++_generation;
        if (_loading is not null)
        {
            await _loading.CancelAsync();
            _loading.Dispose();
        }
        _loading = new CancellationTokenSource();
        var ct = _loading.Token;
        Refreshing = true;
        var errors = new List<string>();
        try
        {
            var apply = await LoadAsync(errors, ct);
            if (generation != _generation)
            {
                return;
            }
            apply();
            Errors = errors;
            State = InsightLoad.Loaded;
            Failed = false;
            AsOf = Time.GetUtcNow();
        }
        catch (OperationCanceledException) when (ct.IsCancellationRequested)
        {
            // A newer load replaced this one.
        }
        catch (Exception e) when (DatabaseUnavailable.IsDatabaseUnavailable(e))
        {
            if (generation == _generation)
            {
                Failed = true;
                State = HasModel ? InsightLoad.Loaded : InsightLoad.Unavailable;
            }
        }
        finally
        {
            if (generation == _generation)
            {
                Refreshing = false;
            }
        }
    }

    public void TogglePause()
    {
        Paused = !Paused;
        StateHasChanged();
    }

    /// <summary>The rollups folded new data: recompute in place, keeping the filters (the URL) and the scroll position.</summary>
    private void OnRollupsChanged()
    {
        if (Paused || Refreshing || State != InsightLoad.Loaded)
        {
            return;
        }
        _ = InvokeAsync(async () =>
        {
            await ReloadAsync();
            StateHasChanged();
        });
    }

    public void Dispose()
    {
        Versions.Changed -= OnRollupsChanged;
        _loading?.Cancel();
        _loading?.Dispose();
        GC.SuppressFinalize(this);
    }
}
