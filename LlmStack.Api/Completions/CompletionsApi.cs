using LlmStack.Api.Backends;
using LlmStack.Api.Contracts;
using LlmStack.Api.Endpoints;
using Microsoft.AspNetCore.Http.HttpResults;

namespace LlmStack.Api.Completions;

/// <summary>
/// <c>POST /v1/completions</c>: OpenAI's text completions, streaming and not - a raw prompt continued by the model,
/// without a chat template. The same call path as chat (keys, budgets, limits, metrics, the log line); only the
/// wire shapes differ.
/// </summary>
internal static class CompletionsApi
{
    public static RouteGroupBuilder MapCompletionsApi(this IEndpointRouteBuilder app)
    {
        var api = app.MapGroup("/v1").WithTags("Completions");
        api.MapPost("/completions", CreateCompletion)
            .WithName(nameof(CreateCompletion))
            .CallsModel("text_completion")
            .WithSummary("Continues the given prompt as written (no chat template); streams the text as server-sent events when stream is true.")
            .ProducesModelCall<CompletionRequest, TextCompletion, TextCompletion>();
        return api;
    }

    public static async Task<Results<JsonHttpResult<TextCompletion>, SseResult>> CreateCompletion(HttpContext context, ModelCalls calls)
    {
        var (call, body) = await calls.StartAsync(context, ApiJsonContext.Default.CompletionRequest, b => b.Model);
        var request = body.ToCompletionCall(call.MaxOutputTokens);
        var reply = await call.SendAsync(request.Messages, request.Options, request.Stream);

        var completion = CompletionIdentity.New("cmpl-", call.Model.Id);
        return reply.Stream is { } stream
            ? new SseResult(stream, new CompletionEvents(completion, request, call.Outcome, LlmStackChatOptions.ChoicesOf(request.Options)))
            : TypedResults.Json(reply.Response!.ToTextCompletion(completion, request), ApiJsonContext.Default.TextCompletion);
    }
}
