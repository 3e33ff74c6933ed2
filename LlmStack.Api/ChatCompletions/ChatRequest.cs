using Microsoft.Extensions.AI;

namespace LlmStack.Api.ChatCompletions;

/// <summary>What a valid chat completion request asks of a model, in Microsoft.Extensions.AI's terms.</summary>
internal sealed record ChatRequest(List<ChatMessage> Messages, ChatOptions Options, bool Stream, bool IncludeUsage);
