extern alias apphost;

using Aspire.Hosting;
using Aspire.Hosting.ApplicationModel;
using apphost::LlmStack.AppHost.Ollama;

namespace LlmStack.Tests.AppModel;

/// <summary>The Ollama hosting integration's app model, checked without a container runtime.</summary>
public sealed class OllamaResourceTests
{
    [Fact]
    public void Container_uses_the_pinned_ollama_image()
    {
        var builder = DistributedApplication.CreateBuilder();

        var ollama = builder.AddOllama("ollama");

        var image = Assert.Single(ollama.Resource.Annotations.OfType<ContainerImageAnnotation>());
        Assert.Equal("ollama/ollama", image.Image);
        Assert.Equal("docker.io", image.Registry);
        Assert.Matches(@"^\d+\.\d+\.\d+$", image.Tag);
    }

    [Fact]
    public void Container_serves_http_on_port_11434_with_a_health_check()
    {
        var builder = DistributedApplication.CreateBuilder();

        var ollama = builder.AddOllama("ollama", port: 21434);

        var endpoint = Assert.Single(ollama.Resource.Annotations.OfType<EndpointAnnotation>());
        Assert.Equal("http", endpoint.Name);
        Assert.Equal("http", endpoint.UriScheme);
        Assert.Equal(11434, endpoint.TargetPort);
        Assert.Equal(21434, endpoint.Port);
        Assert.Single(ollama.Resource.Annotations.OfType<HealthCheckAnnotation>());
        Assert.Equal("{ollama.bindings.http.url}", ollama.Resource.UriExpression.ValueExpression);
    }

    [Fact]
    public void Data_volume_holds_the_model_store()
    {
        var builder = DistributedApplication.CreateBuilder();

        var ollama = builder.AddOllama("ollama").WithDataVolume();

        var mount = Assert.Single(ollama.Resource.Annotations.OfType<ContainerMountAnnotation>());
        Assert.Equal(ContainerMountType.Volume, mount.Type);
        Assert.Equal("/root/.ollama", mount.Target);
        Assert.EndsWith("-ollama-data", mount.Source);
        Assert.False(mount.IsReadOnly);
    }

    [Fact]
    public void Named_data_volume_keeps_its_name()
    {
        var builder = DistributedApplication.CreateBuilder();

        var ollama = builder.AddOllama("ollama").WithDataVolume("models");

        Assert.Equal("models", Assert.Single(ollama.Resource.Annotations.OfType<ContainerMountAnnotation>()).Source);
    }

    [Fact]
    public async Task Gpu_support_passes_all_gpus_to_docker()
    {
        var builder = DistributedApplication.CreateBuilder();

        var ollama = builder.AddOllama("ollama").WithGpuSupport();

        Assert.Equal(["--gpus", "all"], await RuntimeArgsAsync(ollama.Resource));
    }

    [Fact]
    public async Task Gpu_support_uses_the_cdi_device_on_podman()
    {
        var builder = DistributedApplication.CreateBuilder(["--ASPIRE_CONTAINER_RUNTIME=podman"]);

        var ollama = builder.AddOllama("ollama").WithGpuSupport();

        Assert.Equal(["--device", "nvidia.com/gpu=all"], await RuntimeArgsAsync(ollama.Resource));
    }

    [Fact]
    public async Task Container_without_gpu_support_gets_no_runtime_arguments()
    {
        var builder = DistributedApplication.CreateBuilder();

        var ollama = builder.AddOllama("ollama");

        Assert.Empty(await RuntimeArgsAsync(ollama.Resource));
    }

    [Fact]
    public async Task Local_server_runs_ollama_serve_on_the_port_aspire_allocates()
    {
        var builder = DistributedApplication.CreateBuilder();

        var ollama = builder.AddOllamaLocal("ollama", "/opt/ollama/bin/ollama");

        Assert.Equal("/opt/ollama/bin/ollama", ollama.Resource.Command);
        Assert.Equal(["serve"], await ResourceConfiguration.PublishedArgumentsAsync(ollama.Resource));
        var env = await ResourceConfiguration.PublishedEnvironmentAsync(ollama.Resource);
        Assert.Equal("localhost:{ollama.bindings.http.targetPort}", env["OLLAMA_HOST"]);
        var endpoint = Assert.Single(ollama.Resource.Annotations.OfType<EndpointAnnotation>());
        Assert.Equal("http", endpoint.Name);
        Assert.Null(endpoint.TargetPort);
        Assert.Single(ollama.Resource.Annotations.OfType<HealthCheckAnnotation>());
    }

