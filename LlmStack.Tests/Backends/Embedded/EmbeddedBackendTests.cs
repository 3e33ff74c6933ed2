using LlmStack.Api.Backends;
using LlmStack.Api.Backends.Embedded;
using LlmStack.Api.Configuration;
using LlmStack.Api.Pipeline;
using LlmStack.Tests.Fixtures;
using Microsoft.Extensions.AI;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Logging.Abstractions;

namespace LlmStack.Tests.Backends.Embedded;

/// <summary>Configuration of the embedded backend and the built-in demo model.</summary>
public sealed class EmbeddedBackendTests(GeneratedModels models) : IDisposable
{
    private const string Key = "LlmStack:Models:0";

    private readonly EmbeddedBackend _backend = new(NullLoggerFactory.Instance);
    private readonly string _directory = Directory.CreateTempSubdirectory("llmstack-config-").FullName;

    [Fact]
    public void Missing_path_names_the_key()
    {
        var problems = _backend.Validate(Options(path: null), Key);

        Assert.Contains(problems, p => p.StartsWith("LlmStack:Models:0:Path is required", StringComparison.Ordinal));
    }

    [Fact]
    public void Missing_file_names_the_key_and_the_file()
    {
        var path = Path.Combine(_directory, "absent.gguf");

        var problem = Assert.Single(_backend.Validate(Options(path), Key));

        Assert.Contains("LlmStack:Models:0:Path", problem, StringComparison.Ordinal);
        Assert.Contains(path, problem, StringComparison.Ordinal);
    }

    [Fact]
    public void File_that_is_not_gguf_is_refused_by_its_magic()
    {
        var path = Path.Combine(_directory, "notes.gguf");
        File.WriteAllText(path, "just some text");

        var problem = Assert.Single(_backend.Validate(Options(path), Key));

        Assert.Contains($"'{path}' is not a GGUF file", problem, StringComparison.Ordinal);
    }

    [Fact]
    public void Out_of_range_tuning_names_each_key()
    {
        var options = Options(models.Scripted);
        options.Embedded.ContextSize = 8;
        options.Embedded.Threads = 0;
        options.Embedded.BatchSize = 0;
        options.Embedded.ParallelSlots = 0;
        options.Embedded.StepTokens = 1;
        options.Embedded.KvCacheSize = 10;
        options.Embedded.GpuLayers = -1;
        options.Embedded.HostCacheBytes = -1;
        options.Embedded.TargetTokenGap = TimeSpan.FromMilliseconds(-1);

        var problems = _backend.Validate(options, Key).ToList();

        Assert.Equal(9, problems.Count);
        foreach (var key in new[] { "ContextSize", "Threads", "BatchSize", "ParallelSlots", "StepTokens", "KvCacheSize", "GpuLayers", "HostCacheBytes", "TargetTokenGap" })
        {
            Assert.Contains(problems, p => p.StartsWith($"{Key}:Embedded:{key} ", StringComparison.Ordinal));
        }
    }

    [Theory]
    [InlineData(8, null)]
    [InlineData(16, 16)]
    public void Step_budget_must_leave_room_beyond_one_token_per_slot(int slots, int? stepTokens)
    {
        var options = Options(models.Scripted);
        options.Embedded.ParallelSlots = slots;
        options.Embedded.StepTokens = stepTokens ?? slots;

        var problem = Assert.Single(_backend.Validate(options, Key));

        Assert.StartsWith($"{Key}:Embedded:StepTokens {options.Embedded.StepTokens} must exceed ParallelSlots {slots}", problem, StringComparison.Ordinal);
    }

    [Fact]
    public void Kv_cache_smaller_than_one_context_is_refused()
    {
        var options = Options(models.Scripted);
        options.Embedded.ContextSize = 2048;
        options.Embedded.KvCacheSize = 1024;

        var problem = Assert.Single(_backend.Validate(options, Key));

        Assert.Equal($"{Key}:Embedded:KvCacheSize 1024 is less than ContextSize 2048: one request must fit the cache.", problem);
    }

    [Fact]
    public void Valid_entry_has_no_problems()
    {
        Assert.Empty(_backend.Validate(Options(models.Scripted), Key));
    }

    [Fact]
    public async Task Corrupt_gguf_fails_to_load_with_a_message_naming_the_file()
    {
        var path = Path.Combine(_directory, "truncated.gguf");
        File.WriteAllBytes(path, File.ReadAllBytes(models.Scripted)[..200]);

        var error = await Assert.ThrowsAsync<ModelLoadException>(() => _backend.CreateAsync(Options(path), TestContext.Current.CancellationToken));

        Assert.Contains(path, error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Served_model_is_ready_and_reports_its_context()
    {
        await using var served = await _backend.CreateAsync(Options(models.Scripted), TestContext.Current.CancellationToken);

        var ready = await served.CheckReadyAsync(TestContext.Current.CancellationToken);

        Assert.Equal(HealthStatus.Healthy, ready.Status);
        Assert.False(served.IsDemo);
        Assert.Equal(4096, served.ContextLength);
        Assert.Equal("embedded", served.Backend);
    }

    [Fact]
    public async Task Served_model_embeds_texts_as_distinct_unit_vectors_with_token_usage()
    {
        await using var served = await _backend.CreateAsync(Options(models.Random), TestContext.Current.CancellationToken);
        Assert.NotNull(served.EmbeddingGenerator);

        var embeddings = await served.EmbeddingGenerator.GenerateAsync(["hello world", "something else entirely", "hello world"],
            cancellationToken: TestContext.Current.CancellationToken).WaitAsync(TimeSpan.FromSeconds(20), TestContext.Current.CancellationToken);

        Assert.Equal(3, embeddings.Count);
        Assert.All(embeddings, e => Assert.Equal(64, e.Vector.Length));
        Assert.All(embeddings, e => Assert.Equal(1.0, Math.Sqrt(e.Vector.ToArray().Sum(v => (double)v * v)), 3));
        Assert.Equal(embeddings[0].Vector.ToArray(), embeddings[2].Vector.ToArray());
        Assert.NotEqual(embeddings[0].Vector.ToArray(), embeddings[1].Vector.ToArray());
        Assert.True(embeddings.Usage?.InputTokenCount > 3);
    }

    [Fact]
    public async Task Demo_model_is_generated_at_start_and_explains_how_to_connect_a_real_model()
    {
        var demo = new DemoModel(_backend, NullLogger<DemoModel>.Instance);

        await using var served = await demo.CreateDemoModelAsync(TestContext.Current.CancellationToken);
        var response = await served.ChatClient.GetResponseAsync("Hello?", cancellationToken: TestContext.Current.CancellationToken)
            .WaitAsync(TimeSpan.FromSeconds(20), TestContext.Current.CancellationToken);

        Assert.True(served.IsDemo);
        Assert.Equal(DemoModel.Id, served.Id);
        Assert.Equal(DemoModel.Reply, response.Text);
        Assert.Contains("Qwen2.5 7B", response.Text, StringComparison.Ordinal);
    }

    public void Dispose() => Directory.Delete(_directory, recursive: true);

    private static ModelOptions Options(string? path) => new() { Id = "test", Backend = EmbeddedBackend.BackendName, Path = path };
}
