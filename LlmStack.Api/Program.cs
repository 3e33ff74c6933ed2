using LlmStack.Api.Backends;
using LlmStack.Api.Models;

var builder = WebApplication.CreateBuilder(args);

builder.AddServiceDefaults();
builder.AddModelBackends();
builder.AddModelCatalog();

var app = builder.Build();

app.MapDefaultEndpoints();

app.Run();
