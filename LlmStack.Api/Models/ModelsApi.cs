using LlmStack.Api.Backends;
using LlmStack.Api.Contracts;
using LlmStack.Api.Errors;
using LlmStack.Api.Pipeline;
using Microsoft.AspNetCore.Http.HttpResults;

namespace LlmStack.Api.Models;

/// <summary><c>GET /v1/models</c> and <c>GET /v1/models/{id}</c> in OpenAI's list/object shapes.</summary>
internal static class ModelsApi
{
    public static RouteGroupBuilder MapModelsApi(this IEndpointRouteBuilder app)
    {
        var api = app.MapGroup("/v1/models").WithTags("Models");
        api.MapGet("/", ListModels)
            .WithName(nameof(ListModels))
            .WithSummary("Lists the models this server serves, with the backend each runs on.")
            .Produces<ModelList>(StatusCodes.Status200OK, "application/json");
        // Model ids contain ':' and '/' (qwen2.5:7b, org/model): a catch-all takes the rest of the path.
        api.MapGet("/{**id}", GetModel)
            .WithName(nameof(GetModel))
            .WithSummary("Describes one model.")
            .Produces<ModelObject>(StatusCodes.Status200OK, "application/json")
            .ProducesOpenAIErrors(StatusCodes.Status404NotFound);
        return api;
    }

    public static JsonHttpResult<ModelList> ListModels(ModelCatalog catalog) =>
        TypedResults.Json(new ModelList { Data = [.. catalog.Models.Select(ToModelObject)] }, ApiJsonContext.Default.ModelList);

    public static JsonHttpResult<ModelObject> GetModel(string id, ModelCatalog catalog) =>
        catalog.TryGet(id, out var pipeline)
            ? TypedResults.Json(ToModelObject(pipeline.Model), ApiJsonContext.Default.ModelObject)
            : throw ApiErrorException.ModelNotFound(id);

    private static ModelObject ToModelObject(ServedModel model) => new()
    {
        Id = model.Id,
        Created = model.Created,
        // Clients that only read OpenAI's fields still see that the demo model is no real model.
        OwnedBy = model.IsDemo ? "llmstack-demo" : model.OwnedBy,
        Backend = model.Backend,
        Demo = model.IsDemo ? true : null,
        ContextLength = model.ContextLength,
    };
}
