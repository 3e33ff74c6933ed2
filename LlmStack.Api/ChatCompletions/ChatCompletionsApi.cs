using LlmStack.Api.Backends;
using LlmStack.Api.Contracts;
using LlmStack.Api.Endpoints;
using Microsoft.AspNetCore.Http.HttpResults;

namespace LlmStack.Api.ChatCompletions;

/// <summary><c>POST /v1/chat/completions</c>, streaming and not, in OpenAI's wire format.</summary>
internal static class ChatCompletionsApi
{
    public static RouteGroupBuilder MapChatCompletionsApi(this IEndpointRouteBuilder app)
    {
        var api = app.MapGroup("/v1").WithTags("Chat completions");
        api.MapPost("/chat/completions", CreateChatCompletion)
            .WithName(nameof(CreateChatCompletion))
            .CallsModel("chat")
            .WithSummary("Creates a model response for the given chat conversation; streams it as server-sent events when stream is true.")
            .ProducesModelCall<ChatCompletionRequest, ChatCompletion, ChatCompletionChunk>();
        return api;
    }

    public static async Task<Results<JsonHttpResult<ChatCompletion>, SseResult>> CreateChatCompletion(HttpContext context, ModelCalls calls)
    {
        var (call, body) = await calls.StartAsync(context, ApiJsonContext.Default.ChatCompletionRequest, b => b.Model);
        var request = body.ToChatRequest(call.Model, call.MaxOutputTokens);
        var reply = await call.SendAsync(request.Messages, request.Options, request.Stream);

        var completion = CompletionIdentity.New("chatcmpl-", call.Model.Id);
        return reply.Stream is { } stream
            ? new SseResult(stream, new ChatCompletionEvents(completion, request.IncludeUsage, call.Outcome, LlmStackChatOptions.ChoicesOf(request.Options)))
            : TypedResults.Json(reply.Response!.ToChatCompletion(completion, LlmStackChatOptions.LogprobsOf(request.Options) is not null), ApiJsonContext.Default.ChatCompletion);
    }
}