    [Fact]
    public void External_server_shows_its_url_and_has_a_health_check()
    {
        var builder = DistributedApplication.CreateBuilder();

        var ollama = builder.AddExternalOllama("ollama", new Uri("http://gpu-box:11434/"));

        Assert.Equal("http://gpu-box:11434", ollama.Resource.UriExpression.ValueExpression);
        Assert.Single(ollama.Resource.Annotations.OfType<HealthCheckAnnotation>());
        Assert.Contains(ollama.Resource.Annotations.OfType<ResourceUrlAnnotation>(), u => u.Url == "http://gpu-box:11434/");
    }

    [Fact]
    public void Model_is_a_child_of_its_server_named_after_the_model()
    {
        var builder = DistributedApplication.CreateBuilder();
        var ollama = builder.AddOllama("ollama");

        var model = ollama.AddModel("qwen2.5:7b");

        Assert.Equal("qwen2-5-7b", model.Resource.Name);
        Assert.Equal("qwen2.5:7b", model.Resource.ModelName);
        Assert.Same(ollama.Resource, model.Resource.Parent);
        Assert.Contains(model.Resource, builder.Resources);
    }

    [Fact]
    public void Model_health_check_is_its_own_and_it_stays_out_of_the_manifest()
    {
        var builder = DistributedApplication.CreateBuilder();
        var ollama = builder.AddOllama("ollama");

        var model = ollama.AddModel("qwen2.5:7b");

        var check = Assert.Single(model.Resource.Annotations.OfType<HealthCheckAnnotation>());
        Assert.DoesNotContain(ollama.Resource.Annotations.OfType<HealthCheckAnnotation>(), c => c.Key == check.Key);
        Assert.Contains(ManifestPublishingCallbackAnnotation.Ignore, model.Resource.Annotations);
    }

    [Fact]
    public void Model_and_server_offer_dashboard_commands()
    {
        var builder = DistributedApplication.CreateBuilder();
        var ollama = builder.AddOllama("ollama");

        var model = ollama.AddModel("qwen2.5:7b");

        Assert.Contains(ollama.Resource.Annotations.OfType<ResourceCommandAnnotation>(), c => c.Name == "list-models");
        Assert.Contains(model.Resource.Annotations.OfType<ResourceCommandAnnotation>(), c => c.Name == "pull-model");
    }

    [Theory]
    [InlineData("qwen2.5:7b", "qwen2-5-7b")]
    [InlineData("hf.co/Qwen/Qwen2.5-7B-Instruct-GGUF:Q4_K_M", "hf-co-qwen-qwen2-5-7b-instruct-gguf-q4-k-m")]
    [InlineData("7b-model", "model-7b-model")]
    public void Model_resource_names_are_valid_aspire_names(string modelName, string expected)
    {
        Assert.Equal(expected, OllamaModelResourceBuilderExtensions.ResourceNameFor(modelName));
    }

    [Fact]
    public void Builders_reject_missing_arguments()
    {
        var builder = DistributedApplication.CreateBuilder();
        var ollama = builder.AddOllama("ollama");

        Assert.Throws<ArgumentNullException>(() => ((IDistributedApplicationBuilder)null!).AddOllama("ollama"));
        Assert.Throws<ArgumentException>(() => builder.AddOllama(name: string.Empty));
        Assert.Throws<ArgumentException>(() => builder.AddOllamaLocal("local", command: ""));
        Assert.Throws<ArgumentException>(() => ollama.AddModel(""));
        Assert.Throws<ArgumentException>(() => ollama.AddModel("m", " "));
        Assert.Throws<ArgumentException>(() => builder.AddExternalOllama("far", new Uri("ftp://gpu-box/")));
        Assert.Throws<ArgumentNullException>(() => ((IResourceBuilder<OllamaResource>)null!).WithGpuSupport());
    }

    private static async Task<List<object>> RuntimeArgsAsync(ContainerResource resource)
    {
        var args = new List<object>();
        foreach (var annotation in resource.Annotations.OfType<ContainerRuntimeArgsCallbackAnnotation>())
        {
            await annotation.Callback(new ContainerRuntimeArgsCallbackContext(args, TestContext.Current.CancellationToken));
        }
        return args;
    }
}
