using LlmStack.Api.Contracts;

namespace LlmStack.Api.Errors;

/// <summary>Declares, for the OpenAPI document, the error statuses an endpoint answers in OpenAI's envelope.</summary>
internal static class OpenAIErrorMetadata
{
    public static RouteHandlerBuilder ProducesOpenAIErrors(this RouteHandlerBuilder endpoint, params int[] statusCodes)
    {
        foreach (var status in statusCodes)
        {
            endpoint.Produces<ErrorResponse>(status, "application/json");
        }
        return endpoint;
    }
}
