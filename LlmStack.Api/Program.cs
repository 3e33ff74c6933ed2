using LlmStack.Api;

var builder = WebApplication.CreateBuilder(args);

// Services, middleware and endpoints are listed in LlmStackApi.cs, shared with the hosts of the tests and benchmarks.
builder.AddLlmStackApi();

var app = builder.Build();

app.UseLlmStackApi();

app.Run();
