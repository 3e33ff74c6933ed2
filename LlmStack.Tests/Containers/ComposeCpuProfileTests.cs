using System.Net;
using System.Text;
using System.Text.Json.Nodes;
using LlmStack.Tests.Fixtures;

namespace LlmStack.Tests.Containers;

/// <summary>
/// The <c>cpu</c> profile - <c>.env.example</c>'s default - brought up for real: Ollama (its stand-in) healthy by its own
/// CLI, the pull job bringing the model into it and exiting 0, the API's ollama backend answering chats through it;
/// and every container of the stack confined as its compose service says.
/// </summary>
[Collection(ProxiedCpuStackTests.Collection)]
public sealed class ComposeCpuProfileTests(ProxiedCpuStack proxied)
{
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(60);

    private static readonly HttpClient Http = new() { Timeout = Bound };

    private static CancellationToken Cancel => TestContext.Current.CancellationToken;

    private ComposeStack Stack => proxied.Stack;

    [Fact]
    public async Task The_pull_job_brings_the_model_into_ollama_and_the_api_chats_through_it()
    {
        Assert.SkipWhen(proxied.UnavailableReason is not null, proxied.UnavailableReason ?? "");

        // The job ran Ollama's CLI against the server on the compose network (the stack started only once it exited 0).
        var pull = await Stack.ComposeAsync(Bound, "logs", "--no-color", "ollama-pull");
        Assert.Contains("success", pull, StringComparison.Ordinal);
        var list = await Stack.ComposeAsync(Bound, "exec", "-T", "ollama", "ollama", "list");
        Assert.Contains(ProxiedCpuStack.Model, list, StringComparison.Ordinal);

        using var models = await SendAsync(HttpMethod.Get, "v1/models", body: null);
        Assert.Equal(HttpStatusCode.OK, models.StatusCode);
        var ids = JsonNode.Parse(await models.Content.ReadAsStringAsync(Cancel))!["data"]!.AsArray().Select(m => (string?)m!["id"]).ToList();
        Assert.Contains(ProxiedCpuStack.Model, ids);

        using var chat = await SendAsync(HttpMethod.Post, "v1/chat/completions",
            $$"""{"model":"{{ProxiedCpuStack.Model}}","messages":[{"role":"user","content":"Hello, cpu profile"}]}""");
        var text = await chat.Content.ReadAsStringAsync(Cancel);
        Assert.True(chat.StatusCode == HttpStatusCode.OK, text);
        var completion = JsonNode.Parse(text)!;
        Assert.Equal(string.Concat(OllamaTestServer.ReplyTokens), (string?)completion["choices"]![0]!["message"]!["content"]);
        Assert.Equal(ProxiedCpuStack.Model, (string?)completion["model"]);

        // Keyed readiness names the backend it checked: the Ollama service on the compose network.
        using var ready = await SendAsync(HttpMethod.Get, "readyz", body: null);
        var readiness = await ready.Content.ReadAsStringAsync(Cancel);
        Assert.True(ready.StatusCode == HttpStatusCode.OK, readiness);
        Assert.Contains("ollama:11434", readiness, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Every_container_runs_with_no_new_privileges_and_only_the_capabilities_and_root_its_service_declares()
    {
        Assert.SkipWhen(proxied.UnavailableReason is not null, proxied.UnavailableReason ?? "");

        var services = Stack.Compose.Services.Keys.Cast<string>().ToHashSet();
        var containers = (await Stack.ComposeAsync(Bound, "ps", "-a", "-q")).Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        Assert.Equal(6, containers.Length);
        var seen = new List<string>();
        foreach (var container in containers)
        {
            var parts = (await DockerEngine.CheckedAsync("docker",
                ["inspect", "--format",
                 "{{index .Config.Labels \"com.docker.compose.service\"}}|{{.Config.User}}|{{json .HostConfig.CapDrop}}|{{json .HostConfig.CapAdd}}|{{json .HostConfig.SecurityOpt}}|{{.HostConfig.ReadonlyRootfs}}|{{.HostConfig.IpcMode}}|{{.HostConfig.Privileged}}",
                 container], Bound)).Trim().Split('|');
            var service = parts[0];
            Assert.Contains(service, services);
            seen.Add(service);
            var declared = Stack.Compose.Service(service);

            Assert.Equal(declared.TryGetValue("user", out var user) ? (string)user : "", parts[1]);
            Assert.Equal("""["ALL"]""", parts[2]);
            var added = PublishedCompose.Strings(declared, "cap_add");
            Assert.Equal(added.Count == 0 ? "null" : $"[{string.Join(',', added.Select(c => $"\"{c}\""))}]", parts[3]);
            Assert.Equal("""["no-new-privileges:true"]""", parts[4]);
            Assert.Equal(declared.TryGetValue("read_only", out var readOnly) && (string)readOnly == "true" ? "true" : "false", parts[5]);
            Assert.NotEqual("host", parts[6]);
            Assert.Equal("false", parts[7]);
        }
        Assert.Equal(["api-cpu", "ollama", "ollama-pull", "prometheus", "proxy", "web"], seen.Order());

        // What the engine enforces on the one that keeps a capability: that one only, and no gaining more.
        var status = await Stack.ComposeAsync(Bound, "exec", "-T", "proxy", "grep", "-E", "^(CapEff|NoNewPrivs)", "/proc/1/status");
        Assert.Contains("CapEff:\t0000000000000400", status, StringComparison.Ordinal);
        Assert.Contains("NoNewPrivs:\t1", status, StringComparison.Ordinal);
    }

    private Task<HttpResponseMessage> SendAsync(HttpMethod method, string path, string? body) => Http.SendAsync(new HttpRequestMessage(method, new Uri(Stack.Api, path))
    {
        Content = body is null ? null : new StringContent(body, Encoding.UTF8, "application/json"),
        Headers = { Authorization = new("Bearer", Stack.ApiKey) },
    }, Cancel);
}
