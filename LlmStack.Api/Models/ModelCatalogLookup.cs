using LlmStack.Api.Errors;
using Microsoft.Extensions.AI;

namespace LlmStack.Api.Models;

internal static class ModelCatalogLookup
{
    /// <summary>The model a request names and its chat pipeline; 400 when <c>model</c> is missing, 404 when unknown.</summary>
    public static (ServedModel Model, IChatClient ChatClient) Find(this ModelCatalog catalog, string? id)
    {
        if (string.IsNullOrEmpty(id))
        {
            throw ApiErrorException.InvalidRequest("Missing required parameter: 'model'.", "model", "missing_required_parameter");
        }
        return catalog.TryGet(id, out var model, out var chatClient) ? (model, chatClient) : throw ApiErrorException.ModelNotFound(id);
    }
}
