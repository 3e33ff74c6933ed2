extern alias apphost;

using System.Net;
using System.Text;
using System.Text.Json.Nodes;
using apphost::LlmStack.AppHost.Monitoring;
using LlmStack.Tests.AppModel;
using LlmStack.Tests.Browser;
using Microsoft.Playwright;

namespace LlmStack.Tests.Containers;

/// <summary>
/// The generated compose project running on the real Docker engine with the <c>embedded</c> profile: what a user
/// gets after <c>docker compose --profile embedded up -d</c> on their host.
/// </summary>
[Collection(ContainerTests.Collection)]
public sealed class ComposeStackTests(ComposeStack stack) : IClassFixture<ComposeStack>
{
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(60);

    private static readonly HttpClient Http = new() { Timeout = Bound };

    private const string QueueDepth = "llmstack_requests_queued";

    private const string ChatRequest = """{"model":"llmstack-demo","messages":[{"role":"user","content":"Hello!"}]}""";

    [Fact]
    public async Task Api_container_answers_a_chat_completion()
    {
        Assert.SkipWhen(stack.UnavailableReason is not null, stack.UnavailableReason ?? "");

        using var response = await PostChatAsync(ChatRequest);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var completion = JsonNode.Parse(await response.Content.ReadAsStringAsync(TestContext.Current.CancellationToken))!;
        Assert.Equal("chat.completion", (string?)completion["object"]);
        // The built-in demo model, run by llama.cpp inside the container (libgomp present, non-root user).
        Assert.Contains("llmstack-demo", (string?)completion["choices"]![0]!["message"]!["content"]);
        Assert.True((int)completion["usage"]!["completion_tokens"]! > 0);
    }

