using LlmStack.Api.Backends;
using LlmStack.Api.Configuration;
using LlmStack.Api.Contracts;
using LlmStack.Api.Errors;
using LlmStack.Api.Models;
using LlmStack.Api.Pipeline;
using LlmStack.Api.Telemetry;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.Extensions.Options;

namespace LlmStack.Api.ChatCompletions;

/// <summary><c>POST /v1/chat/completions</c>, streaming and not, in OpenAI's wire format.</summary>
internal static class ChatCompletionsApi
{
    public static RouteGroupBuilder MapChatCompletionsApi(this IEndpointRouteBuilder app)
    {
        var api = app.MapGroup("/v1").WithTags("Chat completions");
        api.MapPost("/chat/completions", CreateChatCompletion)
            .WithName(nameof(CreateChatCompletion))
            .WithSummary("Creates a model response for the given chat conversation; streams it as server-sent events when stream is true.")
            // The handler reads the body itself (JsonBody: 400s that name the field), so the document is told its shape.
            .Accepts<ChatCompletionRequest>("application/json")
            .Produces<ChatCompletion>(StatusCodes.Status200OK, "application/json", "text/event-stream")
            .AddOpenApiOperationTransformer(async (operation, context, cancellationToken) =>
            {
                // One status, two bodies: a JSON completion, or (stream: true) a server-sent event per chunk.
                if (operation.Responses?["200"].Content?["text/event-stream"] is { } stream)
                {
                    stream.Schema = await context.GetOrCreateSchemaAsync(typeof(ChatCompletionChunk), cancellationToken: cancellationToken);
                }
            })
            .ProducesOpenAIErrors(StatusCodes.Status400BadRequest, StatusCodes.Status404NotFound, StatusCodes.Status413PayloadTooLarge,
                StatusCodes.Status429TooManyRequests, StatusCodes.Status502BadGateway, StatusCodes.Status503ServiceUnavailable, StatusCodes.Status504GatewayTimeout);
        return api;
    }

    public static async Task<Results<JsonHttpResult<ChatCompletion>, ChatCompletionStream>> CreateChatCompletion(
        HttpContext context, ModelCatalog catalog, RequestTelemetry telemetry, IOptions<LlmStackOptions> options)
    {
        var outcome = telemetry.Start(context, "chat");
        var body = await JsonBody.ReadAsync(context.Request, ApiJsonContext.Default.ChatCompletionRequest);
        var pipeline = catalog.Find(body.Model);
        var client = outcome.Track(pipeline);
        var request = body.ToChatRequest(pipeline.Model, options.Value.MaxOutputTokens);
        outcome.Stream = request.Stream;
        outcome.Received(request.Messages);

        var id = ChatResponseMapping.NewCompletionId();
        var created = DateTimeOffset.UtcNow.ToUnixTimeSeconds();
        var model = pipeline.Model.Id;
        // RequestAborted: a client that disconnects cancels the generation and frees the model's slot.
        var cancellationToken = context.RequestAborted;

        if (!request.Stream)
        {
            var response = await client.GetResponseAsync(request.Messages, request.Options, cancellationToken);
            return TypedResults.Json(response.ToChatCompletion(id, created, model), ApiJsonContext.Default.ChatCompletion);
        }

        var updates = client.GetStreamingResponseAsync(request.Messages, request.Options, cancellationToken).GetAsyncEnumerator(cancellationToken);
        try
        {
            // Nothing is sent before the first update: until then a failure is still an ordinary error response.
            var hasFirst = await updates.MoveNextAsync();
            return new ChatCompletionStream(updates, hasFirst, id, created, model, request.IncludeUsage, outcome);
        }
        catch
        {
            await updates.DisposeAsync();
            throw;
        }
    }
}
