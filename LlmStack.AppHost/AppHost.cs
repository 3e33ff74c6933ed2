using LlmStack.AppHost.Compose;
using LlmStack.AppHost.Hosting;

var builder = DistributedApplication.CreateBuilder(args);
// --publisher compose --output-path <dir>: a Docker Compose project from this same model (Compose/).
builder.AddComposePublishing();

// Ollama runs where Ollama:Mode says (auto by default) and pulls Ollama:Model; null when there is no Ollama,
// in which case the API runs Embedded:Model in-process (a GGUF from Hugging Face), or else its built-in demo model.
var model = builder.AddOllamaForLlmStack();

// One key the API accepts and the Web sends: the API is never open, even where its port can be reached.
var apiKey = builder.AddLlmStackApiKey();
// The chat page's administrator signs in with it, and adds the other users.
var adminPassword = builder.AddWebAdminPassword();

var api = builder.AddProject<Projects.LlmStack_Api>("api")
    .WithAcceptedApiKey(apiKey)
    .WithUrlForEndpoint("http", url => url.DisplayText = "OpenAI-compatible API")
    // Healthy = the API answers (liveness), not /readyz: while a model downloads - minutes for 4.7 GB - the API
    // already serves /v1/models and answers chats for it with 503 "model is loading" and Retry-After, so what
    // waits for the API must not wait for the download. The model's own resource shows the download's progress.
    .WithHttpHealthProbe("/healthz")
    // Embedded:LlamaCppLibraries: a llama.cpp build for this CPU, for the API's embedded models.
    .WithLlamaCppLibraries();
// Api:Replicas (default 1): that many API processes behind the API's one address, sharing key budgets and stored
// responses through a Redis added for them.
var replicaRedis = api.WithConfiguredReplicas();
if (model is not null && !builder.IsComposePublishing())
{
    // No WaitFor(model): the API starts at once and reports the model as loading until Ollama has it.
    api.WithOllamaModel(model);
}
// Likewise the embedded model: the API serves it at once and downloads it; its resource shows the download.
var embeddedModel = model is null ? builder.AddEmbeddedModelForLlmStack(api, apiKey) : null;

var web = builder.AddProject<Projects.LlmStack_Web>("web")
    .WithUrlForEndpoint("http", url => url.DisplayText = "Chat")
    .WithHttpHealthProbe("/healthz")
    .WithReference(api)
    .WithApiKey(apiKey)
    .WithAdminPassword(adminPassword)
    .WithConfiguredDataDirectory()
    // The Web's one real dependency is an API that answers; the chat page shows a model download and enables
    // sending once the model is there.
    .WaitFor(api);
if (model is not null)
{
    web.WithModelDownloadLink(model);
}
else if (embeddedModel is not null)
{
    web.WithModelDownloadLink(embeddedModel);
}

if (builder.IsComposePublishing())
{
    // What the model connects to differs per compose profile (Ollama, vLLM, a GGUF), so the deployment says it per profile.
    builder.AddComposeDeployment(api, web, model!, apiKey, replicaRedis);
}

builder.ApplyOtlpExportSetting();
// Once each is up, where it is and where its key (or password) is, on the console.
builder.PrintConnectionHints(api, apiKey, web, adminPassword);

builder.Build().Run();
