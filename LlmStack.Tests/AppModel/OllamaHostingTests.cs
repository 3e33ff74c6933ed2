extern alias apphost;

using Aspire.Hosting;
using Aspire.Hosting.ApplicationModel;
using apphost::LlmStack.AppHost.Hosting;
using apphost::LlmStack.AppHost.Ollama;

namespace LlmStack.Tests.AppModel;

/// <summary>Where the AppHost runs Ollama (Ollama:Mode) and what each choice adds to the app model.</summary>
public sealed class OllamaHostingTests
{
    private static readonly ContainerRuntimeAnswer NoRuntime = new(null, "docker: Cannot connect to the Docker daemon; podman: not installed");

    [Fact]
    public void Auto_picks_the_container_when_a_runtime_answers()
    {
        var (builder, model, console) = AddOllama([], runtime: new("docker", "docker 28.0.1"), ollamaOnPath: "/usr/bin/ollama");

        var ollama = Assert.IsType<OllamaResource>(model!.Resource.Parent);
        Assert.Equal("ollama", ollama.Name);
        Assert.Equal("llmstack-ollama-models", Assert.Single(ollama.Annotations.OfType<ContainerMountAnnotation>()).Source);
        Assert.Equal(ContainerLifetime.Persistent, Assert.Single(ollama.Annotations.OfType<ContainerLifetimeAnnotation>()).Lifetime);
        Assert.Equal(["ollama", "qwen2-5-7b"], builder.Resources.Select(r => r.Name));
        Assert.StartsWith("Ollama: container - auto found docker 28.0.1; docker.io/ollama/ollama:0.13.0 is present.", console);
    }

    [Fact]
    public void Auto_runs_ollama_serve_when_no_runtime_answers_but_ollama_is_installed()
    {
        var (_, model, console) = AddOllama([], runtime: NoRuntime, ollamaOnPath: "/usr/bin/ollama");

        var ollama = Assert.IsType<OllamaExecutableResource>(model!.Resource.Parent);
        Assert.Equal("/usr/bin/ollama", ollama.Command);
        Assert.StartsWith("Ollama: local - auto found no container runtime (docker: Cannot connect", console);
    }

    [Fact]
    public void Auto_adds_no_ollama_when_neither_a_runtime_nor_ollama_is_there()
    {
        var (builder, model, console) = AddOllama([], runtime: NoRuntime, ollamaOnPath: null);

        Assert.Null(model);
        Assert.Empty(builder.Resources);
        Assert.Contains("the API serves its built-in demo model", console);
    }

    [Fact]
    public void The_mode_line_says_the_api_runs_the_embedded_model_when_there_is_no_ollama()
    {
        var (_, model, console) = AddOllama(["--Embedded:Model=hf://Qwen/Qwen2.5-0.5B-Instruct-GGUF:Q4_K_M"], runtime: NoRuntime, ollamaOnPath: null);

        Assert.Null(model);
        Assert.StartsWith("Ollama: none - auto found no container runtime", console);
        Assert.Contains("and no 'ollama' on PATH; the API runs hf://Qwen/Qwen2.5-0.5B-Instruct-GGUF:Q4_K_M in-process (Embedded:Model", console);
        Assert.DoesNotContain("demo model", console);
    }

    [Fact]
    public void The_mode_line_says_the_embedded_model_waits_for_a_machine_without_ollama()
    {
        var (_, model, console) = AddOllama(["--Embedded:Model=hf://Qwen/Qwen2.5-0.5B-Instruct-GGUF:Q4_K_M"], runtime: NoRuntime, ollamaOnPath: "/usr/bin/ollama");

        Assert.NotNull(model);
        Assert.Contains("Embedded:Model (hf://Qwen/Qwen2.5-0.5B-Instruct-GGUF:Q4_K_M) runs in the API only when there is no Ollama (Ollama:Mode=none).", console);
    }

    [Fact]
    public void Auto_with_a_url_uses_that_server()
    {
        var (_, model, _) = AddOllama(["--Ollama:Url=http://gpu-box:11434"], runtime: new("docker", "docker 28.0.1"), ollamaOnPath: null);

        Assert.Equal(new Uri("http://gpu-box:11434"), Assert.IsType<ExternalOllamaResource>(model!.Resource.Parent).Uri);
    }

    [Fact]
    public void Explicit_modes_produce_their_resources()
    {
        static Type? ServerType(params string[] args) =>
            AddOllama(args, runtime: new("docker", "docker 28.0.1"), ollamaOnPath: "/usr/bin/ollama").Model?.Resource.Parent.GetType();

        Assert.Equal(typeof(OllamaResource), ServerType("--Ollama:Mode=container"));
        Assert.Equal(typeof(OllamaExecutableResource), ServerType("--Ollama:Mode=local"));
        Assert.Equal(typeof(ExternalOllamaResource), ServerType("--Ollama:Mode=external", "--Ollama:Url=http://gpu-box:11434"));
        Assert.Null(ServerType("--Ollama:Mode=None"));
    }

