using LlmStack.AppHost.Compose;
using LlmStack.AppHost.Hosting;

var builder = DistributedApplication.CreateBuilder(args);
// --publisher compose --output-path <dir>: a Docker Compose project from this same model (Compose/).
builder.AddComposePublishing();

// Ollama runs where Ollama:Mode says (auto by default) and pulls Ollama:Model; null when there is no Ollama,
// in which case the API serves its built-in demo model.
var model = builder.AddOllamaForLlmStack();

var api = builder.AddProject<Projects.LlmStack_Api>("api")
    .WithUrlForEndpoint("http", url => url.DisplayText = "OpenAI-compatible API")
    // Ready = every model answers; what waits for the API waits for that, not just for the process.
    .WithHttpHealthCheck("/readyz");
if (model is not null && !builder.IsComposePublishing())
{
    // The API reads its models from configuration; waiting for the model means waiting for the download.
    api.WithOllamaModel(model)
        .WaitFor(model);
}

var web = builder.AddProject<Projects.LlmStack_Web>("web")
    .WithUrlForEndpoint("http", url => url.DisplayText = "Chat")
    .WithHttpHealthCheck("/healthz")
    .WithReference(api)
    .WaitFor(api);

if (builder.IsComposePublishing())
{
    // What the model connects to differs per compose profile (Ollama, vLLM, a GGUF), so the deployment says it per profile.
    builder.AddComposeDeployment(api, web, model!);
}

builder.ApplyOtlpExportSetting();

builder.Build().Run();
