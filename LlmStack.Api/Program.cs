using LlmStack.Api.Access;
using LlmStack.Api.Backends;
using LlmStack.Api.ChatCompletions;
using LlmStack.Api.Embeddings;
using LlmStack.Api.Errors;
using LlmStack.Api.Limits;
using LlmStack.Api.Models;
using LlmStack.Api.Telemetry;

var builder = WebApplication.CreateBuilder(args);

builder.AddServiceDefaults();
builder.AddModelBackends();
builder.AddModelCatalog();
builder.AddChatTelemetry();
builder.AddApiKeys();
builder.AddRequestLimits();

var app = builder.Build();

app.UseRequestIds();
app.UseOpenAIErrors();
app.UseRequestLimits();
app.UseApiKeys();

app.MapDefaultEndpoints(metricsPolicy: ApiKeyDefaults.MetricsPolicy);
// Every OpenAI endpoint goes into this group: API keys and per-key budgets apply to each of them.
var api = app.MapOpenAIApi();
api.MapChatCompletionsApi();
api.MapModelsApi();
api.MapEmbeddingsApi();

app.Run();
