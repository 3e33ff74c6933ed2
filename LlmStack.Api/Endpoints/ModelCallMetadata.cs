using LlmStack.Api.Contracts;

namespace LlmStack.Api.Endpoints;

/// <summary>Declares, for the OpenAPI document, what an endpoint answers: its bodies and its error statuses in OpenAI's envelope.</summary>
internal static class ModelCallMetadata
{
    /// <summary>
    /// The statuses of every call to a model: 400 (a bad request), 404 (no such model), 413 (body too large), 429 (the
    /// key's budget), 502/503/504 (the backend failed, is unavailable or overloaded, or did not answer in time).
    /// </summary>
    public static readonly int[] ModelCallErrors =
    [
        StatusCodes.Status400BadRequest, StatusCodes.Status404NotFound, StatusCodes.Status413PayloadTooLarge,
        StatusCodes.Status429TooManyRequests, StatusCodes.Status502BadGateway, StatusCodes.Status503ServiceUnavailable,
        StatusCodes.Status504GatewayTimeout,
    ];

    /// <summary>
    /// A model call that answers <typeparamref name="TResponse"/> as JSON, or (<c>stream: true</c>) server-sent events of
    /// <typeparamref name="TEvent"/>; takes a <typeparamref name="TRequest"/> (the handler reads the body itself, with
    /// 400s that name the field, so the document is told its shape); fails with <see cref="ModelCallErrors"/>.
    /// </summary>
    public static RouteHandlerBuilder ProducesModelCall<TRequest, TResponse, TEvent>(this RouteHandlerBuilder endpoint) where TRequest : notnull =>
        endpoint
            .Accepts<TRequest>("application/json")
            .Produces<TResponse>(StatusCodes.Status200OK, "application/json", "text/event-stream")
            .AddOpenApiOperationTransformer(async (operation, context, cancellationToken) =>
            {
                // One status, two bodies: the JSON answer, or one server-sent event per step.
                if (operation.Responses?["200"].Content?["text/event-stream"] is { } stream)
                {
                    stream.Schema = await context.GetOrCreateSchemaAsync(typeof(TEvent), cancellationToken: cancellationToken);
                }
            })
            .ProducesOpenAIErrors(ModelCallErrors);

    /// <summary>
    /// Marks an endpoint that calls a model: each request to it has an outcome from the start, recorded whatever its
    /// ending (<see cref="ModelCallExtensions.UseModelCallOutcomes"/>).
    /// </summary>
    /// <param name="operation"><c>gen_ai.operation.name</c>: <c>chat</c>, <c>responses</c>, <c>text_completion</c>, <c>embeddings</c>, ...</param>
    public static RouteHandlerBuilder CallsModel(this RouteHandlerBuilder endpoint, string operation) =>
        endpoint.WithMetadata(new ModelOperation(operation));

    public static RouteHandlerBuilder ProducesOpenAIErrors(this RouteHandlerBuilder endpoint, params int[] statusCodes)
    {
        foreach (var status in statusCodes)
        {
            endpoint.Produces<ErrorResponse>(status, "application/json");
        }
        return endpoint;
    }
}
