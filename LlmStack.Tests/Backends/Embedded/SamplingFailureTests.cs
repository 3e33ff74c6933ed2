using System.Text;
using LLama.Native;
using LLama.Sampling;
using LlmStack.Api.Backends.Embedded.Batching;
using LlmStack.Gguf;
using LlmStack.Tests.Fixtures;
using Microsoft.Extensions.AI;

namespace LlmStack.Tests.Backends.Embedded;

/// <summary>
/// Sampling belongs to one request (its grammar, its settings): a failure there, inside the batch loop, ends that
/// request with the error while the others sharing its decode steps finish exactly, and the model serves on.
/// </summary>
public sealed class SamplingFailureTests(GeneratedModels models)
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(60);

    private static CancellationToken Cancel => TestContext.Current.CancellationToken;

    [Fact]
    public async Task Sampling_failure_in_the_batch_loop_ends_only_its_own_request()
    {
        using var model = LoadedModel.Load(models.Looping, parallelSlots: 4, contextSize: 512);
        var options = new ChatOptions { MaxOutputTokens = 30 };
        var others = Enumerable.Range(0, 3).Select(i => model.Client.GetResponseAsync($"Stream {i}", options, Cancel)).ToList();
        var failure = new InvalidOperationException("No token of the model fits the request's grammar here.");
        var prompt = model.Host.Weights.Tokenize("A request whose sampling fails", true, false, Encoding.UTF8);
        var failing = model.Host.Scheduler.Submit(
            new GenerationRequest(prompt, new FailingSampling(new DefaultSamplingPipeline(), afterTokens: 5, failure), null, 30), Cancel);

        var texts = new StringBuilder();
        var error = await Assert.ThrowsAsync<InvalidOperationException>(async () =>
        {
            await foreach (var generated in failing.Events.ReadAllAsync(Cancel))
            {
                texts.Append(((TextGenerated)generated).Text);
            }
        }).WaitAsync(Timeout, Cancel);
        var replies = await Task.WhenAll(others).WaitAsync(Timeout, Cancel);

        Assert.Same(failure, error);
        Assert.True(texts.Length > 0, "the failing request streamed its first tokens before the failure");
        var pieces = ScriptedModel.Pieces(GeneratedModels.LoopingReply);
        var expected = string.Concat(Enumerable.Range(0, 30).Select(i => pieces[i % pieces.Count]));
        Assert.All(replies, reply =>
        {
            Assert.Equal(expected, reply.Text);
            Assert.Equal(ChatFinishReason.Length, reply.FinishReason);
        });
        await failing.Ended.WaitAsync(Timeout, Cancel);
        Assert.Equal(4, model.Host.Scheduler.Free);
        var next = await model.Client.GetResponseAsync("After the failure", new ChatOptions { MaxOutputTokens = 5 }, Cancel).WaitAsync(Timeout, Cancel);
        Assert.Equal(5, next.Usage!.OutputTokenCount);
    }

    // A request's own sampling that works for some tokens and then throws, as a grammar with no way on would.
    private sealed class FailingSampling(DefaultSamplingPipeline inner, int afterTokens, Exception failure) : ISamplingPipeline
    {
        private int _sampled;

        public LLamaToken Sample(SafeLLamaContextHandle ctx, int index) =>
            ++_sampled > afterTokens ? throw failure : inner.Sample(ctx, index);

        public void Apply(SafeLLamaContextHandle ctx, LLamaTokenDataArray data) => inner.Apply(ctx, data);

        public void Accept(LLamaToken token) => inner.Accept(token);

        public void Reset() => inner.Reset();

        public void Dispose() => inner.Dispose();
    }
}
