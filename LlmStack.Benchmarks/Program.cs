using System.CommandLine;
using LlmStack.Benchmarks.Hosting;
using LlmStack.Benchmarks.Load;
using LlmStack.Benchmarks.Overhead;
using LlmStack.Benchmarks.Tuning;

var root = new RootCommand("LlmStack load benchmark: time to first token, inter-token latency and tokens/s, over HTTP and in-process.")
{
    LoadCommand.Create(),
    ApiCommand.Create(),
    OverheadCommand.Create(),
    TuneCommand.Create(),
};
return await root.Parse(args).InvokeAsync();
