using System.Net;
using System.Runtime.InteropServices;
using LlmStack.Tests.Fixtures;

// Ollama's protocol on port 11434 of every address, the way the ollama/ollama image serves it, with the models
// given as arguments already pulled; pulls of any other model complete at once.
await using var server = await OllamaTestServer.StartAsync(new IPEndPoint(IPAddress.Any, 11434), args);
server.FinishPulls();
Console.WriteLine($"Ollama stand-in listening on {server.Endpoint} with {string.Join(", ", args)}");

var stop = new TaskCompletionSource();
using var terminate = PosixSignalRegistration.Create(PosixSignal.SIGTERM, context =>
{
    context.Cancel = true;
    stop.TrySetResult();
});
using var interrupt = PosixSignalRegistration.Create(PosixSignal.SIGINT, context =>
{
    context.Cancel = true;
    stop.TrySetResult();
});
await stop.Task;
