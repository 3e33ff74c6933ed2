using System.Text;
using LLama;
using LLama.Common;
using LLama.Sampling;
using LlmStack.Gguf;
using LlmStack.Tests.Fixtures;

namespace LlmStack.Tests.Backends.Embedded;

/// <summary>The GGUF builders, checked against LLamaSharp directly (no LlmStack code in between).</summary>
public sealed class GeneratedModelTests(GeneratedModels models)
{
    [Theory]
    [InlineData(ModelShape.Qwen2)]
    [InlineData(ModelShape.Llama)]
    public async Task Scripted_model_greedily_replies_its_script_then_ends(string architecture)
    {
        var path = architecture == ModelShape.Qwen2 ? models.Scripted : models.ScriptedLlama;

        var reply = await GenerateAsync(path, "What is LlmStack?", new GreedySamplingPipeline(), maxTokens: 100);

        Assert.Equal(GeneratedModels.ScriptedReply, reply);
    }

    [Fact]
    public async Task Scripted_model_carries_its_metadata_and_chatml_template()
    {
        using var weights = await LLamaWeights.LoadFromFileAsync(new ModelParams(models.Scripted), TestContext.Current.CancellationToken);

        Assert.Equal(ByteLevelBpeVocabulary.ChatMLTemplate, weights.Metadata["tokenizer.chat_template"]);
        Assert.Equal("qwen2", weights.Metadata["general.architecture"]);
        Assert.Equal("llmstack-scripted", weights.Metadata["general.name"]);
        Assert.Equal(weights.Vocab.EOT, weights.Vocab.EOS);
        Assert.False(weights.Vocab.ShouldAddBOS);
    }

    [Fact]
    public async Task Scripted_model_keeps_its_script_at_high_temperature()
    {
        var sampling = new DefaultSamplingPipeline { Temperature = 1.5f, TopP = 1f, MinP = 0f, Seed = 1234 };

        var reply = await GenerateAsync(models.Hostile, "Anything at all", sampling, maxTokens: 200);

        Assert.Equal(GeneratedModels.HostileReply, reply);
    }

    [Fact]
    public async Task Looping_model_starts_again_instead_of_ending()
    {
        var pieces = ScriptedModel.Pieces(GeneratedModels.LoopingReply).Count;

        var reply = await GenerateAsync(models.Looping, "Go on", new GreedySamplingPipeline(), maxTokens: pieces * 2 + 1);

        var twice = GeneratedModels.LoopingReply + GeneratedModels.LoopingReply;
        Assert.Equal(twice + ScriptedModel.Pieces(GeneratedModels.LoopingReply)[0], reply);
    }

