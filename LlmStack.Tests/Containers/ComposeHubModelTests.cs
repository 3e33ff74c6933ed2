using System.Net;
using System.Net.Http.Headers;
using System.Net.NetworkInformation;
using System.Net.Sockets;
using System.Text;
using System.Text.Json.Nodes;
using LlmStack.Tests.Backends.Embedded.Hub;
using LlmStack.Tests.Fixtures;

namespace LlmStack.Tests.Containers;

/// <summary>
/// The compose <c>embedded</c> profile with <c>EMBEDDED_MODEL_SOURCE</c> on the real Docker engine: the API container
/// downloads the GGUF from a hub (a local one with the real layout, on the host, reached through the Docker bridge),
/// answers 503 <c>model_loading</c> with the progress meanwhile, chats with it once loaded, and keeps it in the
/// model-cache volume: a new container of the service finds it there and downloads nothing.
/// </summary>
[Collection(ContainerTests.Collection)]
public sealed class ComposeHubModelTests(GeneratedModels models)
{
    private const string Source = $"hf://{HubFixture.Repository}:Q8_0";
    private const string Model = $"{HubFixture.Repository}:Q8_0";
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(60);

    [Fact]
    public async Task Embedded_profile_downloads_the_source_into_its_volume_and_serves_it()
    {
        var unavailable = await DockerEngine.UnavailableReasonAsync();
        Assert.SkipWhen(unavailable is not null, unavailable ?? "");
        // Containers reach the host at its address on Docker's bridge (from any compose network: it is the host's own).
        var gateway = NetworkInterface.GetAllNetworkInterfaces().FirstOrDefault(n => n.Name == "docker0")?.GetIPProperties().UnicastAddresses
            .FirstOrDefault(a => a.Address.AddressFamily == AddressFamily.InterNetwork)?.Address.ToString();
        Assert.SkipWhen(gateway is null, "This host has no docker0 bridge (a remote or rootless engine): its containers cannot reach a hub served by the test.");
        await using var hub = await HubFixture.StartAsync(models, new IPEndPoint(IPAddress.Any, 0), publicHost: gateway);
        var size = new FileInfo(models.Scripted).Length;
        hub.Hub.HoldAt = size / 2;
        await using var stack = new ComposeStack(["api-embedded"], new Dictionary<string, string>
        {
            ["EMBEDDED_MODEL_SOURCE"] = Source,
            ["HF_ENDPOINT"] = hub.Hub.Endpoint.AbsoluteUri,
        }, waitUntilReady: false);
        await stack.InitializeAsync();
        using var http = new HttpClient { Timeout = Bound };
        http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", stack.ApiKey);

        // Held in the middle of the file: the API container answers, and says how far its download is.
        await hub.Hub.Holding.WaitAsync(Bound, Ct);
        using (var loading = await ChatAsync(http, stack))
        {
            Assert.Equal(HttpStatusCode.ServiceUnavailable, loading.StatusCode);
            var error = JsonNode.Parse(await loading.Content.ReadAsStringAsync(Ct))!["error"]!;
            Assert.Equal("model_loading", (string?)error["code"]);
            Assert.StartsWith($"The model '{Model}' is loading: downloading {HubFixture.ScriptedFile} from {Source}: {100 * (size / 2) / size}% of",
                (string?)error["message"], StringComparison.Ordinal);
        }

        hub.Hub.Release();
        await stack.WaitUntilApiReadyAsync();
        await AssertAnswersAsync(http, stack);
        Assert.Equal(1, hub.Hub.Downloads);

        // A new container of the service (an upgrade, a host reboot) finds the verified file in the volume.
        await stack.ComposeAsync(TimeSpan.FromMinutes(2), "rm", "--force", "--stop", "api-embedded");
        await stack.ComposeAsync(TimeSpan.FromMinutes(2), "up", "-d", "api-embedded");
        await stack.WaitUntilHealthyAsync();
        await stack.WaitUntilApiReadyAsync();
        await AssertAnswersAsync(http, stack);
        Assert.Equal(1, hub.Hub.Downloads);
        Assert.Equal(size, hub.Hub.BytesServed);
    }

    private static async Task AssertAnswersAsync(HttpClient http, ComposeStack stack)
    {
        using var reply = await ChatAsync(http, stack);
        var body = await reply.Content.ReadAsStringAsync(Ct);
        Assert.True(reply.StatusCode == HttpStatusCode.OK, body);
        Assert.Equal(GeneratedModels.ScriptedReply, (string?)JsonNode.Parse(body)!["choices"]![0]!["message"]!["content"]);
    }

    private static Task<HttpResponseMessage> ChatAsync(HttpClient http, ComposeStack stack) =>
        http.PostAsync(new Uri(stack.Api, "v1/chat/completions"), new StringContent(
            $$"""{"model":"{{Model}}","messages":[{"role":"user","content":"Hello?"}]}""", Encoding.UTF8, "application/json"), Ct);

    private static CancellationToken Ct => TestContext.Current.CancellationToken;
}
