var builder = DistributedApplication.CreateBuilder(args);

var api = builder.AddProject<Projects.LlmStack_Api>("api");

builder.AddProject<Projects.LlmStack_Web>("web")
    .WithReference(api)
    .WaitFor(api);

builder.Build().Run();
