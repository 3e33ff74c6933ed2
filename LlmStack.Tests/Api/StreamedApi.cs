using LlmStack.Tests.Api.Responses;

namespace LlmStack.Tests.Api;

/// <summary>
/// Every endpoint that streams a model's reply, described once so that the tests of how a stream ends (the drain, the
/// time limit, a backend failure) run for each of them alike: a new streamed endpoint is one entry in <see cref="All"/>.
/// </summary>
internal sealed record StreamedApi(string Name, string Path, Func<string, string> StreamingBody, Func<string, string> Body)
{
    public static readonly IReadOnlyList<StreamedApi> All =
    [
        new("chat", "/v1/chat/completions",
            model => $$"""{"model":"{{model}}","stream":true,"messages":[{"role":"user","content":"Hi"}]}""",
            model => $$"""{"model":"{{model}}","messages":[{"role":"user","content":"Hi"}]}"""),
        new("responses", "/v1/responses",
            model => $$"""{"model":"{{model}}","stream":true,"input":"Hi"}""",
            model => $$"""{"model":"{{model}}","input":"Hi"}"""),
        new("completions", "/v1/completions",
            model => $$"""{"model":"{{model}}","stream":true,"prompt":"Hi"}""",
            model => $$"""{"model":"{{model}}","prompt":"Hi"}"""),
    ];

    /// <summary>The names of <see cref="All"/>, for <c>[MemberData]</c>.</summary>
    public static TheoryData<string> Names => [.. All.Select(api => api.Name)];

    public static StreamedApi Of(string name) => All.Single(api => api.Name == name);

    /// <summary>
    /// The error a finished stream ended with, read the way this API's clients read it (asserting the stream's own
    /// shape of a failed end), or null when it ended normally.
    /// </summary>
    public ErrorEnvelope? EndError(string body)
    {
        if (Name == "responses")
        {
            var (type, data) = ResponsesWireTests.Events(body)[^1];
            if (type != "response.failed")
            {
                Assert.True(type is "response.completed" or "response.incomplete", $"the stream ended with {type}");
                return null;
            }
            var response = data.GetProperty("response");
            Assert.Equal("failed", response.GetProperty("status").GetString());
            var error = response.GetProperty("error");
            return new ErrorEnvelope(error.GetProperty("message").GetString()!, "server_error", null, error.GetProperty("code").GetString());
        }
        var events = ChatCompletionsWireTests.SseEvents(body);
        Assert.Equal("[DONE]", events[^1]);
        return events[^2].StartsWith("{\"error\"", StringComparison.Ordinal) ? ErrorEnvelope.Parse(events[^2]) : null;
    }

    /// <summary>Whether <paramref name="body"/> holds the model's text <paramref name="text"/> (a delta of it).</summary>
    public static bool Carries(string body, string text) => body.Contains(text, StringComparison.Ordinal);

    public override string ToString() => Name;
}
