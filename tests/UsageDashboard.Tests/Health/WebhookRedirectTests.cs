using System.Net;
using Microsoft.Extensions.DependencyInjection;
using UsageDashboard.Health;
using UsageDashboard.Store;
using UsageDashboard.Tests.Infrastructure;

namespace UsageDashboard.Tests.Health;

public sealed class WebhookRedirectTests : IClassFixture<WebhookRedirectTests.Db>
{
    public sealed class Db : DatabaseFixture;

    private readonly Db _db;

    public WebhookRedirectTests(Db db) => _db = db;

    [Fact]
    public async Task WebhookClient_ReceiverAnswers302_NotFollowedAndNotASuccess()
    {
        using var target = new WebhookReceiver(failFirst: 0);
        using var redirector = new Redirector(target.Url);
        var url = redirector.Url;
        await using var app = new AppFactory(_db.ConnectionString);
        var client = app.Services.GetRequiredService<IHttpClientFactory>().CreateClient(WebhookSender.HttpClientName);

        using var response = await client.PostAsync(url, new StringContent("{}"));
        await redirector.Answered;

        Assert.Equal(HttpStatusCode.Found, response.StatusCode);
        Assert.False(response.IsSuccessStatusCode);
        Assert.Empty(target.Requests);
    }

    [Fact]
    public async Task SendDue_ReceiverAnswers302_FailedDeliveryAndTargetNeverCalled()
    {
        using var target = new WebhookReceiver(failFirst: 0);
        using var redirector = new Redirector(target.Url);
        var url = redirector.Url;
        var now = new DateTime(2026, 11, 22, 12, 0, 0, DateTimeKind.Utc);
        await using var app = new AppFactory(_db.ConnectionString, new FakeTimeProvider(now), new Dictionary<string, string?>
        {
            ["Health:Webhooks:0:Url"] = url,
            ["Health:RunInBackground"] = "false",
        });
        long messageId;
        await using (var db = _db.CreateDbContext())
        {
            var flag = new HealthFlag
            {
                Tool = "hooktool", Kind = "plugin", Name = "tap-redirect", Version = "1.0.0", Severity = "broken", State = "open",
                Method = "test", Reason = "test", Evidence = "{}", FirstSeen = now, OpenedAt = now, UpdatedAt = now,
            };
            db.HealthFlags.Add(flag);
            await db.SaveChangesAsync();
            var flagEvent = new HealthFlagEvent { FlagId = flag.Id, At = now, Action = "opened", Severity = "broken", Reason = "test" };
            db.HealthFlagEvents.Add(flagEvent);
            await db.SaveChangesAsync();
            var message = new WebhookMessage { FlagEventId = flagEvent.Id, Url = url, Payload = "{}", CreatedAt = now, NextAttemptAt = now };
            db.WebhookMessages.Add(message);
            await db.SaveChangesAsync();
            messageId = message.Id;
        }

        var delivered = await app.Services.GetRequiredService<WebhookSender>().SendDueAsync(default);
        await redirector.Answered;

        Assert.Equal(0, delivered);
        Assert.Empty(target.Requests);
        await using var check = _db.CreateDbContext();
        var stored = await check.WebhookMessages.FindAsync(messageId);
        Assert.Null(stored!.SentAt);
        Assert.Equal("HTTP 302", stored.LastError);
    }

    /// <summary>A real listener on 127.0.0.1 that answers its one request with a 302 to <c>location</c>.</summary>
    private sealed class Redirector : IDisposable
    {
        private readonly HttpListener _listener = new();

        public Redirector(string location)
        {
            var probe = new System.Net.Sockets.TcpListener(IPAddress.Loopback, 0);
            probe.Start();
            Url = $"http://127.0.0.1:{((IPEndPoint)probe.LocalEndpoint).Port}/hook/";
            probe.Stop();
            _listener.Prefixes.Add(Url);
            _listener.Start();
            Answered = Task.Run(async () =>
            {
                var context = await _listener.GetContextAsync();
                context.Response.StatusCode = 302;
                context.Response.RedirectLocation = location;
                context.Response.Close();
            });
        }

        public string Url { get; }
        public Task Answered { get; }

        public void Dispose() => _listener.Close();
    }
}
