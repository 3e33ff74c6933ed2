using Microsoft.Extensions.AI;

namespace LlmStack.Api.ChatCompletions;

/// <summary>What a valid chat completion request asks of a model, in Microsoft.Extensions.AI's terms.</summary>
internal sealed record ChatRequest(List<ChatMessage> Messages, ChatOptions Options, bool Stream, bool IncludeUsage);

/// <summary>What every chunk (or the whole completion) of one reply carries: its id, creation time and model.</summary>
internal sealed record CompletionIdentity(string Id, long Created, string Model);
