namespace LlmStack.Benchmarks.Soak;

/// <summary>
/// How a stream that ran to its end ends, by API: chat completions and completions with <c>data: [DONE]</c>; the
/// Responses API, which has no <c>[DONE]</c>, with its final state's event - <c>response.completed</c>, or
/// <c>response.incomplete</c> when cut by length (a failure is <c>response.failed</c>).
/// </summary>
public static class StreamEnd
{
    public const string Done = "data: [DONE]";

    /// <summary>Whether a stream to <paramref name="path"/> whose last <c>event:</c> and <c>data:</c> lines are these ran to its end.</summary>
    public static bool Completed(string path, string? lastEvent, string? lastData) => path == "/v1/responses"
        ? lastEvent is "event: response.completed" or "event: response.incomplete"
        : lastData == Done;
}