    [Fact]
    public void Explicit_none_asks_no_runtime()
    {
        var probes = new OllamaHostProbes(
            _ => throw new InvalidOperationException("asked a container runtime"),
            () => throw new InvalidOperationException("searched PATH"),
            (_, _) => throw new InvalidOperationException("asked for an image"));
        var builder = DistributedApplication.CreateBuilder(["--Ollama:Mode=none"]);

        Assert.Null(builder.AddOllamaForLlmStack(probes, TextWriter.Null));
    }

    [Fact]
    public void Model_and_gpu_are_configurable()
    {
        var (_, model, _) = AddOllama(
            ["--Ollama:Mode=container", "--Ollama:Model=llama3.2:3b", "--Ollama:Gpu=true"],
            runtime: new("docker", "docker 28.0.1"), ollamaOnPath: null);

        Assert.Equal("llama3.2:3b", model!.Resource.ModelName);
        Assert.Equal("llama3-2-3b", model.Resource.Name);
        Assert.NotEmpty(model.Resource.Parent.Annotations.OfType<ContainerRuntimeArgsCallbackAnnotation>());
    }

    [Fact]
    public void Only_podman_answering_makes_aspire_use_podman()
    {
        var (builder, _, _) = AddOllama([], runtime: new("podman", "podman 5.4.2"), ollamaOnPath: null);

        Assert.Equal("podman", builder.Configuration["ASPIRE_CONTAINER_RUNTIME"]);
    }

    [Fact]
    public void Publishing_always_models_the_container_even_without_a_runtime()
    {
        var (_, model, console) = AddOllama(
            ["--publisher", "manifest", "--output-path", "unused.json", "--Ollama:Mode=none"], runtime: NoRuntime, ollamaOnPath: null);

        Assert.IsType<OllamaResource>(model!.Resource.Parent);
        Assert.StartsWith("Ollama: container - publishing always models the Ollama container", console);
    }

    [Fact]
    public void The_choice_is_one_console_line_that_says_how_to_choose_otherwise()
    {
        var (_, _, console) = AddOllama([], runtime: NoRuntime, ollamaOnPath: null);

        var line = Assert.Single(console.Split(Environment.NewLine, StringSplitOptions.RemoveEmptyEntries));
        Assert.StartsWith("Ollama: none - ", line);
        Assert.Contains("Ollama:Mode=auto|container|local|external|none", line);
    }

    [Theory]
    [InlineData("--Ollama:Mode=docker", "Ollama:Mode 'docker' is not a mode; use one of auto|container|local|external|none.")]
    [InlineData("--Ollama:Mode=1", "Ollama:Mode '1' is not a mode")]
    [InlineData("--Ollama:Mode=auto,none", "Ollama:Mode 'auto,none' is not a mode")]
    [InlineData("--Ollama:Url=localhost:11434", "Ollama:Url 'localhost:11434' is not an absolute http(s) URL")]
    [InlineData("--Ollama:Url=gpu-box", "Ollama:Url 'gpu-box' is not an absolute http(s) URL")]
    [InlineData("--Ollama:Mode=external", "Ollama:Mode=external needs Ollama:Url")]
    [InlineData("--Ollama:Model=qwen 2.5", "Ollama:Model 'qwen 2.5' is not an Ollama model name")]
    [InlineData("--Ollama:Gpu=yes", "Ollama:Gpu 'yes' is not true or false.")]
    public void Bad_configuration_stops_the_apphost_naming_the_key(string argument, string expected)
    {
        var error = Assert.Throws<DistributedApplicationException>(() =>
            AddOllama([argument], runtime: new("docker", "docker 28.0.1"), ollamaOnPath: "/usr/bin/ollama"));

        Assert.Contains(expected, error.Message);
    }

    [Fact]
    public void A_url_with_a_mode_that_ignores_it_is_refused()
    {
        var error = Assert.Throws<DistributedApplicationException>(() =>
            AddOllama(["--Ollama:Mode=container", "--Ollama:Url=http://gpu-box:11434"], runtime: new("docker", "docker 28.0.1"), ollamaOnPath: null));

        Assert.Contains("Ollama:Url is set but Ollama:Mode is 'container'", error.Message);
    }

    [Fact]
    public void Container_mode_without_a_runtime_fails_instead_of_hanging()
    {
        var error = Assert.Throws<DistributedApplicationException>(() =>
            AddOllama(["--Ollama:Mode=container"], runtime: NoRuntime, ollamaOnPath: "/usr/bin/ollama"));

        Assert.Contains("Ollama:Mode=container, but no container runtime answered (docker: Cannot connect", error.Message);
    }

    [Fact]
    public void Local_mode_without_ollama_on_path_fails_naming_the_key()
    {
        var error = Assert.Throws<DistributedApplicationException>(() =>
            AddOllama(["--Ollama:Mode=local"], runtime: NoRuntime, ollamaOnPath: null));

        Assert.Contains("Ollama:Mode=local, but 'ollama' is not on PATH", error.Message);
    }

