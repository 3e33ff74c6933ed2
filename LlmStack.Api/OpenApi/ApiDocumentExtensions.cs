using LlmStack.Api.Contracts;

namespace LlmStack.Api.OpenApi;

/// <summary>
/// The API's OpenAPI document at <c>/openapi/v1.json</c>, built from the endpoints' own metadata (names,
/// summaries, request and response types, error statuses), so tools and SDK generators can read the API.
/// </summary>
internal static class ApiDocumentExtensions
{
    public const string DocumentPath = "/openapi/{documentName}.json";

    public static IHostApplicationBuilder AddApiDocument(this IHostApplicationBuilder builder)
    {
        // The document describes the wire types as the contract serializes them (snake_case, strict numbers); every
        // body is written with the contract's own type information, so these options only shape the document.
        builder.Services.ConfigureHttpJsonOptions(json =>
        {
            var contract = ApiJsonContext.Default.Options;
            json.SerializerOptions.PropertyNamingPolicy = contract.PropertyNamingPolicy;
            json.SerializerOptions.DefaultIgnoreCondition = contract.DefaultIgnoreCondition;
            json.SerializerOptions.NumberHandling = contract.NumberHandling;
            json.SerializerOptions.TypeInfoResolverChain.Insert(0, ApiJsonContext.Default);
        });
        builder.Services.AddOpenApi(openApi => openApi.AddDocumentTransformer((document, _, _) =>
        {
            document.Info.Title = "LlmStack API";
            document.Info.Description = "An OpenAI-compatible API (chat completions, models, embeddings) in front of Ollama, any OpenAI-compatible server, or llama.cpp in-process.";
            return Task.CompletedTask;
        }));
        return builder;
    }

    public static IEndpointRouteBuilder MapApiDocument(this IEndpointRouteBuilder app)
    {
        app.MapOpenApi(DocumentPath);
        return app;
    }
}
