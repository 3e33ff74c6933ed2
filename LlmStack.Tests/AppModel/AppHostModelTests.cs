extern alias apphost;

using Aspire.Hosting;
using Aspire.Hosting.ApplicationModel;
using Aspire.Hosting.Testing;
using apphost::LlmStack.AppHost.Embedded;
using apphost::LlmStack.AppHost.Ollama;

namespace LlmStack.Tests.AppModel;

/// <summary>AppHost.cs's wiring, read from the app model it builds (nothing is started).</summary>
public sealed class AppHostModelTests
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(30);

    [Fact]
    public async Task Api_gets_the_ollama_model_through_its_configuration_contract()
    {
        await using var builder = await CreateAsync("--Ollama:Mode=external", "--Ollama:Url=http://gpu-box:11434", "--Ollama:Model=qwen2.5:7b");
        var api = Project(builder, "api");

        var env = await ResourceConfiguration.PublishedEnvironmentAsync(api);

        Assert.Equal("qwen2.5:7b", env["LlmStack__Models__0__Id"]);
        Assert.Equal("ollama", env["LlmStack__Models__0__Backend"]);
        Assert.Equal("http://gpu-box:11434", env["LlmStack__Models__0__Endpoint"]);
        Assert.DoesNotContain("LlmStack__Models__1__Id", env.Keys);
    }

    [Fact]
    public async Task Nothing_waits_for_the_model_download_and_web_waits_only_for_the_api()
    {
        await using var builder = await CreateAsync("--Ollama:Mode=external", "--Ollama:Url=http://gpu-box:11434");
        var api = Project(builder, "api");
        var web = Project(builder, "web");

        // The API still knows the model (its configuration and the dashboard's relationship) but starts at once.
        Assert.Empty(api.Annotations.OfType<WaitAnnotation>());
        Assert.Contains(api.Annotations.OfType<ResourceRelationshipAnnotation>(), r => r.Resource is OllamaModelResource);
        var wait = Assert.Single(web.Annotations.OfType<WaitAnnotation>());
        Assert.Same(api, wait.Resource);
        Assert.Equal(WaitType.WaitUntilHealthy, wait.WaitType);
    }

    [Fact]
    public async Task The_api_counts_as_healthy_once_it_answers_not_once_its_model_is_ready()
    {
        await using var builder = await CreateAsync("--Ollama:Mode=external", "--Ollama:Url=http://gpu-box:11434");

        // What waits for the API (the Web) waits for /healthz; /readyz stays 503 for as long as the download lasts.
        var check = Assert.Single(Project(builder, "api").Annotations.OfType<HealthCheckAnnotation>());
        Assert.Contains("/healthz", check.Key, StringComparison.Ordinal);
        Assert.DoesNotContain("/readyz", check.Key, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Web_links_to_the_model_download_in_the_dashboard()
    {
        await using var builder = await CreateAsync(
            "--Ollama:Mode=external", "--Ollama:Url=http://gpu-box:11434", "--Ollama:Model=qwen2.5:7b", "--ASPNETCORE_URLS=http://localhost:15080");

        var env = await ResourceConfiguration.PublishedEnvironmentAsync(Project(builder, "web"));

        Assert.Equal("http://localhost:15080/consolelogs/resource/qwen2-5-7b", env["ModelDownload__DashboardUrl"]);
    }

    [Fact]
    public async Task Without_ollama_the_api_gets_no_models_and_serves_its_demo_model()
    {
        await using var builder = await CreateAsync("--Ollama:Mode=none");
        var api = Project(builder, "api");

        var env = await ResourceConfiguration.PublishedEnvironmentAsync(api);

        Assert.DoesNotContain(env.Keys, k => k.StartsWith("LlmStack__Models", StringComparison.Ordinal));
        Assert.Empty(builder.Resources.OfType<IOllamaResource>());
        Assert.Empty(builder.Resources.OfType<OllamaModelResource>());
    }

    [Fact]
    public async Task Embedded_LlamaCppLibraries_is_handed_to_the_api_as_an_absolute_folder_and_nothing_when_unset()
    {
        await using var set = await CreateAsync("--Ollama:Mode=none", "--Embedded:LlamaCppLibraries=llama.cpp/native");
        await using var unset = await CreateAsync("--Ollama:Mode=none");

        var env = await ResourceConfiguration.PublishedEnvironmentAsync(Project(set, "api"));
        var without = await ResourceConfiguration.PublishedEnvironmentAsync(Project(unset, "api"));

        Assert.Equal(Path.GetFullPath("llama.cpp/native"), env["LlmStack__LlamaCppLibraries"]);
        Assert.DoesNotContain("LlmStack__LlamaCppLibraries", without.Keys);
    }

    [Fact]
    public async Task Without_ollama_the_api_runs_the_embedded_model_from_the_hub_shown_as_its_child()
    {
        await using var builder = await CreateAsync("--Ollama:Mode=none", "--Embedded:Model=hf://Qwen/Qwen2.5-0.5B-Instruct-GGUF:Q4_K_M@v1",
            "--HF_ENDPOINT=https://hf-mirror.example.com", "--HF_TOKEN=hf_secret", "--ASPNETCORE_URLS=http://localhost:15080");
        var api = Project(builder, "api");

        var env = await ResourceConfiguration.PublishedEnvironmentAsync(api);
        var web = await ResourceConfiguration.PublishedEnvironmentAsync(Project(builder, "web"));

        Assert.Equal("Qwen/Qwen2.5-0.5B-Instruct-GGUF:Q4_K_M", env["LlmStack__Models__0__Id"]);
        Assert.Equal("embedded", env["LlmStack__Models__0__Backend"]);
        Assert.Equal("hf://Qwen/Qwen2.5-0.5B-Instruct-GGUF:Q4_K_M@v1", env["LlmStack__Models__0__Source"]);
        Assert.Equal("https://hf-mirror.example.com", env["HF_ENDPOINT"]);
        // The token is a secret parameter, never a plain value in the app model.
        Assert.Equal("{hf-token.value}", env["HF_TOKEN"]);
        Assert.True(Assert.Single(builder.Resources.OfType<ParameterResource>(), p => p.Name == "hf-token").Secret);
        var model = Assert.Single(builder.Resources.OfType<EmbeddedModelResource>());
        Assert.Equal("qwen2-5-0-5b-instruct-gguf-q4-k-m", model.Name);
        Assert.Same(api, model.Parent);
        Assert.Single(model.Annotations.OfType<HealthCheckAnnotation>());
        Assert.Equal("http://localhost:15080/consolelogs/resource/qwen2-5-0-5b-instruct-gguf-q4-k-m", web["ModelDownload__DashboardUrl"]);
        // Nothing waits for the download.
        Assert.Empty(api.Annotations.OfType<WaitAnnotation>());
    }

    [Fact]
    public async Task With_ollama_the_embedded_model_is_not_served()
    {
        await using var builder = await CreateAsync("--Ollama:Mode=external", "--Ollama:Url=http://gpu-box:11434", "--Embedded:Model=hf://Qwen/Qwen2.5-0.5B-Instruct-GGUF:Q4_K_M");

        var env = await ResourceConfiguration.PublishedEnvironmentAsync(Project(builder, "api"));

        Assert.Equal("ollama", env["LlmStack__Models__0__Backend"]);
        Assert.DoesNotContain("LlmStack__Models__0__Source", env.Keys);
        Assert.Empty(builder.Resources.OfType<EmbeddedModelResource>());
    }

    [Theory]
    [InlineData("qwen2.5:7b")]
    [InlineData("https://huggingface.co/Qwen/Qwen2.5-0.5B-Instruct-GGUF")]
    [InlineData("hf://Qwen")]
    public async Task An_embedded_model_that_is_no_hub_source_stops_the_apphost_naming_the_key(string value)
    {
        var error = await Assert.ThrowsAsync<DistributedApplicationException>(
            () => CreateAsync("--Ollama:Mode=none", $"--Embedded:Model={value}").AsTask().WaitAsync(Timeout, TestContext.Current.CancellationToken));

        Assert.Contains($"Embedded:Model '{value}' is not a Hugging Face source: use hf://<owner>/<repo>:<quant>", error.Message);
    }

    [Fact]
    public async Task Api_and_web_have_http_health_checks()
    {
        await using var builder = await CreateAsync("--Ollama:Mode=none");

        Assert.Single(Project(builder, "api").Annotations.OfType<HealthCheckAnnotation>());
        Assert.Single(Project(builder, "web").Annotations.OfType<HealthCheckAnnotation>());
    }

    [Fact]
    public async Task The_api_accepts_and_the_web_sends_one_secret_api_key()
    {
        await using var builder = await CreateAsync("--Ollama:Mode=none");

        var key = Assert.Single(builder.Resources.OfType<ParameterResource>(), p => p.Name == "llmstack-api-key");
        var api = await ResourceConfiguration.PublishedEnvironmentAsync(Project(builder, "api"));
        var web = await ResourceConfiguration.PublishedEnvironmentAsync(Project(builder, "web"));

        Assert.True(key.Secret);
        Assert.Equal("{llmstack-api-key.value}", api["LlmStack__Auth__Keys__0__Key"]);
        Assert.Equal("stack", api["LlmStack__Auth__Keys__0__Name"]);
        Assert.Equal("{llmstack-api-key.value}", web["LlmStack__ApiKey"]);
    }

    [Fact]
    public async Task The_web_administrator_signs_in_with_a_generated_secret_password()
    {
        await using var builder = await CreateAsync("--Ollama:Mode=none");

        var password = Assert.Single(builder.Resources.OfType<ParameterResource>(), p => p.Name == "llmstack-web-admin-password");
        var web = await ResourceConfiguration.PublishedEnvironmentAsync(Project(builder, "web"));
        var api = await ResourceConfiguration.PublishedEnvironmentAsync(Project(builder, "api"));

        Assert.True(password.Secret);
        Assert.Equal("{llmstack-web-admin-password.value}", web["LlmStack__Accounts__AdminPassword"]);
        // Only the Web knows it.
        Assert.DoesNotContain(api.Values, value => value.Contains("llmstack-web-admin-password", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Web_keeps_its_own_data_directory_unless_one_is_configured()
    {
        var chosen = Path.Combine(Path.GetTempPath(), "llmstack-chosen-web-data");
        await using var developer = await CreateAsync("--Ollama:Mode=none");
        await using var configured = await CreateAsync("--Ollama:Mode=none", $"--Web:DataDirectory={chosen}");

        var byDefault = await ResourceConfiguration.PublishedEnvironmentAsync(Project(developer, "web"));
        var given = await ResourceConfiguration.PublishedEnvironmentAsync(Project(configured, "web"));

        // A developer's AppHost leaves it to the Web (LlmStack.Web/data); a second AppHost names one of its own.
        Assert.DoesNotContain("LlmStack__DataDirectory", byDefault.Keys);
        Assert.Equal(chosen, given["LlmStack__DataDirectory"]);
    }

    [Fact]
    public async Task Web_finds_the_api_through_service_discovery()
    {
        await using var builder = await CreateAsync("--Ollama:Mode=none");

        var env = await ResourceConfiguration.PublishedEnvironmentAsync(Project(builder, "web"));

        // One entry only: a second one (say, a fixed URL from a launch profile) would get half the requests.
        Assert.Equal("{api.bindings.http.url}", env["services__api__http__0"]);
        Assert.DoesNotContain("services__api__http__1", env.Keys);
    }

    [Fact]
    public async Task Bad_configuration_stops_the_apphost_with_a_message_naming_the_key()
    {
        var error = await Assert.ThrowsAsync<DistributedApplicationException>(
            () => CreateAsync("--Ollama:Mode=banana").AsTask().WaitAsync(Timeout, TestContext.Current.CancellationToken));

        Assert.Contains("Ollama:Mode 'banana' is not a mode", error.Message);
    }

    private static ValueTask<IDistributedApplicationTestingBuilder> CreateAsync(params string[] args) =>
        new(DistributedApplicationTestingBuilder.CreateAsync<apphost::Projects.LlmStack_AppHost>(args, TestContext.Current.CancellationToken));

    private static ProjectResource Project(IDistributedApplicationTestingBuilder builder, string name) =>
        builder.Resources.OfType<ProjectResource>().Single(p => p.Name == name);
}
