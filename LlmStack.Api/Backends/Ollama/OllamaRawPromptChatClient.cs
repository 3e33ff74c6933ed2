using System.Runtime.CompilerServices;
using Microsoft.Extensions.AI;
using OllamaSharp;
using OllamaSharp.Models;

namespace LlmStack.Api.Backends.Ollama;

/// <summary>
/// A text completion (<see cref="LlmStackChatOptions.RawPromptKey"/>) through Ollama's <c>/api/generate</c>: the prompt
/// in raw mode (no template), or, with a suffix, in the model's own fill-in-the-middle template (Ollama needs the
/// template for that and refuses a model that has none). A chat goes on to <c>/api/chat</c> as before.
/// Log probabilities asked for (<see cref="LlmStackChatOptions.LogprobsKey"/>) are asked of Ollama (<c>logprobs</c>,
/// <c>top_logprobs</c>), and the <c>logprobs</c> of each line come back as <see cref="TokenLogprobsContent"/>: Ollama's
/// numbers, as it computes them.
/// </summary>
internal sealed class OllamaRawPromptChatClient(IChatClient inner, IOllamaApiClient ollama) : RawPromptChatClient(inner)
{
    protected override async IAsyncEnumerable<ChatResponseUpdate> StreamAsync(
        RawPrompt raw, ChatOptions? options, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        var request = ToGenerateRequest(raw, options);
        var created = DateTimeOffset.UtcNow;
        await foreach (var chunk in ollama.GenerateAsync(request, cancellationToken))
        {
            if (chunk is null)
            {
                continue;
            }
            var update = new ChatResponseUpdate(ChatRole.Assistant, chunk.Response)
            {
                ModelId = chunk.Model,
                CreatedAt = created,
                RawRepresentation = chunk,
            };
            if (request.Logprobs == true && chunk.Logprobs?.ToList() is { Count: > 0 } logprobs)
            {
                update.Contents.Add(new TokenLogprobsContent(OllamaLogprobs.Read(logprobs)));
            }
            if (chunk is GenerateDoneResponseStream done)
            {
                update.FinishReason = done.DoneReason == "length" ? ChatFinishReason.Length : ChatFinishReason.Stop;
                update.Contents.Add(new UsageContent(new UsageDetails
                {
                    InputTokenCount = done.PromptEvalCount,
                    OutputTokenCount = done.EvalCount,
                    TotalTokenCount = done.PromptEvalCount + done.EvalCount,
                }));
            }
            yield return update;
        }
    }

    private GenerateRequest ToGenerateRequest(RawPrompt raw, ChatOptions? options)
    {
        var properties = options?.AdditionalProperties;
        var request = new GenerateRequest
        {
            Model = options?.ModelId ?? ollama.SelectedModel,
            Prompt = raw.Prompt,
            Raw = raw.Suffix is null,
            Stream = true,
            KeepAlive = properties?.TryGetValue("keep_alive", out var keepAlive) == true ? keepAlive as string : null,
            Options = new RequestOptions
            {
                NumPredict = options?.MaxOutputTokens,
                Temperature = options?.Temperature,
                TopP = options?.TopP,
                TopK = options?.TopK,
                PresencePenalty = options?.PresencePenalty,
                FrequencyPenalty = options?.FrequencyPenalty,
                Seed = options?.Seed is { } seed ? unchecked((int)seed) : null,
                Stop = options?.StopSequences is { Count: > 0 } stops ? [.. stops] : null,
                NumCtx = properties?.TryGetValue(OllamaOption.NumCtx.Name, out var numCtx) == true ? numCtx as int? : null,
            },
        };
        if (raw.Suffix is { } suffix)
        {
            request.Suffix = suffix;
        }
        if (LlmStackChatOptions.LogprobsOf(options) is { } top)
        {
            request.Logprobs = true;
            request.TopLogprobs = top;
        }
        return request;
    }
}
