using System.Net;
using Microsoft.Extensions.DependencyInjection;
using UsageDashboard.Health;
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
        using var redirector = new HttpListener();
        var url = $"http://127.0.0.1:{FreePort()}/hook/";
        redirector.Prefixes.Add(url);
        redirector.Start();
        var answered = Task.Run(async () =>
        {
            var context = await redirector.GetContextAsync();
            context.Response.StatusCode = 302;
            context.Response.RedirectLocation = target.Url;
            context.Response.Close();
        });
        await using var app = new AppFactory(_db.ConnectionString);
        var client = app.Services.GetRequiredService<IHttpClientFactory>().CreateClient(WebhookSender.HttpClientName);

        using var response = await client.PostAsync(url, new StringContent("{}"));
        await answered;

        Assert.Equal(HttpStatusCode.Found, response.StatusCode);
        Assert.False(response.IsSuccessStatusCode);
        Assert.Empty(target.Requests);
    }

    private static int FreePort()
    {
        var l = new System.Net.Sockets.TcpListener(IPAddress.Loopback, 0);
        l.Start();
        var port = ((IPEndPoint)l.LocalEndpoint).Port;
        l.Stop();
        return port;
    }
}