    [Theory]
    [InlineData(GgmlType.F32)]
    [InlineData(GgmlType.F16)]
    [InlineData(GgmlType.Q8_0)]
    public async Task Random_model_without_end_of_turn_runs_to_the_token_limit(GgmlType matrixType)
    {
        var path = Path.Combine(Path.GetTempPath(), $"llmstack-random-{Guid.NewGuid():N}.gguf");
        try
        {
            RandomModel.Write(path, new RandomModelSpec { MatrixType = matrixType, SuppressEndOfTurn = true, Shape = ModelShape.Tiny(architecture: ModelShape.Llama) });
            var parameters = new ModelParams(path) { ContextSize = 512, Threads = 1, GpuLayerCount = 0 };
            using var weights = await LLamaWeights.LoadFromFileAsync(parameters, TestContext.Current.CancellationToken);
            var executor = new StatelessExecutor(weights, parameters) { ApplyTemplate = true };
            var tokens = 0;
            var sampling = new DefaultSamplingPipeline { Seed = 3 };
            await foreach (var _ in executor.InferAsync("Say something", new InferenceParams { SamplingPipeline = sampling, MaxTokens = 300 }, TestContext.Current.CancellationToken))
            {
                tokens++;
            }

            Assert.Equal(300, tokens);
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Fact]
    public async Task Random_model_with_qwen_vocabulary_size_loads_and_writes_visible_text()
    {
        var path = Path.Combine(Path.GetTempPath(), $"llmstack-vocab-{Guid.NewGuid():N}.gguf");
        try
        {
            var shape = ModelShape.Tiny() with { VocabularySize = ModelShape.Qwen25_7B.VocabularySize, TiedEmbeddings = true };
            RandomModel.Write(path, new RandomModelSpec { Shape = shape, MatrixType = GgmlType.F16, SuppressEndOfTurn = true });
            var parameters = new ModelParams(path) { ContextSize = 512, Threads = 1, GpuLayerCount = 0 };
            using var weights = await LLamaWeights.LoadFromFileAsync(parameters, TestContext.Current.CancellationToken);
            var executor = new StatelessExecutor(weights, parameters) { ApplyTemplate = true };
            var text = new StringBuilder();
            await foreach (var piece in executor.InferAsync("Say something", new InferenceParams { SamplingPipeline = new DefaultSamplingPipeline { Seed = 5 }, MaxTokens = 50 }, TestContext.Current.CancellationToken))
            {
                text.Append(piece);
            }

            Assert.Equal(152_064, weights.Vocab.Count);
            Assert.True(text.ToString().Split(' ', StringSplitOptions.RemoveEmptyEntries).Length >= 25, $"Too little text: '{text}'");
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Fact]
    public void Qwen_shapes_have_the_published_parameter_counts()
    {
        Assert.Equal(0.49, ModelShape.Qwen25_0_5B.ParameterCount(151_936) / 1e9, 2);
        Assert.Equal(1.54, ModelShape.Qwen25_1_5B.ParameterCount(151_936) / 1e9, 2);
        Assert.Equal(3.09, ModelShape.Qwen25_3B.ParameterCount(151_936) / 1e9, 2);
        Assert.Equal(7.62, ModelShape.Qwen25_7B.ParameterCount(152_064) / 1e9, 2);
    }

    [Fact]
    public void Reply_pieces_are_distinct_and_rebuild_the_reply()
    {
        var pieces = ScriptedModel.Pieces(GeneratedModels.HostileReply);

        Assert.Equal(GeneratedModels.HostileReply, string.Concat(pieces));
        Assert.Equal(pieces.Count, pieces.Distinct(StringComparer.Ordinal).Count());
    }

    [Fact]
    public void Writer_aligns_tensor_data_to_32_bytes()
    {
        var writer = new GgufWriter()
            .Add("general.architecture", "llama")
            .Add("general.alignment_probe", new[] { "a", "bc" })
            .AddTensor("a", GgmlType.F32, [3], (_, v) => v.Fill(1f))
            .AddTensor("b", GgmlType.F16, [5], (_, v) => v.Fill(2f));
        using var stream = new MemoryStream();

        writer.WriteTo(stream);

        Assert.Equal(0, stream.Length % GgufWriter.Alignment);
        Assert.Equal(64, writer.TensorDataLength);
        Assert.Equal("GGUF"u8.ToArray(), stream.ToArray()[..4]);
    }

    private static async Task<string> GenerateAsync(string path, string prompt, ISamplingPipeline sampling, int maxTokens)
    {
        var parameters = new ModelParams(path) { ContextSize = 512, Threads = 1, GpuLayerCount = 0 };
        using var weights = await LLamaWeights.LoadFromFileAsync(parameters, TestContext.Current.CancellationToken);
        var executor = new StatelessExecutor(weights, parameters) { ApplyTemplate = true };
        var reply = new StringBuilder();
        await foreach (var piece in executor.InferAsync(prompt, new InferenceParams { SamplingPipeline = sampling, MaxTokens = maxTokens }, TestContext.Current.CancellationToken))
        {
            reply.Append(piece);
        }
        return reply.ToString();
    }
}
