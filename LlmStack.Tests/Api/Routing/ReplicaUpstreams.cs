using LlmStack.Api.Configuration;
using LlmStack.Gguf;
using LlmStack.Tests.Fixtures;

namespace LlmStack.Tests.Api.Routing;

/// <summary>
/// Upstreams for routing tests that say who answered: each serves, as model <see cref="UpstreamModel"/>, a scripted model
/// whose reply names it ("Alpha answers." ...), so the reply tells which replica served a request.
/// </summary>
internal static class ReplicaUpstreams
{
    public const string UpstreamModel = "replica";

    private static readonly string Directory = System.IO.Directory.CreateTempSubdirectory("llmstack-replicas-").FullName;

    /// <summary>The reply of replica <paramref name="name"/>: ends by itself, or (<paramref name="loop"/>) goes on until max_tokens.</summary>
    public static string ReplyOf(string name, bool loop = false) => loop ? $"{name} keeps talking. " : $"{name} answers.";

    /// <summary>A GGUF whose reply is <see cref="ReplyOf"/>, written once per name.</summary>
    public static string ModelFile(string name, bool loop = false)
    {
        var path = Path.Combine(Directory, $"{name}{(loop ? "-loop" : "")}.gguf");
        lock (Directory)
        {
            if (!File.Exists(path))
            {
                ScriptedModel.Write(path, new ScriptedModelSpec(ReplyOf(name, loop)) { Loop = loop });
            }
        }
        return path;
    }

    /// <summary>An in-process API on a loopback port serving replica <paramref name="name"/>.</summary>
    public static ApiApplication InProcess(string name) =>
        new([new ModelOptions { Id = UpstreamModel, Backend = "embedded", Path = ModelFile(name) }]);

    /// <summary>The settings of an API process serving replica <paramref name="name"/>.</summary>
    public static Dictionary<string, string> ProcessSettings(string name, bool loop) => new()
    {
        ["LlmStack:Models:0:Id"] = UpstreamModel,
        ["LlmStack:Models:0:Backend"] = "embedded",
        ["LlmStack:Models:0:Path"] = ModelFile(name, loop),
    };

    /// <summary>Which of <paramref name="names"/> wrote <paramref name="text"/>; null when none did.</summary>
    public static string? Speaker(string text, IEnumerable<string> names) =>
        names.FirstOrDefault(name => text.Contains(name, StringComparison.Ordinal));
}
