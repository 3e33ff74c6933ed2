using LlmStack.Api.Backends;
using LlmStack.Api.ChatCompletions;
using LlmStack.Api.Embeddings;
using LlmStack.Api.Errors;
using LlmStack.Api.Models;
using LlmStack.Api.Telemetry;

var builder = WebApplication.CreateBuilder(args);

builder.AddServiceDefaults();
builder.AddModelBackends();
builder.AddModelCatalog();
builder.AddChatTelemetry();

var app = builder.Build();

app.UseRequestIds();
app.UseOpenAIErrors();

app.MapDefaultEndpoints();
app.MapChatCompletionsApi();
app.MapModelsApi();
app.MapEmbeddingsApi();

app.Run();