    [Fact]
    public void Auto_falls_back_when_the_runtime_cannot_get_the_image()
    {
        var (builder, model, console) = AddOllama([], runtime: new("docker", "docker 20.10.24"), ollamaOnPath: null, image: Unpullable);

        Assert.Null(model);
        Assert.Empty(builder.Resources);
        Assert.StartsWith(
            "Ollama: none - auto found docker 20.10.24, but docker cannot get docker.io/ollama/ollama:0.13.0: " +
            "Error response from daemon: Get \"https://registry-1.docker.io/v2/\": dial tcp: lookup registry-1.docker.io: no such host, " +
            "and no 'ollama' on PATH; the API serves its built-in demo model " +
            "(set Embedded:Model=hf://<owner>/<repo>:<quant> to run a real one in-process).", console);
    }

    [Fact]
    public void Auto_runs_ollama_serve_when_the_image_cannot_be_had_but_ollama_is_installed()
    {
        var (_, model, console) = AddOllama([], runtime: new("docker", "docker 20.10.24"), ollamaOnPath: "/usr/bin/ollama", image: Unpullable);

        Assert.IsType<OllamaExecutableResource>(model!.Resource.Parent);
        Assert.Contains("but docker cannot get docker.io/ollama/ollama:0.13.0", console);
    }

    [Fact]
    public void Explicit_container_whose_image_cannot_be_had_says_what_failed_and_what_to_do_and_shows_it_failed()
    {
        var (builder, model, console) = AddOllama(["--Ollama:Mode=container"], runtime: new("docker", "docker 20.10.24"), ollamaOnPath: null, image: Unpullable);

        Assert.Null(model);
        var line = Assert.Single(console.Split(Environment.NewLine, StringSplitOptions.RemoveEmptyEntries));
        Assert.StartsWith("Ollama: container failed - docker cannot get docker.io/ollama/ollama:0.13.0: Error response from daemon", line);
        Assert.Contains("To fix: docker pull docker.io/ollama/ollama:0.13.0 once a registry answers, set Ollama:Image/Ollama:ImageTag", line);
        Assert.EndsWith("Meanwhile the API serves its built-in demo model (set Embedded:Model=hf://<owner>/<repo>:<quant> to run a real one in-process).", line);

        // The dashboard shows the Ollama resource failed, with the same words.
        var failed = Assert.IsType<UnavailableOllamaResource>(Assert.Single(builder.Resources));
        Assert.Equal("ollama", failed.Name);
        var snapshot = Assert.Single(failed.Annotations.OfType<ResourceSnapshotAnnotation>()).InitialSnapshot;
        Assert.Equal(KnownResourceStates.FailedToStart, snapshot.State?.Text);
        Assert.Equal(line["Ollama: container failed - ".Length..], snapshot.Properties.Single(p => p.Name == "Failure").Value);
    }

    [Fact]
    public void Image_name_and_tag_are_configuration()
    {
        string? asked = null;
        var builder = DistributedApplication.CreateBuilder(
            ["--Ollama:Mode=container", "--Ollama:Image=registry.example.com:5000/team/ollama", "--Ollama:ImageTag=7.1"]);
        var model = builder.AddOllamaForLlmStack(new OllamaHostProbes(_ => new("docker", "docker 28.0.1"), () => null,
            (_, image) => { asked = image; return new(true, $"{image} is present"); }), TextWriter.Null);

        var image = Assert.Single(model!.Resource.Parent.Annotations.OfType<ContainerImageAnnotation>());
        Assert.Equal(("registry.example.com:5000", "team/ollama", "7.1"), (image.Registry, image.Image, image.Tag));
        Assert.Equal("registry.example.com:5000/team/ollama:7.1", asked);
    }

    [Theory]
    [InlineData("--Ollama:Image=Ollama With Spaces", "Ollama:Image 'Ollama With Spaces' is not an image name")]
    [InlineData("--Ollama:ImageTag=:bad", "Ollama:ImageTag ':bad' is not an image tag")]
    public void A_malformed_image_fails_naming_the_key(string argument, string message)
    {
        var error = Assert.Throws<DistributedApplicationException>(() =>
            AddOllama(["--Ollama:Mode=container", argument], runtime: new("docker", "docker 28.0.1"), ollamaOnPath: null));

        Assert.Contains(message, error.Message);
    }

    private static readonly ContainerImageAnswer Unpullable = new(false,
        "docker cannot get docker.io/ollama/ollama:0.13.0: Error response from daemon: Get \"https://registry-1.docker.io/v2/\": dial tcp: lookup registry-1.docker.io: no such host");

    private static (IDistributedApplicationBuilder Builder, IResourceBuilder<OllamaModelResource>? Model, string Console) AddOllama(
        string[] args, ContainerRuntimeAnswer runtime, string? ollamaOnPath, ContainerImageAnswer? image = null)
    {
        var builder = DistributedApplication.CreateBuilder(args);
        var console = new StringWriter();
        var model = builder.AddOllamaForLlmStack(
            new OllamaHostProbes(_ => runtime, () => ollamaOnPath, (_, reference) => image ?? new(true, $"{reference} is present")), console);
        return (builder, model, console.ToString());
    }
}
