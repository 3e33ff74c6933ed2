using LlmStack.Api.Access;
using LlmStack.Api.Configuration;
using LlmStack.Api.Contracts;
using LlmStack.Api.Endpoints;
using LlmStack.Api.Errors;
using LlmStack.Api.OpenApi;
using LlmStack.Api.Pipeline;
using LlmStack.Api.Telemetry;
using Microsoft.AspNetCore.Http.HttpResults;

namespace LlmStack.Api.Responses;

/// <summary>
/// OpenAI's Responses API: <c>POST /v1/responses</c> (streaming and not), <c>GET</c> and <c>DELETE
/// /v1/responses/{id}</c>. A response runs through the same model pipeline as a chat completion - same metrics,
/// log line, limits, timeouts and errors; only the wire shapes differ.
/// </summary>
internal static class ResponsesApi
{
    public static RouteGroupBuilder MapResponsesApi(this IEndpointRouteBuilder app)
    {
        var api = app.MapGroup("/v1/responses").WithTags("Responses");
        api.MapPost("", CreateResponse)
            .WithName(nameof(CreateResponse))
            .CallsModel("responses")
            .WithSummary("Creates a model response; streams it as server-sent events (event: + data: lines) when stream is true.")
            .ProducesModelCall<CreateResponseRequest, ResponseObject, ResponseStreamEvent>();
        api.MapGet("/{id}", GetResponse)
            .WithName(nameof(GetResponse))
            .WithSummary("Retrieves a stored response.")
            .Produces<ResponseObject>(StatusCodes.Status200OK, "application/json")
            .ProducesOpenAIErrors(StatusCodes.Status404NotFound);
        api.MapDelete("/{id}", DeleteResponse)
            .WithName(nameof(DeleteResponse))
            .WithSummary("Deletes a stored response.")
            .Produces<ResponseDeleted>(StatusCodes.Status200OK, "application/json")
            .ProducesOpenAIErrors(StatusCodes.Status404NotFound);
        return api;
    }

    public static async Task<Results<JsonHttpResult<ResponseObject>, SseResult>> CreateResponse(
        HttpContext context, ModelCalls calls, ResponseStore store, ApiKeyDirectory keys)
    {
        var owner = keys.Of(context.User)?.Name;
        var (call, body) = await calls.StartAsync(context, ApiJsonContext.Default.CreateResponseRequest, b => b.Model);
        ResponseRequestMapping.Validate(body);
        var history = body.PreviousResponseId is { } previousId
            ? (await store.GetAsync(previousId, owner, call.Aborted) ?? throw PreviousNotFound(previousId)).Conversation
            : [];
        var request = body.ToResponseRequest(call.Model, history, call.MaxOutputTokens);
        var id = ResponseOutput.NewId("resp");
        // The replica that served the previous response serves this one while it can (its prefix cache holds the conversation).
        var reply = await call.SendAsync(request.Messages, request.Options, request.Stream, new ConversationTurn(body.PreviousResponseId, id));

        var template = new ResponseObject
        {
            Id = id,
            CreatedAt = DateTimeOffset.UtcNow.ToUnixTimeSeconds(),
            Status = "in_progress",
            Model = call.Model.Id,
            Output = [],
            Instructions = body.Instructions,
            MaxOutputTokens = body.MaxOutputTokens,
            Temperature = body.Temperature,
            TopP = body.TopP,
            ParallelToolCalls = body.ParallelToolCalls ?? true,
            PreviousResponseId = body.PreviousResponseId,
            Store = request.Store,
            Text = body.Text?.Format is null ? new ResponseTextOptions { Format = new ResponseTextFormat { Type = "text" } } : body.Text,
            ToolChoice = body.ToolChoice is { ValueKind: not (System.Text.Json.JsonValueKind.Null or System.Text.Json.JsonValueKind.Undefined) } choice ? choice : ResponseObject.AutoToolChoice,
            Tools = body.Tools ?? [],
            User = body.User,
            Metadata = body.Metadata ?? [],
        };

        // Kept with the conversation so far, for GET and for a later previous_response_id.
        Task Completed(ResponseObject final, CancellationToken token) => request.Store
            ? store.SaveAsync(new StoredResponse(final, [.. history, .. request.Input, .. final.Output], owner), token)
            : Task.CompletedTask;

        if (reply.Stream is { } stream)
        {
            return new SseResult(stream, new ResponseStreamEvents(template, Completed, call.Outcome));
        }
        var output = new ResponseOutput(call.Outcome);
        output.Add(reply.Response!);
        output.Complete();
        var final = output.ToResponse(template);
        await Completed(final, call.Aborted);
        return TypedResults.Json(final, ApiJsonContext.Default.ResponseObject);
    }

    // Another key's response is not found: its existence is not told either.
    public static async Task<JsonHttpResult<ResponseObject>> GetResponse(
        string id, HttpContext context, ResponseStore store, ApiKeyDirectory keys, CancellationToken cancellationToken) =>
        await store.GetAsync(id, keys.Of(context.User)?.Name, cancellationToken) is { } stored
            ? TypedResults.Json(stored.Response, ApiJsonContext.Default.ResponseObject)
            : throw NotFound(id);

    public static async Task<JsonHttpResult<ResponseDeleted>> DeleteResponse(
        string id, HttpContext context, ResponseStore store, ApiKeyDirectory keys, CancellationToken cancellationToken) =>
        await store.DeleteAsync(id, keys.Of(context.User)?.Name, cancellationToken)
            ? TypedResults.Json(new ResponseDeleted(id), ApiJsonContext.Default.ResponseDeleted)
            : throw NotFound(id);

    private static ApiErrorException NotFound(string id) =>
        new(StatusCodes.Status404NotFound, "invalid_request_error", $"No response found with id '{id}'.", "response_not_found", "response_id");

    private static ApiErrorException PreviousNotFound(string id) =>
        new(StatusCodes.Status404NotFound, "invalid_request_error",
            $"Previous response with id '{id}' not found: it was never stored (store: false), was deleted, or has expired.",
            "previous_response_not_found", "previous_response_id");
}