    [Fact]
    public async Task Api_container_streams_a_chat_completion()
    {
        Assert.SkipWhen(stack.UnavailableReason is not null, stack.UnavailableReason ?? "");

        using var response = await PostChatAsync(ChatRequest.Replace("\"messages\"", "\"stream\":true,\"messages\"", StringComparison.Ordinal));

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("text/event-stream", response.Content.Headers.ContentType?.MediaType);
        var events = (await response.Content.ReadAsStringAsync(TestContext.Current.CancellationToken))
            .Split("\n\n", StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal("data: [DONE]", events[^1].Trim());
        var text = new StringBuilder();
        foreach (var data in events[..^1])
        {
            var chunk = JsonNode.Parse(data["data: ".Length..])!;
            Assert.Equal("chat.completion.chunk", (string?)chunk["object"]);
            text.Append((string?)chunk["choices"]?.AsArray().FirstOrDefault()?["delta"]?["content"]);
        }
        Assert.True(events.Length > 3, $"expected several chunks, got {events.Length} events");
        Assert.Contains("llmstack-demo", text.ToString());
    }

    [Fact]
    public async Task Web_container_serves_the_chat_page_and_answers_through_the_api()
    {
        Assert.SkipWhen(stack.UnavailableReason is not null, stack.UnavailableReason ?? "");
        Assert.SkipUnless(File.Exists(ChatUiStack.ChromiumPath), $"no Chromium at {ChatUiStack.ChromiumPath} (./test.sh installs it)");

        var cancellationToken = TestContext.Current.CancellationToken;
        using var playwright = await Playwright.CreateAsync().WaitAsync(Bound, cancellationToken);
        await using var browser = await playwright.Chromium.LaunchAsync(new()
        {
            ExecutablePath = ChatUiStack.ChromiumPath,
            Headless = true,
            Args = ChatUiStack.ChromiumArgs,
        }).WaitAsync(Bound, cancellationToken);
        var context = await browser.NewContextAsync();
        context.SetDefaultTimeout(30_000);
        await using var chat = new ChatPage(await context.NewPageAsync());
        var console = new List<string>();
        chat.Page.Console += (_, message) => console.Add($"{message.Type}: {message.Text}");

        try
        {
            var signIn = new SignInPage(chat.Page);
            await signIn.GotoAsync(stack.Web);
            await signIn.SubmitAsync("admin", stack.AdminPassword);
            await chat.Page.Locator(".chat-app[data-loaded=true]").WaitForAsync();
            await chat.SendAndWaitForReplyAsync("Hello from the compose test");
        }
        catch (TimeoutException e)
        {
            throw new TimeoutException($"{e.Message}{Environment.NewLine}Browser console:{Environment.NewLine}{string.Join(Environment.NewLine, console)}" +
                $"{Environment.NewLine}Web log:{Environment.NewLine}{await stack.ComposeAsync(Bound, "logs", "--no-color", "--tail", "40", "web")}", e);
        }

        // The reply came from the API container over the compose network ("http://api:8080").
        Assert.Contains("llmstack-demo", await chat.LastReplyMarkdownAsync());
    }

    [Fact]
    public async Task Prometheus_scrapes_the_api_and_the_web()
    {
        Assert.SkipWhen(stack.UnavailableReason is not null, stack.UnavailableReason ?? "");
        var cancellationToken = TestContext.Current.CancellationToken;

        // The first scrape happens within one scrape interval (15 s) of Prometheus starting.
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(90);
        Dictionary<string, string> targets;
        do
        {
            targets = await stack.ScrapeTargetsAsync(Http, cancellationToken);
            if (targets.Count == 2 && targets.Values.All(h => h == "up"))
            {
                break;
            }
            await Task.Delay(TimeSpan.FromSeconds(2), cancellationToken);
        }
        while (DateTime.UtcNow < deadline);

        Assert.Equal(new Dictionary<string, string> { ["api"] = "up", ["web"] = "up" }, targets);
    }

    [Fact]
    public async Task Every_metric_the_dashboard_reads_is_exported_by_the_api_container()
    {
        Assert.SkipWhen(stack.UnavailableReason is not null, stack.UnavailableReason ?? "");
        var cancellationToken = TestContext.Current.CancellationToken;
        // More requests at once than the embedded engine has slots, so that some wait in its queue.
        var streamed = ChatRequest.Replace("\"messages\"", "\"stream\":true,\"messages\"", StringComparison.Ordinal);
        foreach (var response in await Task.WhenAll(Enumerable.Range(0, 12).Select(i => PostChatAsync(i % 2 == 0 ? ChatRequest : streamed))))
        {
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            response.Dispose();
        }
        (await PostChatAsync(ChatRequest.Replace("llmstack-demo", "no-such-model", StringComparison.Ordinal))).Dispose();

        using var metrics = await Http.SendAsync(new HttpRequestMessage(HttpMethod.Get, new Uri(stack.Api, "metrics"))
        {
            Headers = { Authorization = new("Bearer", stack.ApiKey) },
        }, cancellationToken);
        var exported = await metrics.Content.ReadAsStringAsync(cancellationToken);
        var families = exported.Split('\n').Where(l => l.StartsWith("# TYPE ", StringComparison.Ordinal)).Select(l => l.Split(' ')[2]).ToHashSet();

        var read = GrafanaDashboard.Panels.SelectMany(p => p.Queries).SelectMany(q => ComposePublisherTests.MetricNames(q.Expression)).Distinct().ToList();
        Assert.NotEmpty(read);
        // The queue depth is an up-down counter: its series starts with the first request that waited for a slot,
        // which the fast demo model rarely makes happen. The README documents it (ComposePublisherTests checks).
        Assert.Contains(QueueDepth, read);
        Assert.All(read.Where(metric => metric != QueueDepth), metric => Assert.Contains(metric, families));
    }

    [Fact]
    public async Task Containers_run_confined_as_a_non_root_user_within_their_memory_limits()
    {
        Assert.SkipWhen(stack.UnavailableReason is not null, stack.UnavailableReason ?? "");

        foreach (var (service, user, limit) in new[] { ("api-embedded", "1654:1654", 6L << 30), ("web", "1654:1654", 512L << 20), ("prometheus", "65534:65534", 1L << 30) })
        {
            var inspected = await DockerEngine.CheckedAsync("docker",
                ["inspect", "--format", "{{.Config.User}}|{{.HostConfig.Memory}}|{{json .HostConfig.CapDrop}}|{{json .HostConfig.CapAdd}}|{{json .HostConfig.SecurityOpt}}|{{.HostConfig.ReadonlyRootfs}}|{{json .HostConfig.Tmpfs}}",
                 await stack.ContainerAsync(service)], Bound);
            var parts = inspected.Trim().Split('|');
            Assert.Equal(user, parts[0]);
            Assert.Equal(limit, long.Parse(parts[1], System.Globalization.CultureInfo.InvariantCulture));
            Assert.Equal("""["ALL"]""", parts[2]);
            Assert.Equal("null", parts[3]);
            Assert.Equal("""["no-new-privileges:true"]""", parts[4]);
            Assert.Equal("true", parts[5]);
            Assert.Equal("""{"/tmp":""}""", parts[6]);
        }
        // What the engine enforces, seen from inside: no capability in any set, and the root filesystem refuses writes.
        var status = await stack.ComposeAsync(Bound, "exec", "-T", "web", "sh", "-c", "grep -E '^(CapEff|CapBnd|NoNewPrivs)' /proc/self/status; touch /app/x 2>&1 || true");
        Assert.Contains("CapEff:\t0000000000000000", status, StringComparison.Ordinal);
        Assert.Contains("CapBnd:\t0000000000000000", status, StringComparison.Ordinal);
        Assert.Contains("NoNewPrivs:\t1", status, StringComparison.Ordinal);
        Assert.Contains("Read-only file system", status, StringComparison.Ordinal);
    }

    private Task<HttpResponseMessage> PostChatAsync(string body) => Http.SendAsync(new HttpRequestMessage(HttpMethod.Post, new Uri(stack.Api, "v1/chat/completions"))
    {
        Content = new StringContent(body, Encoding.UTF8, "application/json"),
        Headers = { Authorization = new("Bearer", stack.ApiKey) },
    }, TestContext.Current.CancellationToken);

    [Fact]
    public async Task Api_container_refuses_a_request_without_the_key_from_dot_env()
    {
        Assert.SkipWhen(stack.UnavailableReason is not null, stack.UnavailableReason ?? "");

        using var response = await Http.PostAsync(new Uri(stack.Api, "v1/chat/completions"),
            new StringContent(ChatRequest, Encoding.UTF8, "application/json"), TestContext.Current.CancellationToken);

        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
    }
}
