using System.CommandLine;
using LlmStack.Benchmarks;
using LlmStack.Benchmarks.Hosting;
using LlmStack.Benchmarks.Hub;
using LlmStack.Benchmarks.Load;
using LlmStack.Benchmarks.Overhead;
using LlmStack.Benchmarks.Pipeline;
using LlmStack.Benchmarks.Schemas;
using LlmStack.Benchmarks.Soak;
using LlmStack.Benchmarks.Tuning;
using LlmStack.Benchmarks.Versus;

var root = new RootCommand("LlmStack load benchmark: time to first token, inter-token latency and tokens/s, over HTTP and in-process.")
{
    LoadCommand.Create(),
    ApiCommand.Create(),
    ConversationCommand.Create(),
    OverheadCommand.Create(),
    PipelineCommand.Create(),
    TuneCommand.Create(),
    SoakCommand.Create(),
    DownloadCommand.Create(),
    VersusCommand.Create(),
    SweepCommand.Create(),
    SchemasCommand.Create(),
    KvSpanCommand.Create(),
};
try
{
    return await root.Parse(args).InvokeAsync(new InvocationConfiguration { EnableDefaultExceptionHandler = false });
}
catch (BenchmarkException ex)
{
    Console.Error.WriteLine($"error: {ex.Message}");
    return 1;
}
