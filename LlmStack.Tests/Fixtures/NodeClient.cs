using System.Diagnostics;
using System.Reflection;
using System.Text.Json;

namespace LlmStack.Tests.Fixtures;

/// <summary>
/// Runs one scenario of a script in <c>Node/</c> (official npm clients: <c>openai</c>, <c>@langchain/openai</c>) against an
/// API and returns the JSON object it prints: what that client observed. The build restores the scripts'
/// node_modules with <c>npm ci</c> from the lock file.
/// </summary>
internal static class NodeClient
{
    private static readonly TimeSpan Timeout = TimeSpan.FromMinutes(2);

    private static readonly string ScriptDirectory = typeof(NodeClient).Assembly
        .GetCustomAttributes<AssemblyMetadataAttribute>().Single(a => a.Key == "NodeClientDirectory").Value!;

    public static async Task<JsonElement> RunAsync(string script, string scenario, Uri openAIEndpoint)
    {
        var start = new ProcessStartInfo("node", [script, scenario, openAIEndpoint.ToString()])
        {
            WorkingDirectory = ScriptDirectory,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        using var node = Process.Start(start) ?? throw new InvalidOperationException("node did not start");
        var output = node.StandardOutput.ReadToEndAsync(TestContext.Current.CancellationToken);
        var errors = node.StandardError.ReadToEndAsync(TestContext.Current.CancellationToken);
        try
        {
            await node.WaitForExitAsync(TestContext.Current.CancellationToken).WaitAsync(Timeout, TestContext.Current.CancellationToken);
        }
        finally
        {
            if (!node.HasExited)
            {
                node.Kill(entireProcessTree: true);
            }
        }
        Assert.True(node.ExitCode == 0, $"node {script} {scenario} exited with {node.ExitCode}: {await errors}");
        return JsonDocument.Parse(await output).RootElement;
    }
}
