using LlmStack.Api.Backends;
using LlmStack.Api.Configuration;
using LlmStack.Api.Contracts;
using LlmStack.Api.Errors;
using LlmStack.Api.Models;
using LlmStack.Api.OpenApi;
using LlmStack.Api.Pipeline;
using LlmStack.Api.Telemetry;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.Extensions.Options;

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
            .WithSummary("Creates a model response; streams it as server-sent events (event: + data: lines) when stream is true.")
            // The handler reads the body itself (JsonBody: 400s that name the field), so the document is told its shape.
            .Accepts<CreateResponseRequest>("application/json")
            .Produces<ResponseObject>(StatusCodes.Status200OK, "application/json", "text/event-stream")
            .AddOpenApiOperationTransformer(async (operation, context, cancellationToken) =>
            {
                // One status, two bodies: the response object, or (stream: true) one server-sent event per step.
                if (operation.Responses?["200"].Content?["text/event-stream"] is { } stream)
                {
                    stream.Schema = await context.GetOrCreateSchemaAsync(typeof(ResponseStreamEvent), cancellationToken: cancellationToken);
                }
            })
            .ProducesOpenAIErrors(StatusCodes.Status400BadRequest, StatusCodes.Status404NotFound, StatusCodes.Status413PayloadTooLarge,
                StatusCodes.Status429TooManyRequests, StatusCodes.Status502BadGateway, StatusCodes.Status503ServiceUnavailable, StatusCodes.Status504GatewayTimeout);
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

    public static async Task<Results<JsonHttpResult<ResponseObject>, ResponseEventStream>> CreateResponse(
        HttpContext context, ModelCatalog catalog, ResponseStore store, RequestTelemetry telemetry, IOptions<LlmStackOptions> options)
    {
        var outcome = telemetry.Start(context, "responses");
        var body = await JsonBody.ReadAsync(context.Request, ApiJsonContext.Default.CreateResponseRequest);
        ResponseRequestMapping.Validate(body);
        var pipeline = catalog.Find(body.Model);
        var model = pipeline.Model;
        var client = outcome.Track(pipeline);
        var cancellationToken = context.RequestAborted;
        var history = body.PreviousResponseId is { } previousId
            ? (await store.GetAsync(previousId, cancellationToken) ?? throw PreviousNotFound(previousId)).Conversation
            : [];
        var request = body.ToResponseRequest(model, history, options.Value.MaxOutputTokens);
        outcome.Stream = request.Stream;
        outcome.Received(request.Messages);

        var template = new ResponseObject
        {
            Id = ResponseOutput.NewId("resp"),
            CreatedAt = DateTimeOffset.UtcNow.ToUnixTimeSeconds(),
            Status = "in_progress",
            Model = model.Id,
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
            ? store.SaveAsync(new StoredResponse(final, [.. history, .. request.Input, .. final.Output]), token)
            : Task.CompletedTask;

        if (!request.Stream)
        {
            var reply = await client.GetResponseAsync(request.Messages, request.Options, cancellationToken);
            var output = new ResponseOutput(outcome);
            output.Add(reply);
            output.Complete();
            var final = output.ToResponse(template);
            await Completed(final, cancellationToken);
            return TypedResults.Json(final, ApiJsonContext.Default.ResponseObject);
        }

        var updates = client.GetStreamingResponseAsync(request.Messages, request.Options, cancellationToken).GetAsyncEnumerator(cancellationToken);
        try
        {
            // Nothing is sent before the first update: until then a failure is still an ordinary error response.
            var hasFirst = await updates.MoveNextAsync();
            return new ResponseEventStream(updates, hasFirst, template, Completed, outcome);
        }
        catch
        {
            await updates.DisposeAsync();
            throw;
        }
    }

    public static async Task<JsonHttpResult<ResponseObject>> GetResponse(string id, ResponseStore store, CancellationToken cancellationToken) =>
        await store.GetAsync(id, cancellationToken) is { } stored
            ? TypedResults.Json(stored.Response, ApiJsonContext.Default.ResponseObject)
            : throw NotFound(id);

    public static async Task<JsonHttpResult<ResponseDeleted>> DeleteResponse(string id, ResponseStore store, CancellationToken cancellationToken) =>
        await store.DeleteAsync(id, cancellationToken)
            ? TypedResults.Json(new ResponseDeleted(id), ApiJsonContext.Default.ResponseDeleted)
            : throw NotFound(id);

    private static ApiErrorException NotFound(string id) =>
        new(StatusCodes.Status404NotFound, "invalid_request_error", $"No response found with id '{id}'.", "response_not_found", "response_id");

    private static ApiErrorException PreviousNotFound(string id) =>
        new(StatusCodes.Status404NotFound, "invalid_request_error",
            $"Previous response with id '{id}' not found: it was never stored (store: false), was deleted, or has expired.",
            "previous_response_not_found", "previous_response_id");
}
