using LlmStack.Api.Access;
using LlmStack.Api.Backends.Embedded;
using LlmStack.Api.Backends.Ollama;
using LlmStack.Api.Backends.OpenAI;
using LlmStack.Api.ChatCompletions;
using LlmStack.Api.Completions;
using LlmStack.Api.Embeddings;
using LlmStack.Api.Endpoints;
using LlmStack.Api.Limits;
using LlmStack.Api.Models;
using LlmStack.Api.OpenApi;
using LlmStack.Api.Pipeline;
using LlmStack.Api.Reranking;
using LlmStack.Api.Responses;
using LlmStack.Api.Telemetry;

namespace LlmStack.Api;

/// <summary>
/// The API's table of contents: what it registers, in which order its middleware runs, and what it maps.
/// Program.cs calls these two methods; so do the tests and benchmarks that host the API in-process, so every
/// host is composed exactly alike.
/// </summary>
public static class LlmStackApi
{
    public static WebApplicationBuilder AddLlmStackApi(this WebApplicationBuilder builder)
    {
        builder.AddServiceDefaults();
        builder.AddOpenAIErrors();
        // Where a model can run (LlmStack:Models:<n>:Backend).
        builder.AddOllamaBackend();
        builder.AddOpenAIBackend();
        builder.AddEmbeddedBackend();
        builder.AddModelCatalog();
        builder.AddChatTelemetry();
        builder.AddModelCalls();
        builder.AddResponses();
        builder.AddApiKeys();
        builder.AddRequestLimits();
        builder.AddApiDocument();
        return builder;
    }

    public static WebApplication UseLlmStackApi(this WebApplication app)
    {
        app.UseRequestIds();
        app.UseOpenAIErrors();
        // Before the drain and the keys, so that their refusals are recorded like any other ending of a model call.
        app.UseModelCallOutcomes();
        app.UseRequestLimits();
        app.UseApiKeys();

        // /readyz details (backend URLs, upstream errors) only for a caller with a key.
        app.MapDefaultEndpoints(metricsPolicy: ApiKeyDefaults.MetricsPolicy, readinessDetailsPolicy: ApiKeyDefaults.Policy);
        app.MapApiDocument();
        // Every OpenAI endpoint goes into this group: API keys and per-key budgets apply to each of them.
        var api = app.MapOpenAIApi();
        api.MapChatCompletionsApi();
        api.MapResponsesApi();
        api.MapCompletionsApi();
        api.MapModelsApi();
        api.MapEmbeddingsApi();
        api.MapTokenizeApi();
        api.MapRerankApi();
        return app;
    }
}
