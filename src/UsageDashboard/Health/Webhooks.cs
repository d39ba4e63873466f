using System.Globalization;
using System.Net.Http.Headers;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Threading.Channels;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;
using UsageDashboard.Catalog;
using UsageDashboard.Store;

namespace UsageDashboard.Health;

/// <summary>The JSON a webhook receives when a flag opens, escalates or resolves.</summary>
public static class WebhookPayload
{
    private static readonly JsonSerializerOptions s_json = new(JsonSerializerDefaults.Web);

    /// <summary>Names and versions as people read them (<paramref name="names"/>): a receiver never sees a Meltano digest.</summary>
    public static string Create(HealthFlag flag, HealthFlagEvent e, string dashboardUrl, PluginNames names) => JsonSerializer.Serialize(new
    {
        @event = e.Action,
        text = $"[{flag.Severity}] {e.Action}: {names.Text(flag.Reason)}",
        reason = names.Text(flag.Reason),
        evidenceUrl = dashboardUrl.TrimEnd('/') + "/health/flags/" + flag.Id.ToString(CultureInfo.InvariantCulture),
        occurredAt = e.At,
        actor = e.Actor,
        note = e.Note,
        flag = new
        {
            id = flag.Id,
            tool = flag.Tool,
            kind = flag.Kind,
            name = flag.Kind == HealthSubject.PluginKind ? names.Resolve(flag.Name).Display : flag.Name,
            version = flag.Kind == HealthSubject.PluginKind ? names.VersionLabel(flag.Name, flag.Version) : flag.Version,
            severity = flag.Severity,
            state = flag.State,
            method = flag.Method,
            openedAt = flag.OpenedAt,
            resolvedAt = flag.ResolvedAt,
        },
    }, s_json);
}

/// <summary>Wakes the sender as soon as a change is committed, instead of at its next poll.</summary>
public sealed class WebhookSignal
{
    private readonly Channel<bool> _channel = Channel.CreateBounded<bool>(new BoundedChannelOptions(1) { FullMode = BoundedChannelFullMode.DropWrite });

    public void Wake() => _channel.Writer.TryWrite(true);

    public async Task WaitAsync(TimeSpan timeout, CancellationToken ct)
    {
        using var cts = CancellationTokenSource.CreateLinkedTokenSource(ct);
        cts.CancelAfter(timeout);
        try
        {
            await _channel.Reader.ReadAsync(cts.Token);
        }
        catch (OperationCanceledException) when (!ct.IsCancellationRequested)
        {
            // Poll interval elapsed.
        }
    }
}

/// <summary>
/// Sends due outbox messages: one POST each, 2xx marks it sent, anything else (or a timeout) schedules a
/// retry with exponential backoff and jitter, until <see cref="HealthOptions.WebhookMaxAttempts"/>.
/// Rows are claimed with <c>FOR UPDATE SKIP LOCKED</c>, so two instances never send the same message.
/// </summary>
public sealed class WebhookSender(IServiceScopeFactory scopes, IHttpClientFactory http, IOptions<HealthOptions> options, TimeProvider time, Operations.AppMetrics metrics, ILogger<WebhookSender> logger)
{
    public const string HttpClientName = "health-webhooks";

    /// <summary>Sends what is due now; returns how many messages were delivered.</summary>
    public async Task<int> SendDueAsync(CancellationToken ct)
    {
        var o = options.Value;
        var delivered = 0;
        await using var scope = scopes.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<UsageDbContext>();
        while (!ct.IsCancellationRequested)
        {
            var now = time.GetUtcNow().UtcDateTime;
            await using var tx = await db.Database.BeginTransactionAsync(ct);
            // The statement orders and limits itself (with SKIP LOCKED); reading its one row as a list keeps
            // EF from adding a second, unordered LIMIT around it.
            var message = (await db.WebhookMessages
                .FromSql($"SELECT * FROM webhook_messages WHERE sent_at IS NULL AND failed_at IS NULL AND next_attempt_at <= {now} ORDER BY next_attempt_at, id LIMIT 1 FOR UPDATE SKIP LOCKED")
                .ToListAsync(ct)).FirstOrDefault();
            if (message is null)
            {
                return delivered;
            }
            var target = o.Webhooks.FirstOrDefault(w => w.Url == message.Url);
            var error = await PostAsync(message, target?.Secret, o.WebhookTimeout, ct);
            message.Attempts++;
            now = time.GetUtcNow().UtcDateTime;
            if (error is null)
            {
                message.SentAt = now;
                message.LastError = null;
                delivered++;
                metrics.WebhookAttempt("delivered");
            }
            else
            {
                message.LastError = error;
                if (message.Attempts >= o.WebhookMaxAttempts)
                {
                    message.FailedAt = now;
                    metrics.WebhookAttempt("failed");
                    // The host only: a webhook URL often carries its secret in the path or query (Slack, Teams).
                    logger.LogWarning("Webhook message {Id} to {Host} given up after {Attempts} attempts: {Error}", message.Id, WebhookHost(message.Url), message.Attempts, error);
                }
                else
                {
                    message.NextAttemptAt = now + Backoff(message.Attempts);
                    metrics.WebhookAttempt("retry");
                }
            }
            await db.SaveChangesAsync(ct);
            await tx.CommitAsync(ct);
        }
        return delivered;
    }

    private static string WebhookHost(string url) => Uri.TryCreate(url, UriKind.Absolute, out var uri) ? uri.Host : "(invalid URL)";

    /// <summary>30 s, 1 min, 2 min … capped at 1 h, with up to 20% jitter so receivers coming back aren't stampeded.</summary>
    public static TimeSpan Backoff(int attempts)
    {
        var seconds = Math.Min(3600, 30 * Math.Pow(2, attempts - 1));
        return TimeSpan.FromSeconds(seconds * (1 + 0.2 * Random.Shared.NextDouble()));
    }

    private async Task<string?> PostAsync(WebhookMessage message, string? secret, TimeSpan timeout, CancellationToken ct)
    {
        using var content = new StringContent(message.Payload, Encoding.UTF8, "application/json");
        if (!string.IsNullOrEmpty(secret))
        {
            var mac = HMACSHA256.HashData(Encoding.UTF8.GetBytes(secret), Encoding.UTF8.GetBytes(message.Payload));
            content.Headers.Add("X-UsageDashboard-Signature", "sha256=" + Convert.ToHexStringLower(mac));
        }
        content.Headers.Add("X-UsageDashboard-Delivery", message.Id.ToString(CultureInfo.InvariantCulture));
        using var cts = CancellationTokenSource.CreateLinkedTokenSource(ct);
        cts.CancelAfter(timeout);
        try
        {
            var client = http.CreateClient(HttpClientName);
            client.DefaultRequestHeaders.UserAgent.Add(new ProductInfoHeaderValue("UsageDashboard", "1.0"));
            using var response = await client.PostAsync(message.Url, content, cts.Token);
            return response.IsSuccessStatusCode ? null : "HTTP " + ((int)response.StatusCode).ToString(CultureInfo.InvariantCulture);
        }
        catch (OperationCanceledException) when (!ct.IsCancellationRequested)
        {
            return "timed out";
        }
        catch (HttpRequestException e)
        {
            return e.Message.Length > 500 ? e.Message[..500] : e.Message;
        }
    }
}

/// <summary>Runs the sender in the background: on every wake-up signal, else every poll interval.</summary>
public sealed class WebhookSenderService(WebhookSender sender, WebhookSignal signal, IOptions<HealthOptions> options, ILogger<WebhookSenderService> logger) : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                await sender.SendDueAsync(stoppingToken);
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                // The database may be starting or briefly away; the outbox keeps the messages.
                logger.LogWarning(e, "Webhook sending failed; will retry.");
            }
            await signal.WaitAsync(options.Value.WebhookPollEvery, stoppingToken);
        }
    }
}
